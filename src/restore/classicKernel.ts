import sharp from 'sharp';
import { CROP_SIZE } from '../types.ts';
import { ClassicMix } from './classicMix.ts';
import { GaussBlur } from './gaussBlur.ts';
import { Median3x3 } from './median3.ts';

/** The classic restorer's tuning with every default filled in (see ClassicRestorerOptions). */
export interface ClassicParams {
  denoise: number;
  sharpenSigma: number;
  sharpenAmount: number;
  contrastScale: number;
  contrastAmount: number;
  minStrength: number;
}

/** Defaults of ClassicRestorerOptions. */
export const CLASSIC_DEFAULTS: Readonly<ClassicParams> = Object.freeze({ denoise: 3, sharpenSigma: 2.5, sharpenAmount: 1.2, contrastScale: 24, contrastAmount: 0.35, minStrength: 0.4 });

/** Buffer pairs a kernel keeps for later calls: a pool worker runs two crops at once (classicPool.ts). */
const SPARE = 2;

/**
 * One crop's classic restoration, the same computation on the calling thread or in a pool worker: median
 * denoise, then out = in + s·(enhanced − in) with enhanced = d + A·(d − blur(d)) + B·(d − low(d)),
 * s = 1 − (1 − minStrength)·w. Holds what every crop reuses (bilinear taps, the WebAssembly kernels and
 * their memory), so one instance serves one thread. Calls may overlap: a kernel's memory is used only
 * inside one synchronous call, and what a call keeps across its await (the resize in libvips) is its own.
 *
 * Where the time went, per 512 crop, single-thread CPU on the 2-core dev machine under load (load average
 * ~27; `node bench/classic-restorer.ts --stages`): before, 39 ms (median 22 in scalar JS, blur 4.7 and
 * resize 2 in sharp, the float64 JS mix ~9); now 7.5 ms (median 0.8 and blur 1.6 in WebAssembly SIMD with
 * the same bytes, resize 2 still in sharp, the float32 SIMD mix ~2).
 */
export class ClassicKernel {
  readonly #o: ClassicParams;
  readonly #xi: Int32Array;
  readonly #xf: Float32Array;
  readonly #row: Float32Array;
  readonly #median = new Median3x3(CROP_SIZE, CROP_SIZE, 3);
  readonly #blur: GaussBlur | undefined;
  readonly #simdMix: ClassicMix | undefined;
  /**
   * Denoised and blurred images of finished calls, reused by the next ones (at most SPARE pairs kept). A fresh
   * 768 KiB pair per crop came as new zeroed pages every time and, as external memory, drove the thread's major
   * GCs (perf on the live restore peer at 720p: page clearing, memset and V8's GC threads together ~10 % of
   * its CPU, all threads' allocations counted).
   */
  readonly #spare: Array<{ denoised: Uint8Array; soft: Uint8Array }> = [];

  constructor(params: ClassicParams) {
    this.#o = params;
    this.#blur = GaussBlur.create(CROP_SIZE, CROP_SIZE, 3, params.sharpenSigma);
    const t = bilinearTaps(params.contrastScale, CROP_SIZE);
    this.#xi = t.index;
    this.#xf = t.frac;
    this.#row = new Float32Array(params.contrastScale * 3);
    this.#simdMix = ClassicMix.create(CROP_SIZE, params.contrastScale, t);
  }

  /**
   * Restores `crop` (CROP_SIZE² RGB24) with fidelity weight `w` ∈ [0, 1] into `out` (same size, not
   * `crop`; may be a view on shared memory). Inputs are not modified.
   */
  async run(crop: Uint8Array, w: number, out: Uint8Array): Promise<void> {
    const o = this.#o;
    const N = CROP_SIZE;
    const S = o.contrastScale;
    const raw = { raw: { width: N, height: N, channels: 3 as const } };
    // Calls overlap (see the class): each takes its own pair of buffers and gives it back when done.
    const bufs = this.#spare.pop() ?? { denoised: new Uint8Array(N * N * 3), soft: new Uint8Array(N * N * 3) };
    try {
      // The common 3×3 case in WebAssembly SIMD: libvips' rank filter's bytes, ~40× faster (median3.ts).
      const denoised = o.denoise === 3 ? this.#median.apply(crop, bufs.denoised) : new Uint8Array(await sharp(crop, raw).median(o.denoise).raw().toBuffer());
      // libvips' blur, same bytes, in WebAssembly SIMD where GaussBlur reproduces it (sigma up to ~3.5), else sharp.
      const [soft, small] = await Promise.all([
        this.#blur ? this.#blur.apply(denoised, bufs.soft) : sharp(denoised, raw).blur(o.sharpenSigma).raw().toBuffer(),
        sharp(denoised, raw).resize(S, S, { kernel: 'cubic' }).raw().toBuffer(),
      ]);
      // float32 SIMD where available (within 1 level of the float64 JS pass, classicMix.ts), else the JS pass.
      if (this.#simdMix) this.#simdMix.run(crop, denoised, soft, small, mixWeights(w, o), out);
      else mix(crop, denoised, soft, small, w, o, this.#xi, this.#xf, this.#row, out);
    } finally {
      if (this.#spare.length < SPARE) this.#spare.push(bufs);
    }
  }
}

/**
 * The final per-pixel pass in float64 JS (used where WebAssembly SIMD is missing). The low-pass image is `small` blown back up bilinearly (pixel centres
 * aligned, edges clamped), computed row by row inside the mix instead of as a separate 512² image; the
 * enhancement and the mix with the input are folded into four weights. The expression order is kept
 * exactly as it was first written: the results are compared byte for byte with that version.
 */
export function mix(crop: Uint8Array, denoised: Uint8Array, soft: Uint8Array, small: Uint8Array, w: number, o: ClassicParams, xi: Int32Array, xf: Float32Array, row: Float32Array, out: Uint8Array): void {
  const N = CROP_SIZE;
  const S = o.contrastScale;
  const { kIn, kD, kSoft, kLow } = mixWeights(w, o);
  // The vertical taps equal the horizontal ones (square crop, square low-pass image).
  const yi = xi;
  const yf = xf;
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
}

/** out = in + s·(enhanced − in), s = 1 − (1 − minStrength)·w, enhanced = d + A·(d − soft) + B·(d − low), as four weights. */
function mixWeights(w: number, o: ClassicParams): { kIn: number; kD: number; kSoft: number; kLow: number } {
  const s = 1 - (1 - o.minStrength) * w;
  return { kIn: 1 - s, kD: s * (1 + o.sharpenAmount + o.contrastAmount), kSoft: s * o.sharpenAmount, kLow: s * o.contrastAmount };
}

/** For each of `to` output positions, the source index and weight of bilinear sampling from `from` positions. */
export function bilinearTaps(from: number, to: number): { index: Int32Array; frac: Float32Array } {
  const index = new Int32Array(to);
  const frac = new Float32Array(to);
  for (let i = 0; i < to; i++) {
    const t = Math.min(from - 1, Math.max(0, ((i + 0.5) * from) / to - 0.5));
    index[i] = Math.floor(t);
    frac[i] = t - index[i]!;
  }
  return { index, frac };
}
