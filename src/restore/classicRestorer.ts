import sharp from 'sharp';
import { CROP_SIZE } from '../types.ts';
import { median3x3 } from './median3.ts';
import { checkRestoreArgs, type Restorer } from './restorer.ts';

/** Tuning of the classic restorer; sizes are in pixels of the 512 crop. */
export interface ClassicRestorerOptions {
  /** Median filter size for denoising (odd). Default 3. */
  denoise?: number;
  /** Gaussian sigma of the detail layer that gets sharpened. Default 2.5. */
  sharpenSigma?: number;
  /** Gain of the detail layer. Default 1.2. */
  sharpenAmount?: number;
  /** Side of the low-pass image for local contrast (the crop shrunk to this and blown back up). Default 24. */
  contrastScale?: number;
  /** Gain of local contrast (difference to the low-pass image). Default 0.35. */
  contrastAmount?: number;
  /** Share of the enhancement that remains at w = 1 (at w = 0 all of it). Default 0.4. */
  minStrength?: number;
}

/**
 * A non-learned face restorer: median denoise, then an unsharp mask (detail layer) and local contrast
 * (difference to a heavily low-passed copy) on the aligned crop, mixed with the input by the fidelity
 * weight: out = in + s·(enhanced − in), s = 1 − (1 − minStrength)·w. It is the default when no model is
 * given, so the pipeline shows a visible, honest result without learned weights; it adds no detail that
 * is not in the input. About 22 ms per 512 crop on one core of the 2-core dev machine (median and mix in
 * JS, blur and downscale in libvips through sharp; 46 ms with every filter in libvips).
 */
export class ClassicRestorer implements Restorer {
  readonly name = 'classic (median denoise + unsharp mask + local contrast; not a learned model)';
  readonly maxBatch = 16;
  readonly #o: Required<ClassicRestorerOptions>;

  constructor(options: ClassicRestorerOptions = {}) {
    this.#o = { denoise: 3, sharpenSigma: 2.5, sharpenAmount: 1.2, contrastScale: 24, contrastAmount: 0.35, minStrength: 0.4, ...options };
  }

  async restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    checkRestoreArgs(crops, weights);
    return Promise.all(crops.map((c, i) => this.#one(c, weights[i]!)));
  }

  async #one(crop: Uint8Array, w: number): Promise<Uint8Array> {
    const o = this.#o;
    const N = CROP_SIZE;
    const S = o.contrastScale;
    const raw = { raw: { width: N, height: N, channels: 3 as const } };
    // The common 3×3 case in JS: identical output, ~3× faster than libvips' rank filter (median3.ts).
    const denoised = o.denoise === 3 ? median3x3(crop, N, N, 3) : await sharp(crop, raw).median(o.denoise).raw().toBuffer();
    const [soft, small] = await Promise.all([
      sharp(denoised, raw).blur(o.sharpenSigma).raw().toBuffer(),
      sharp(denoised, raw).resize(S, S, { kernel: 'cubic' }).raw().toBuffer(),
    ]);
    // out = in + s·(enhanced − in) with enhanced = d + A·(d − soft) + B·(d − low), folded into four weights.
    const s = 1 - (1 - o.minStrength) * w;
    const kIn = 1 - s;
    const kD = s * (1 + o.sharpenAmount + o.contrastAmount);
    const kSoft = s * o.sharpenAmount;
    const kLow = s * o.contrastAmount;
    // The low-pass image is `small` blown back up bilinearly (pixel centres aligned, edges clamped), computed
    // row by row inside the mix instead of as a separate 512² image.
    const { index: xi, frac: xf } = bilinearTaps(S, N);
    const { index: yi, frac: yf } = bilinearTaps(S, N);
    const row = new Float32Array(S * 3);
    const out = new Uint8Array(crop.length);
    for (let y = 0; y < N; y++) {
      const r0 = yi[y]! * S * 3;
      const r1 = Math.min(yi[y]! + 1, S - 1) * S * 3;
      const fy = yf[y]!;
      for (let k = 0; k < S * 3; k++) row[k] = small[r0 + k]! + (small[r1 + k]! - small[r0 + k]!) * fy;
      let p = y * N * 3;
      for (let x = 0; x < N; x++, p += 3) {
        const c0 = xi[x]! * 3;
        const c1 = c0 + (xi[x]! + 1 < S ? 3 : 0);
        const fx = xf[x]!;
        const base = kIn * crop[p]! + kD * denoised[p]! - kSoft * soft[p]!;
        const v0 = base - kLow * (row[c0]! + (row[c1]! - row[c0]!) * fx);
        const base1 = kIn * crop[p + 1]! + kD * denoised[p + 1]! - kSoft * soft[p + 1]!;
        const v1 = base1 - kLow * (row[c0 + 1]! + (row[c1 + 1]! - row[c0 + 1]!) * fx);
        const base2 = kIn * crop[p + 2]! + kD * denoised[p + 2]! - kSoft * soft[p + 2]!;
        const v2 = base2 - kLow * (row[c0 + 2]! + (row[c1 + 2]! - row[c0 + 2]!) * fx);
        out[p] = v0 <= 0 ? 0 : v0 >= 255 ? 255 : (v0 + 0.5) | 0;
        out[p + 1] = v1 <= 0 ? 0 : v1 >= 255 ? 255 : (v1 + 0.5) | 0;
        out[p + 2] = v2 <= 0 ? 0 : v2 >= 255 ? 255 : (v2 + 0.5) | 0;
      }
    }
    return out;
  }

  async close(): Promise<void> {}
}

/** For each of `to` output positions, the source index and weight of bilinear sampling from `from` positions. */
function bilinearTaps(from: number, to: number): { index: Int32Array; frac: Float32Array } {
  const index = new Int32Array(to);
  const frac = new Float32Array(to);
  for (let i = 0; i < to; i++) {
    const t = Math.min(from - 1, Math.max(0, ((i + 0.5) * from) / to - 0.5));
    index[i] = Math.floor(t);
    frac[i] = t - index[i]!;
  }
  return { index, frac };
}
