import sharp from 'sharp';
import { median3x3 } from './median3Reference.ts';

/**
 * The classic restorer's computation as it was before the worker pool and the faster kernels (commit
 * 3ded0ef, `ClassicRestorer#one` with default options), kept verbatim as the reference the new
 * implementation must reproduce byte for byte, and as the "before" of `bench/classic-restorer.ts`.
 */
export async function classicReference(crop: Uint8Array, w: number): Promise<Uint8Array> {
  const o = { denoise: 3, sharpenSigma: 2.5, sharpenAmount: 1.2, contrastScale: 24, contrastAmount: 0.35, minStrength: 0.4 };
  const N = 512;
  const S = o.contrastScale;
  const raw = { raw: { width: N, height: N, channels: 3 as const } };
  const denoised = median3x3(crop, N, N, 3);
  const [soft, small] = await Promise.all([
    sharp(denoised, raw).blur(o.sharpenSigma).raw().toBuffer(),
    sharp(denoised, raw).resize(S, S, { kernel: 'cubic' }).raw().toBuffer(),
  ]);
  const s = 1 - (1 - o.minStrength) * w;
  const kIn = 1 - s;
  const kD = s * (1 + o.sharpenAmount + o.contrastAmount);
  const kSoft = s * o.sharpenAmount;
  const kLow = s * o.contrastAmount;
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
