import { FaceRestoreError } from '../errors.ts';
import type { Device } from '../types.ts';
import { ClassicRestorer } from './classicRestorer.ts';
import { OnnxRestorer } from './onnxRestorer.ts';
import type { Restorer } from './restorer.ts';

/** Options for createRestorer. */
export interface RestorerChoice {
  kind: 'classic' | 'onnx' | 'none';
  model?: string;
  device?: Device;
  batch?: number;
  intraOpThreads?: number;
  /** ORT idle threads busy-wait (OrtModelOptions.threadSpinning). Default true. */
  threadSpinning?: boolean;
  cacheDir?: string;
  onWarning?: (message: string) => void;
  onInfo?: (message: string) => void;
}

/** Builds the chosen restorer; `none` gives undefined (frames pass through unrestored). */
export async function createRestorer(c: RestorerChoice): Promise<Restorer | undefined> {
  if (c.kind === 'none') return undefined;
  if (c.kind === 'classic') return new ClassicRestorer();
  if (!c.model) throw new FaceRestoreError('E_CONFIG', 'the onnx restorer needs a model file');
  let model = c.model;
  if (/\.(pth|pt|ckpt)$/i.test(model)) {
    const { onnxForCheckpoint } = await import('./checkpointModel.ts');
    model = await onnxForCheckpoint(model, { cacheDir: c.cacheDir, fp16: c.device === 'cuda', onInfo: c.onInfo });
  }
  return OnnxRestorer.create(model, { device: c.device, batch: c.batch, intraOpThreads: c.intraOpThreads, threadSpinning: c.threadSpinning, onWarning: c.onWarning });
}
