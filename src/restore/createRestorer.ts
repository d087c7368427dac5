import { FaceRestoreError } from '../errors.ts';
import { ClassicRestorer } from './classicRestorer.ts';
import { OnnxRestorer } from './onnxRestorer.ts';
import { sessionChoice, type OrtSessionChoice } from '../runtime/ort.ts';
import { chooseFp16, resolveDevice, type DeviceResolution } from '../runtime/devices.ts';
import type { Precision } from '../types.ts';
import type { Restorer } from './restorer.ts';

/** Options for createRestorer. */
export interface RestorerChoice extends OrtSessionChoice {
  kind: 'classic' | 'onnx' | 'none';
  model?: string;
  batch?: number;
  cacheDir?: string;
  /** Precision of the graph built from a `.pth` checkpoint (see chooseFp16). Default `auto`. Ignored for `.onnx` files. */
  precision?: Precision;
  /** The device already resolved (Components resolves once for detector and restorer); resolved here when absent. */
  resolved?: DeviceResolution;
}

/**
 * Builds the chosen restorer; `none` gives undefined (frames pass through unrestored). The classic one runs
 * on `intraOpThreads` worker threads (default the available parallelism).
 */
export async function createRestorer(c: RestorerChoice): Promise<Restorer | undefined> {
  if (c.kind === 'none') return undefined;
  if (c.kind === 'classic') return ClassicRestorer.create({ threads: c.intraOpThreads });
  if (!c.model) throw new FaceRestoreError('E_CONFIG', 'the onnx restorer needs a model file');
  const resolved = c.resolved ?? (await resolveDevice(c.device ?? 'cpu', { onInfo: c.onInfo, onWarning: c.onWarning }));
  let model = c.model;
  if (/\.(pth|pt|ckpt)$/i.test(model)) {
    const { checkpointNetwork, onnxForCheckpoint } = await import('./checkpointModel.ts');
    if ((await checkpointNetwork(model)) === 'gfpgan') {
      // GFPGAN graphs are built in float32 only; w blends the restored face with the input (models/gfpgan/graph.ts).
      if (c.precision === 'fp16') c.onWarning?.('GFPGAN graph: float16 is not built for GFPGAN; using float32');
      c.onInfo?.(`GFPGAN graph: float32 on ${resolved.provider}`);
      model = await onnxForCheckpoint(model, { cacheDir: c.cacheDir, onInfo: c.onInfo });
    } else {
      const fp16 = chooseFp16(resolved, c.precision ?? 'auto', c.onWarning);
      c.onInfo?.(`CodeFormer graph: ${fp16 ? 'float16' : 'float32'} on ${resolved.provider}`);
      model = await onnxForCheckpoint(model, { cacheDir: c.cacheDir, fp16, onInfo: c.onInfo });
    }
  }
  return OnnxRestorer.create(model, { ...sessionChoice(c), device: resolved.provider, batch: c.batch });
}
