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
 * is not in the input. About 37 ms per crop on one core of the 2-core dev machine (the median in JS,
 * the other filters in libvips through sharp).
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
    const raw = { raw: { width: CROP_SIZE, height: CROP_SIZE, channels: 3 as const } };
    // The common 3×3 case in JS: identical output, 2.4× faster than libvips' rank filter (median3.ts).
    const denoised = o.denoise === 3 ? median3x3(crop, CROP_SIZE, CROP_SIZE, 3) : await sharp(crop, raw).median(o.denoise).raw().toBuffer();
    const [soft, low] = await Promise.all([
      sharp(denoised, raw).blur(o.sharpenSigma).raw().toBuffer(),
      sharp(denoised, raw)
        .resize(o.contrastScale, o.contrastScale, { kernel: 'cubic' })
        .raw()
        .toBuffer()
        .then((small) => sharp(small, { raw: { width: o.contrastScale, height: o.contrastScale, channels: 3 } }).resize(CROP_SIZE, CROP_SIZE, { kernel: 'linear' }).raw().toBuffer()),
    ]);
    const s = 1 - (1 - o.minStrength) * w;
    const out = new Uint8Array(crop.length);
    for (let i = 0; i < crop.length; i++) {
      const d = denoised[i]!;
      const enhanced = d + o.sharpenAmount * (d - soft[i]!) + o.contrastAmount * (d - low[i]!);
      const v = crop[i]! + s * (enhanced - crop[i]!);
      out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
    return out;
  }

  async close(): Promise<void> {}
}
