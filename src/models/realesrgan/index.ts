/**
 * Real-ESRGAN RRDBNet checkpoint → ONNX: read `RealESRGAN_x2plus.pth` / `RealESRGAN_x4plus.pth` (or a
 * compatible RRDBNet state dict under `params_ema`, `params` or the top level) through the safe checkpoint
 * reader, infer the architecture, and build the graph (graph.ts: x [N,3,H,W] in [0,1] → out [N,3,sH,sW]).
 */
import path from 'node:path';
import { FaceRestoreError } from '../../errors.ts';
import { fileProblem, openCheckpoint, sha256File } from '../checkpoint.ts';
import { cachedGraph } from '../graphCache.ts';
import { seededRandom } from '../seededRandom.ts';
import { inferRrdbArch, rrdbShapes, type RrdbArch } from './arch.ts';
import { buildRrdbGraph } from './graph.ts';

export { inferRrdbArch, rrdbShapes, MAX_RRDB_PARAMS, type RrdbArch } from './arch.ts';
export { buildRrdbGraph } from './graph.ts';

/** Architecture ids (as in the model registry) by scale. */
export const RRDB_ARCH_ID = { 2: 'realesrgan-rrdbnet-x2', 4: 'realesrgan-rrdbnet-x4' } as const;

/** Official RealESRGAN_x{2,4}plus widths. */
export const OFFICIAL_RRDB = { inCh: 3, outCh: 3, numFeat: 64, numBlock: 23, numGrowCh: 32 } as const;

/**
 * Reads an RRDBNet checkpoint and builds its ONNX graph. Errors: E_MODEL_MISSING, E_CHECKPOINT (not a
 * checkpoint, unsafe, or no RRDBNet: the message names the first tensor at fault).
 */
export async function buildRrdbOnnx(checkpointPath: string): Promise<{ arch: RrdbArch; bytes: Uint8Array }> {
  const ckpt = await openCheckpoint(checkpointPath);
  try {
    const shapes = new Map<string, readonly number[]>();
    for (const t of ckpt.tensors.values()) shapes.set(t.name, t.shape);
    const arch = inferRrdbArch(shapes, { source: `checkpoint ${checkpointPath}` });
    const weights = new Map<string, Float32Array>();
    for (const name of ckpt.tensors.keys()) weights.set(name, await ckpt.read(name));
    return { arch, bytes: buildRrdbGraph(arch, weights) };
  } finally {
    await ckpt.close();
  }
}

/**
 * An RRDBNet graph with seeded random weights, for timing the official sizes without the checkpoints:
 * conv weights and biases uniform in ±1/√fan_in (PyTorch's default), RDB convs ×0.1 as the official init.
 * Defaults: the official widths (64 features, 23 blocks, growth 32).
 */
export function buildRandomRrdb(options: { scale: 2 | 4; numFeat?: number; numBlock?: number; numGrowCh?: number; seed?: number }): { arch: RrdbArch; bytes: Uint8Array } {
  const shapes = rrdbShapes({ inCh: 3, outCh: 3, scale: options.scale, numFeat: options.numFeat ?? 64, numBlock: options.numBlock ?? 23, numGrowCh: options.numGrowCh ?? 32 });
  const arch = inferRrdbArch(shapes);
  const next = seededRandom(options.seed ?? 0);
  const weights = new Map<string, Float32Array>();
  let bound = 1;
  for (const [name, s] of shapes) {
    if (s.length === 4) bound = (1 / Math.sqrt(s[1]! * 9)) * (name.startsWith('body.') ? 0.1 : 1);
    const w = new Float32Array(s.reduce((x, y) => x * y, 1));
    for (let i = 0; i < w.length; i++) w[i] = (next() * 2 - 1) * bound;
    weights.set(name, w);
  }
  return { arch, bytes: buildRrdbGraph(arch, weights) };
}

/** Whether a checkpoint's state dict is laid out like an RRDBNet (has `conv_first.weight`), without reading weights. */
export async function isRrdbCheckpoint(checkpointPath: string): Promise<boolean> {
  const ckpt = await openCheckpoint(checkpointPath);
  try {
    return ckpt.tensors.has('conv_first.weight');
  } finally {
    await ckpt.close();
  }
}

/** Version of the RRDBNet graph layout; part of the cache key. */
export const RRDB_GRAPH_VERSION = 1;

/**
 * Path of the ONNX graph built from an RRDBNet checkpoint, building it on first use into `cacheDir`
 * (`rrdbnet-<sha256[0:16]>-v1.onnx`, written atomically). Errors: E_MODEL_MISSING, E_CHECKPOINT, E_OUTPUT.
 */
export async function loadOrBuildRrdbCached(checkpointPath: string, cacheDir: string, onBuild?: (target: string) => void): Promise<string> {
  const { sha256 } = await sha256File(checkpointPath).catch((e: unknown) => {
    throw new FaceRestoreError('E_MODEL_MISSING', `checkpoint ${checkpointPath}: ${fileProblem(e)}`, { cause: e });
  });
  const target = path.join(cacheDir, `rrdbnet-${sha256.slice(0, 16)}-v${RRDB_GRAPH_VERSION}.onnx`);
  return cachedGraph(target, async () => (await buildRrdbOnnx(checkpointPath)).bytes, () => onBuild?.(target));
}
