import type { VideoFrame } from '../types.ts';
import { i420Layout, yuvCoefficients } from '../util/yuv.ts';

/** Options of the shot-cut detector. */
export interface ShotCutOptions {
  /** Hellinger distance between consecutive colour histograms above which a frame starts a new shot. Default 0.4. */
  threshold?: number;
  /**
   * A distance above `softThreshold` is also a cut when it exceeds `contrast` times the median distance of the
   * last `window` frames (catches cuts between similar-looking shots without firing on fast motion).
   * Default 0.15.
   */
  softThreshold?: number;
  /** See softThreshold. Default 3. */
  contrast?: number;
  /** See softThreshold. Default 15 frames. */
  window?: number;
  /** Samples along the longer side of the frame (the frame is sampled on a grid, not resized). Default 128. */
  samples?: number;
  /** Frames after a cut during which no other cut is reported. Default 2. */
  minShotLength?: number;
}

/** Defaults of ShotCutOptions. */
export const SHOT_CUT_DEFAULTS: Required<ShotCutOptions> = {
  threshold: 0.4,
  softThreshold: 0.15,
  contrast: 3,
  window: 15,
  samples: 128,
  minShotLength: 2,
};

/** The verdict for one frame. */
export interface ShotCutResult {
  /** True when this frame is the first of a new shot. False for the very first frame. */
  cut: boolean;
  /** Hellinger distance in [0, 1] between this frame's histogram and the previous frame's (0 for the first). */
  distance: number;
}

const BITS = 3; // 8 levels per channel → 512 joint RGB bins
const BINS = 1 << (3 * BITS);

/**
 * Joint RGB histogram (8×8×8 bins) of an I420 frame sampled on a regular grid with about `samples` points
 * along its longer side, normalised to sum 1: only the sampled pixels are read and converted to RGB (with
 * the frame's colour matrix). Cost is independent of the resolution (≈ 9 k samples for 16:9).
 */
export function colourHistogram(frame: VideoFrame, samples = SHOT_CUT_DEFAULTS.samples): Float64Array {
  const { width, height, data } = frame;
  const L = i420Layout(width, height);
  if (data.length < L.size) throw new TypeError(`Expected ${L.size} I420 bytes for frame ${frame.index} but received ${data.length}`);
  const k = yuvCoefficients(frame.colour);
  const step = Math.max(1, Math.max(width, height) / samples);
  const h = new Float64Array(BINS);
  let count = 0;
  const shift = 8 - BITS;
  for (let fy = step / 2; fy < height; fy += step) {
    const y = Math.floor(fy);
    const row = y * width;
    const crow = (y >> 1) * L.cw;
    for (let fx = step / 2; fx < width; fx += step) {
      const x = Math.floor(fx);
      const l = k.yk * (data[row + x]! - k.y0);
      const u = data[L.uOff + crow + (x >> 1)]! - 128;
      const v = data[L.vOff + crow + (x >> 1)]! - 128;
      const r = byte(l + k.rv * v);
      const g = byte(l - k.gu * u - k.gv * v);
      const b = byte(l + k.bu * u);
      const bin = ((r >> shift) << (2 * BITS)) | ((g >> shift) << BITS) | (b >> shift);
      h[bin]! += 1;
      count++;
    }
  }
  for (let i = 0; i < BINS; i++) h[i]! /= count;
  return h;
}

/** A converted sample as a byte: rounded and clamped to 0–255. */
function byte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** Hellinger distance sqrt(1 − Σ √(p·q)) between two normalised histograms, in [0, 1]. */
export function hellinger(p: Float64Array, q: Float64Array): number {
  let bc = 0;
  for (let i = 0; i < p.length; i++) bc += Math.sqrt(p[i]! * q[i]!);
  return Math.sqrt(Math.max(0, 1 - bc));
}

/**
 * Hard-cut detector: compares the colour histogram of each frame with the previous frame's. A cut is a
 * distance above `threshold`, or above `softThreshold` and `contrast` times the recent median (so steady
 * fast motion, which raises every distance, does not fire). Feed frames in order, once each.
 */
export class ShotCutDetector {
  readonly #o: Required<ShotCutOptions>;
  #previous: Float64Array | undefined;
  #recent: number[] = [];
  #sinceCut = Infinity;
  #last: { index: number; result: ShotCutResult } | undefined;

  constructor(options: ShotCutOptions = {}) {
    const o = { ...SHOT_CUT_DEFAULTS };
    for (const [k, v] of Object.entries(options)) if (v !== undefined) (o as Record<string, number>)[k] = v as number;
    for (const k of ['threshold', 'softThreshold'] as const) {
      if (!(o[k] > 0 && o[k] <= 1)) throw new TypeError(`Expected a number in (0, 1] for ${k} but received ${o[k]}`);
    }
    for (const k of ['contrast', 'window', 'samples'] as const) {
      if (!(Number.isFinite(o[k]) && o[k] >= 1)) throw new TypeError(`Expected a number ≥ 1 for ${k} but received ${o[k]}`);
    }
    if (!(Number.isInteger(o.minShotLength) && o.minShotLength >= 0)) {
      throw new TypeError(`Expected an integer ≥ 0 for minShotLength but received ${o.minShotLength}`);
    }
    this.#o = o;
  }

  /** Examines the next frame. Calling again with the same frame index returns the same result without recomputing. */
  push(frame: VideoFrame): ShotCutResult {
    if (this.#last !== undefined && this.#last.index === frame.index) return this.#last.result;
    const h = colourHistogram(frame, this.#o.samples);
    const prev = this.#previous;
    this.#previous = h;
    let result: ShotCutResult;
    if (prev === undefined) {
      result = { cut: false, distance: 0 };
    } else {
      const d = hellinger(prev, h);
      const o = this.#o;
      const median = medianOf(this.#recent);
      const cut =
        this.#sinceCut >= o.minShotLength && (d > o.threshold || (d > o.softThreshold && (this.#recent.length === 0 || d > o.contrast * median)));
      result = { cut, distance: d };
      if (cut) {
        this.#recent = [];
        this.#sinceCut = 0;
      } else {
        this.#recent.push(d);
        if (this.#recent.length > o.window) this.#recent.shift();
        this.#sinceCut++;
      }
    }
    this.#last = { index: frame.index, result };
    return result;
  }

  /** Forgets the previous frame (the next frame is treated as the first). */
  reset(): void {
    this.#previous = undefined;
    this.#recent = [];
    this.#sinceCut = Infinity;
    this.#last = undefined;
  }
}

function medianOf(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
