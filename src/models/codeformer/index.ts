/**
 * CodeFormer checkpoint → ONNX, in TypeScript: read the official `codeformer.pth` (zip or legacy torch
 * format, through a safe pickle subset), infer the architecture from its tensors, and write an ONNX graph
 * with inputs `x` float32 [N,3,512,512] in [-1,1] and `w` float32 [N] and output `out` float32 [N,3,512,512].
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { FaceRestoreError } from '../../errors.ts';
import { inferArch, type CodeFormerArch } from './arch.ts';
import { fileProblem, openCheckpoint, sha256File, type Checkpoint } from '../checkpoint.ts';
import { cachedGraph } from '../graphCache.ts';
import { buildCodeFormerGraph, type GraphOptions, type WeightMap } from './graph.ts';
import { recogniseKind, type CodeFormerKind } from './kind.ts';

export type { CodeFormerArch } from './arch.ts';
export type { GraphOptions } from './graph.ts';
export { inferArch } from './arch.ts';
export { CODEFORMER_KINDS, KIND_CALL, parseKind, recogniseKind, type CodeFormerKind } from './kind.ts';
export { openCheckpoint } from '../checkpoint.ts';
export { buildRandomCodeFormer, officialShapes, type RandomModelOptions } from './random.ts';

/** Size and sha256 of the official `codeformer.pth` (CodeFormer v0.1.0 release). */
export const OFFICIAL_CHECKPOINT = {
  bytes: 376_637_898,
  sha256: '1009e537e0c2a07d4cabce6355f53cb66767cd4b4297ec7a4a64ca4b8a5684b7',
} as const;

/** Options for {@link buildCodeFormerOnnx}. */
export interface BuildOptions extends GraphOptions {
  /** Transformer heads (a state dict does not record them). Default 8, the official value. */
  nHead?: number;
}

/** A checkpoint's architecture and weights, read and checked. */
export interface LoadedCodeFormer {
  arch: CodeFormerArch;
  weights: WeightMap;
  format: Checkpoint['format'];
  stateDictKey: string;
}

/**
 * Reads a CodeFormer checkpoint: opens it, infers and checks the architecture, and reads every weight as
 * float32. Errors: E_MODEL_MISSING (no file), E_CHECKPOINT (not a checkpoint, damaged, unsafe pickle,
 * or a state dict that does not fit CodeFormer — the message names the first tensor at fault).
 */
export async function loadCodeFormerCheckpoint(checkpointPath: string, options: { nHead?: number } = {}): Promise<LoadedCodeFormer> {
  const ckpt = await openCheckpoint(checkpointPath);
  try {
    const shapes = new Map<string, readonly number[]>();
    for (const t of ckpt.tensors.values()) shapes.set(t.name, t.shape);
    const arch = inferArch(shapes, { nHead: options.nHead, source: `checkpoint ${checkpointPath}` });
    const weights = new Map<string, Float32Array>();
    for (const name of ckpt.tensors.keys()) weights.set(name, await ckpt.read(name));
    return { arch, weights, format: ckpt.format, stateDictKey: ckpt.stateDictKey };
  } finally {
    await ckpt.close();
  }
}

/**
 * Builds the ONNX model of a CodeFormer checkpoint: the forward call of its kind (`options.kind`, default
 * recognised from the shapes; see kind.ts): restoration `net(x, w=w, adain=True)`, inpainting
 * `net(x, w=1, adain=False)`, colorization `net(x, w=0, adain=True)`.
 * @param checkpointPath a `.pth` file: `{params_ema: state_dict}`, `{params: …}` or a bare state dict.
 * @param options `fp16` for float16 weights/activations (CUDA); `extraOutputs` adds `logits`, `lq_feat`
 *   and `top_idx` outputs for parity checks.
 * @returns the model bytes (about 376 MB for the official float32 weights).
 */
export async function buildCodeFormerOnnx(checkpointPath: string, options: BuildOptions = {}): Promise<Uint8Array> {
  const { arch, weights } = await loadCodeFormerCheckpoint(checkpointPath, { nHead: options.nHead });
  return buildCodeFormerGraph(arch, weights, { ...options, kind: options.kind ?? recogniseKind(arch) });
}

/**
 * Size and sha256 of a checkpoint, and whether it is the official `codeformer.pth`.
 * Errors: E_MODEL_MISSING when the file does not exist; E_CHECKPOINT for a folder or an unreadable file.
 */
export async function verifyCheckpoint(checkpointPath: string): Promise<{ sha256: string; bytes: number; official: boolean }> {
  let info;
  try {
    info = await stat(checkpointPath);
  } catch (e) {
    throw new FaceRestoreError('E_MODEL_MISSING', `checkpoint ${checkpointPath}: ${fileProblem(e)}`, { cause: e });
  }
  if (info.isDirectory()) throw new FaceRestoreError('E_CHECKPOINT', `checkpoint ${checkpointPath}: is a directory, not a checkpoint file`);
  if (!info.isFile()) throw new FaceRestoreError('E_CHECKPOINT', `checkpoint ${checkpointPath}: is not a regular file`);
  const { sha256, bytes } = await sha256File(checkpointPath).catch((e: unknown) => {
    throw new FaceRestoreError('E_CHECKPOINT', `checkpoint ${checkpointPath}: cannot be read: ${fileProblem(e)}`, { cause: e });
  });
  return { sha256, bytes, official: sha256 === OFFICIAL_CHECKPOINT.sha256 && bytes === OFFICIAL_CHECKPOINT.bytes };
}

/** Options for {@link loadOrBuildCached}. */
export interface CacheOptions {
  /** Folder for built models (created when missing). */
  cacheDir: string;
  /** Build the float16 variant. Default false. */
  fp16?: boolean;
  /** Transformer heads. Default 8. */
  nHead?: number;
  /** Forward call to build; default recognised from the checkpoint's shapes (kind.ts). */
  kind?: CodeFormerKind;
  /** Called when a build starts (it takes a while for the official weights). */
  onBuild?: (info: { checkpoint: string; target: string }) => void;
}

/** Version of the graph layout; part of the cache key so a changed builder never serves a stale file. */
export const GRAPH_VERSION = 2;

/**
 * Path of the ONNX model built from `checkpointPath`, building it on first use. The cache key is the
 * checkpoint's sha256 (plus precision and builder version): `codeformer-<sha256[0:16]>-<fp32|fp16>[-<kind>]-v2.onnx`.
 * Writes are atomic (temporary file in the same folder, then rename), so concurrent builders and crashes
 * never leave a partial model under the final name.
 */
export async function loadOrBuildCached(checkpointPath: string, options: CacheOptions): Promise<string> {
  const { sha256 } = await verifyCheckpoint(checkpointPath);
  const precision = options.fp16 ? 'fp16' : 'fp32';
  const heads = options.nHead && options.nHead !== 8 ? `-h${options.nHead}` : '';
  // An explicit kind is part of the key; the recognised one follows from the sha256 already.
  const kind = options.kind ? `-${options.kind}` : '';
  const target = path.join(options.cacheDir, `codeformer-${sha256.slice(0, 16)}-${precision}${heads}${kind}-v${GRAPH_VERSION}.onnx`);
  return cachedGraph(
    target,
    () => buildCodeFormerOnnx(checkpointPath, { fp16: options.fp16, nHead: options.nHead, kind: options.kind }),
    () => options.onBuild?.({ checkpoint: checkpointPath, target }),
  );
}
