import { CROP_SIZE, type Affine, type VideoFrame } from '../types.ts';

/**
 * The restore contract: a batch of aligned CROP_SIZE × CROP_SIZE RGB24 face crops plus one fidelity
 * weight per crop in, the same number of restored crops out, in the same order.
 */
export interface Restorer {
  /** Human-readable name, printed by the CLI so users know which restorer ran (e.g. `classic`, `onnx:codeformer.onnx`). */
  readonly name: string;
  /** Largest batch one `restore` call processes at once; the caller may pass more, which is split internally. */
  readonly maxBatch: number;
  /**
   * Restores `crops` (each CROP_SIZE² × 3 bytes, RGB24). `weights[i]` ∈ [0, 1] is crop i's fidelity
   * weight w (0: strongest restoration, 1: closest to the input). Resolves to new buffers; inputs are not modified.
   */
  restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]>;
  /**
   * Optional: restores the faces of a whole frame from their alignments (frame → crop), warping the crops itself
   * (FrameRestorer: on the device, the frame uploaded once). Same results as warping with warpToCrop and calling
   * `restore`, within the warp's rounding.
   */
  restoreFrame?(frame: VideoFrame, toCrops: readonly Affine[], weights: readonly number[]): Promise<Uint8Array[]>;
  /** Releases resources. Idempotent. */
  close(): Promise<void>;
  /**
   * The caller is done with these buffers, which `restore` resolved to: nothing reads or keeps them any more,
   * so the restorer may hand their memory out again with later results (fewer 768 KiB allocations per face,
   * which drive V8's full collections). Optional; buffers it does not recognise are ignored.
   */
  release?(outputs: readonly Uint8Array[]): void;
  /** CPU ms its own worker threads have used so far (a restorer that runs JS off the main thread says; others leave it out). */
  readonly workerCpuMs?: number;
}

/** Bytes in one crop. */
export const CROP_BYTES = CROP_SIZE * CROP_SIZE * 3;

/** Packs RGB24 crops into an NCHW float32 tensor in [-1, 1] (CodeFormer's input normalisation). */
export function cropsToNchw(crops: readonly Uint8Array[]): Float32Array {
  const plane = CROP_SIZE * CROP_SIZE;
  const out = new Float32Array(crops.length * 3 * plane);
  for (let n = 0; n < crops.length; n++) {
    const src = crops[n]!;
    const base = n * 3 * plane;
    for (let i = 0; i < plane; i++) {
      out[base + i] = src[i * 3]! / 127.5 - 1;
      out[base + plane + i] = src[i * 3 + 1]! / 127.5 - 1;
      out[base + 2 * plane + i] = src[i * 3 + 2]! / 127.5 - 1;
    }
  }
  return out;
}

/** Unpacks crop `n` of an NCHW float32 tensor in [-1, 1] into RGB24 (clamped, rounded). */
export function nchwToCrop(tensor: Float32Array | Float64Array, n: number): Uint8Array {
  const plane = CROP_SIZE * CROP_SIZE;
  const base = n * 3 * plane;
  const out = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = (tensor[base + c * plane + i]! + 1) * 127.5;
      out[i * 3 + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return out;
}

/** Checks restore() arguments; throws TypeError on misuse (programming errors, not user input). */
export function checkRestoreArgs(crops: readonly Uint8Array[], weights: readonly number[]): void {
  if (crops.length !== weights.length) throw new TypeError(`Expected one weight per crop but received ${weights.length} weights for ${crops.length} crops`);
  for (const [i, c] of crops.entries()) {
    if (c.length !== CROP_BYTES) throw new TypeError(`Expected ${CROP_BYTES} bytes for crop ${i} but received ${c.length}`);
  }
  for (const [i, w] of weights.entries()) {
    if (!(w >= 0 && w <= 1)) throw new TypeError(`Expected a number in [0, 1] for weight ${i} but received ${w}`);
  }
}
