import { FaceRestoreError } from '../errors.ts';
import { ClassicRestorer } from './classicRestorer.ts';
import { OnnxRestorer } from './onnxRestorer.ts';
import { sessionChoice, type OrtSessionChoice } from '../runtime/ort.ts';
import type { Restorer } from './restorer.ts';

/** Options for createRestorer. */
export interface RestorerChoice extends OrtSessionChoice {
  kind: 'classic' | 'onnx' | 'none';
  model?: string;
  batch?: number;
  cacheDir?: string;
  onInfo?: (message: string) => void;
}

/**
 * Builds the chosen restorer; `none` gives undefined (frames pass through unrestored). The classic one runs
 * on `intraOpThreads` worker threads (default the available parallelism).
 */
export async function createRestorer(c: RestorerChoice): Promise<Restorer | undefined> {
  if (c.kind === 'none') return undefined;
  if (c.kind === 'classic') return ClassicRestorer.create({ threads: c.intraOpThreads });
  if (!c.model) throw new FaceRestoreError('E_CONFIG', 'the onnx restorer needs a model file');
  let model = c.model;
  if (/\.(pth|pt|ckpt)$/i.test(model)) {
    const { onnxForCheckpoint } = await import('./checkpointModel.ts');
    model = await onnxForCheckpoint(model, { cacheDir: c.cacheDir, fp16: c.device === 'cuda', onInfo: c.onInfo });
  }
  return OnnxRestorer.create(model, { ...sessionChoice(c), batch: c.batch });
}
