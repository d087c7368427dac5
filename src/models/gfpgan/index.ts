/**
 * GFPGAN checkpoint → ONNX: read `GFPGANv1.3.pth` / `GFPGANv1.4.pth` (or a compatible GFPGANv1Clean state
 * dict under `params_ema`, `params` or the top level, as GFPGANer picks it) through the safe checkpoint
 * reader, infer the architecture, and build the graph (graph.ts: x [N,3,512,512] in [-1,1], w [N] →
 * out [N,3,512,512]).
 */
import path from 'node:path';
import { FaceRestoreError } from '../../errors.ts';
import { fileProblem, openCheckpoint, sha256File } from '../checkpoint.ts';
import { cachedGraph } from '../graphCache.ts';
import { seededRandom } from '../seededRandom.ts';
import { OFFICIAL_GFPGAN, archFromConfig, gfpganShapes, inferGfpganArch, looksLikeGfpgan, type GfpganArch, type GfpganConfig } from './arch.ts';
import { GFPGAN_GRAPH_VERSION, buildGfpganGraph, type GfpganGraphOptions } from './graph.ts';

export { OFFICIAL_GFPGAN, MAX_GFPGAN_PARAMS, archFromConfig, gfpganShapes, inferGfpganArch, looksLikeGfpgan, type GfpganArch, type GfpganConfig } from './arch.ts';
export { GFPGAN_GRAPH_VERSION, buildGfpganGraph, type GfpganGraphOptions } from './graph.ts';

/** A checkpoint's architecture and weights, read and checked. */
export interface LoadedGfpgan {
  arch: GfpganArch;
  weights: Map<string, Float32Array>;
  stateDictKey: string;
}

/**
 * Reads a GFPGAN checkpoint: opens it, infers and checks the architecture, reads every tensor the graph
 * uses as float32 (the unused style MLP is checked but not read). Errors: E_MODEL_MISSING, E_CHECKPOINT
 * (not a checkpoint, unsafe, or no GFPGANv1Clean: the message names the first tensor at fault).
 */
export async function loadGfpganCheckpoint(checkpointPath: string): Promise<LoadedGfpgan> {
  const ckpt = await openCheckpoint(checkpointPath);
  try {
    const shapes = new Map<string, readonly number[]>();
    for (const t of ckpt.tensors.values()) shapes.set(t.name, t.shape);
    const arch = inferGfpganArch(shapes, { source: `checkpoint ${checkpointPath}` });
    const weights = new Map<string, Float32Array>();
    for (const name of ckpt.tensors.keys()) {
      if (name.startsWith('stylegan_decoder.style_mlp.') || name.startsWith('toRGB.')) continue;
      weights.set(name, await ckpt.read(name));
    }
    return { arch, weights, stateDictKey: ckpt.stateDictKey };
  } finally {
    await ckpt.close();
  }
}

/** Reads a GFPGAN checkpoint and builds its ONNX graph (see graph.ts for the options). */
export async function buildGfpganOnnx(checkpointPath: string, options: GfpganGraphOptions = {}): Promise<{ arch: GfpganArch; bytes: Uint8Array }> {
  const { arch, weights } = await loadGfpganCheckpoint(checkpointPath);
  return { arch, bytes: buildGfpganGraph(arch, weights, options) };
}

/** Whether a checkpoint's state dict is laid out like GFPGAN's (by tensor names only), without reading weights. */
export async function isGfpganCheckpoint(checkpointPath: string): Promise<boolean> {
  const ckpt = await openCheckpoint(checkpointPath);
  try {
    return looksLikeGfpgan(ckpt.tensors.keys());
  } finally {
    await ckpt.close();
  }
}

/**
 * A GFPGANv1Clean graph with seeded random weights, for timing the official size without the checkpoint
 * (the cost does not depend on the values): conv / linear weights uniform in ±1/√fan_in, modulation biases 1,
 * noise strengths 0.1, noise maps uniform in ±1. Default: the official configuration.
 */
export function buildRandomGfpgan(options: { config?: Partial<GfpganConfig>; seed?: number } & GfpganGraphOptions = {}): { arch: GfpganArch; bytes: Uint8Array } {
  const arch = archFromConfig({ ...OFFICIAL_GFPGAN, ...options.config });
  const next = seededRandom(options.seed ?? 0);
  const weights = new Map<string, Float32Array>();
  for (const [name, s] of gfpganShapes(arch)) {
    if (name.includes('style_mlp.') || name.startsWith('toRGB.')) continue;
    const n = s.reduce((x, y) => x * y, 1);
    const w = new Float32Array(n);
    const fanIn = s.length === 5 ? s[2]! * s[3]! * s[4]! : s.length === 4 && !name.includes('noises.') ? s[1]! * s[2]! * s[3]! : s.length === 2 ? s[1]! : 1;
    if (name.endsWith('modulation.bias')) w.fill(1);
    else if (/\.(style_conv1|style_convs\.\d+)\.weight$/.test(name)) w.fill(0.1);
    else {
      const bound = name.includes('noises.') ? 1 : 1 / Math.sqrt(fanIn);
      for (let i = 0; i < n; i++) w[i] = (next() * 2 - 1) * bound;
    }
    weights.set(name, w);
  }
  return { arch, bytes: buildGfpganGraph(arch, weights, options) };
}

/**
 * Path of the ONNX graph built from a GFPGAN checkpoint, building it on first use into `cacheDir`
 * (`gfpgan-<sha256[0:16]>-v1.onnx`, written atomically). Errors: E_MODEL_MISSING, E_CHECKPOINT, E_OUTPUT.
 */
export async function loadOrBuildGfpganCached(checkpointPath: string, cacheDir: string, onBuild?: (target: string) => void): Promise<string> {
  const { sha256 } = await sha256File(checkpointPath).catch((e: unknown) => {
    throw new FaceRestoreError('E_MODEL_MISSING', `checkpoint ${checkpointPath}: ${fileProblem(e)}`, { cause: e });
  });
  const target = path.join(cacheDir, `gfpgan-${sha256.slice(0, 16)}-v${GFPGAN_GRAPH_VERSION}.onnx`);
  return cachedGraph(target, async () => (await buildGfpganOnnx(checkpointPath)).bytes, () => onBuild?.(target));
}
