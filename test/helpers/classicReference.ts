import sharp from 'sharp';
import { median3x3 } from './median3Reference.ts';

/**
 * The classic restorer's computation written plainly, pass by pass, as the oracle for its fast paths:
 * the median by its definition, sharp for the blur and the 24² cubic shrink, the low-pass image
 * upsampled bilinearly (pixel centres aligned, edges clamped; each vertical step rounded to float32 as
 * the restorer's row buffer is), then out = kIn·in + kD·d − kSoft·soft − kLow·low in float64 with the
 * restorer's weights. Default options only.
 */
export async function classicReference(crop: Uint8Array, w: number): Promise<Uint8Array> {
  const N = 512;
  const S = 24;
  const raw = { raw: { width: N, height: N, channels: 3 as const } };
  const denoised = median3x3(crop, N, N, 3);
  const soft = await sharp(denoised, raw).blur(2.5).raw().toBuffer();
  const small = await sharp(denoised, raw).resize(S, S, { kernel: 'cubic' }).raw().toBuffer();
  const low = upsampleLow(small, S, N);
  const strength = 1 - 0.6 * w;
  const weights = [1 - strength, strength * (1 + 1.2 + 0.35), strength * 1.2, strength * 0.35] as const;
  return Uint8Array.from(crop, (c, i) => {
    const v = weights[0] * c + weights[1] * denoised[i]! - weights[2] * soft[i]! - weights[3] * low[i]!;
    return v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v + 0.5);
  });
}

/** Source position of output pixel i when `from` samples are stretched over `to` (centres aligned, clamped). */
function sourcePosition(i: number, from: number, to: number): number {
  return Math.min(from - 1, Math.max(0, ((i + 0.5) * from) / to - 0.5));
}

function upsampleLow(small: Uint8Array, from: number, to: number): Float64Array {
  const low = new Float64Array(to * to * 3);
  for (let y = 0; y < to; y++) {
    const ty = sourcePosition(y, from, to);
    const y0 = Math.floor(ty);
    const y1 = Math.min(y0 + 1, from - 1);
    const fy = Math.fround(ty - y0);
    for (let x = 0; x < to; x++) {
      const tx = sourcePosition(x, from, to);
      const x0 = Math.floor(tx);
      const x1 = Math.min(x0 + 1, from - 1);
      const fx = Math.fround(tx - x0);
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number) => small[(yy * from + xx) * 3 + c]!;
        const left = Math.fround(at(y0, x0) + (at(y1, x0) - at(y0, x0)) * fy);
        const right = Math.fround(at(y0, x1) + (at(y1, x1) - at(y0, x1)) * fy);
        low[(y * to + x) * 3 + c] = left + (right - left) * fx;
      }
    }
  }
  return low;
}
