import sharp from 'sharp';
import { CROP_SIZE } from '../types.ts';
import { checkRestoreArgs, type Restorer } from './restorer.ts';

/** Tuning of the classic restorer. */
export interface ClassicRestorerOptions {
  /** Median filter size for denoising (odd, pixels of the 512 crop). Default 3. */
  denoise?: number;
  /** CLAHE tile size in crop pixels (local contrast). Default 64. */
  claheTile?: number;
  /** CLAHE contrast limit. Default 2. */
  claheSlope?: number;
  /** Unsharp-mask sigma in crop pixels. Default 1.5. */
  sharpenSigma?: number;
  /** How much of the enhancement remains at w = 1 (at w = 0 all of it). Default 0.4. */
  minStrength?: number;
}

/**
 * A non-learned face restorer: median denoise, CLAHE local contrast and an unsharp mask on the aligned
 * crop (libvips through sharp), mixed with the input by the fidelity weight:
 * out = in + s·(enhanced − in), s = 1 − (1 − minStrength)·w. It is the default when no model is given, so
 * the pipeline shows a visible, honest result without learned weights; it does not hallucinate detail.
 */
export class ClassicRestorer implements Restorer {
  readonly name = 'classic (median denoise + CLAHE + unsharp mask; not a learned model)';
  readonly maxBatch = 16;
  readonly #o: Required<ClassicRestorerOptions>;

  constructor(options: ClassicRestorerOptions = {}) {
    this.#o = { denoise: 3, claheTile: 64, claheSlope: 2, sharpenSigma: 1.5, minStrength: 0.4, ...options };
  }

  async restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    checkRestoreArgs(crops, weights);
    return Promise.all(crops.map((c, i) => this.#one(c, weights[i]!)));
  }

  async #one(crop: Uint8Array, w: number): Promise<Uint8Array> {
    const o = this.#o;
    const enhanced = await sharp(crop, { raw: { width: CROP_SIZE, height: CROP_SIZE, channels: 3 } })
      .median(o.denoise)
      .clahe({ width: o.claheTile, height: o.claheTile, maxSlope: o.claheSlope })
      .sharpen({ sigma: o.sharpenSigma, m1: 0.5, m2: 2.5 })
      .removeAlpha()
      .raw()
      .toBuffer();
    const s = 1 - (1 - o.minStrength) * w;
    const out = new Uint8Array(crop.length);
    for (let i = 0; i < crop.length; i++) out[i] = Math.round(crop[i]! + s * (enhanced[i]! - crop[i]!));
    return out;
  }

  async close(): Promise<void> {}
}
