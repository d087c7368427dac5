import type { Box, FaceDetection, VideoFrame } from '../types.ts';
import type { FidelityPolicy } from './tracker.ts';
import { yuvCoefficients } from '../util/yuv.ts';

/** Parameters of the `auto` fidelity mode (see faceQuality and docs/tracking.md). */
export interface AutoFidelityOptions {
  /** w for the worst faces (small or blurry: restore strongly). Default 0.3. */
  wMin?: number;
  /** w for the best faces (large and sharp: stay close to the input). Default 0.8. */
  wMax?: number;
  /** Face side (√(box area), px) at or below which the size score is 0. Default 32. */
  sizeLow?: number;
  /** Face side at or above which the size score is 1. Default 192. */
  sizeHigh?: number;
  /** Laplacian variance (grey levels²) at or below which the sharpness score is 0. Default 15. */
  sharpLow?: number;
  /** Laplacian variance at or above which the sharpness score is 1. Default 400. */
  sharpHigh?: number;
}

/** Options of TrackFidelity. */
export interface TrackFidelityOptions {
  /** Global default w in [0, 1] (mode `fixed`, and tracks without an override). Default 0.5. */
  w?: number;
  /** `fixed`: the default w for every face; `auto`: w from each face's measured quality. Default `fixed`. */
  mode?: 'fixed' | 'auto';
  auto?: AutoFidelityOptions;
  /** Time constant (frames) of the exponential approach of a track's w to its target. Default 8. */
  timeConstant?: number;
  /** Largest change of a track's w per frame. Default 0.03. */
  maxStep?: number;
  /** In `auto` mode, the quality of a track is measured every this many frames. Default 3. */
  qualityEvery?: number;
}

/** Defaults of AutoFidelityOptions. */
export const AUTO_FIDELITY_DEFAULTS: Required<AutoFidelityOptions> = {
  wMin: 0.3,
  wMax: 0.8,
  sizeLow: 32,
  sizeHigh: 192,
  sharpLow: 15,
  sharpHigh: 400,
};

/** A face's measured quality. */
export interface FaceQuality {
  /** √(box area) in frame pixels. */
  sizePx: number;
  /** Variance of the 4-neighbour Laplacian of the grey face (central 70 % of the box, resampled to ≤ 96 px across). */
  laplacianVariance: number;
  /** clamp((log size − log sizeLow) / (log sizeHigh − log sizeLow)) ∈ [0, 1]. */
  sizeScore: number;
  /** clamp((log var − log sharpLow) / (log sharpHigh − log sharpLow)) ∈ [0, 1]. */
  sharpScore: number;
  /** √(sizeScore · sharpScore) ∈ [0, 1]: a face must be both large enough and sharp enough to score high. */
  quality: number;
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * Measures a face's quality from its size in pixels and the variance of the Laplacian (a standard focus
 * measure) of its grey levels. The central 70 % of the box is averaged down by an integer factor to at most
 * about 96 samples across, so the sharpness is read at a comparable scale for large and small faces and
 * costs at most ~10 k samples.
 */
export function faceQuality(frame: VideoFrame, box: Box, options: AutoFidelityOptions = {}): FaceQuality {
  const o = { ...AUTO_FIDELITY_DEFAULTS, ...options };
  const sizePx = Math.sqrt(Math.max(0, box.width * box.height));
  const laplacianVariance = laplacianVarianceIn(frame, box);
  const sizeScore = clamp01(Math.log(sizePx / o.sizeLow) / Math.log(o.sizeHigh / o.sizeLow));
  const sharpScore = clamp01(Math.log(Math.max(laplacianVariance, 1e-6) / o.sharpLow) / Math.log(o.sharpHigh / o.sharpLow));
  return { sizePx, laplacianVariance, sizeScore, sharpScore, quality: Math.sqrt(sizeScore * sharpScore) };
}

/** Variance of the Laplacian of the grey levels (the frame's luma plane, nothing else read) inside the central 70 % of `box` (see faceQuality). */
export function laplacianVarianceIn(frame: VideoFrame, box: Box): number {
  const { width, height, data } = frame;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const x0 = Math.max(0, Math.floor(cx - 0.35 * box.width));
  const y0 = Math.max(0, Math.floor(cy - 0.35 * box.height));
  const x1 = Math.min(width, Math.ceil(cx + 0.35 * box.width));
  const y1 = Math.min(height, Math.ceil(cy + 0.35 * box.height));
  const f = Math.max(1, Math.round(Math.max(x1 - x0, y1 - y0) / 96));
  const gw = Math.floor((x1 - x0) / f);
  const gh = Math.floor((y1 - y0) / f);
  if (gw < 3 || gh < 3) return 0;
  const g = new Float32Array(gw * gh);
  // Grey levels are the luma plane scaled to 0–255 (the thresholds are in those units).
  const { yk, y0: lumaZero } = yuvCoefficients(frame.colour);
  const norm = yk / (f * f);
  for (let gy = 0; gy < gh; gy++) {
    for (let gx = 0; gx < gw; gx++) {
      let s = 0;
      for (let dy = 0; dy < f; dy++) {
        let o = (y0 + gy * f + dy) * width + x0 + gx * f;
        for (let dx = 0; dx < f; dx++, o++) s += data[o]!;
      }
      g[gy * gw + gx] = s * norm - yk * lumaZero;
    }
  }
  let sum = 0;
  let sum2 = 0;
  let n = 0;
  for (let y = 1; y < gh - 1; y++) {
    for (let x = 1; x < gw - 1; x++) {
      const i = y * gw + x;
      const l = g[i - 1]! + g[i + 1]! + g[i - gw]! + g[i + gw]! - 4 * g[i]!;
      sum += l;
      sum2 += l * l;
      n++;
    }
  }
  const mean = sum / n;
  return Math.max(0, sum2 / n - mean * mean);
}

interface TrackState {
  w: number;
  frame: number;
  target: number;
  qualityFrame: number;
}

/**
 * Per-track fidelity: a global default, per-track overrides, and an `auto` mode that maps measured face
 * quality to w (w = wMin + (wMax − wMin) · quality). A track's w never jumps: it approaches its target
 * exponentially (time constant `timeConstant` frames) and by at most `maxStep` per frame; a new track starts
 * at its target. The tracker calls `trackEnded` when a track ends, which frees its state.
 */
export class TrackFidelity implements FidelityPolicy {
  #w: number;
  #mode: 'fixed' | 'auto';
  readonly #auto: Required<AutoFidelityOptions>;
  readonly #tau: number;
  readonly #maxStep: number;
  readonly #qualityEvery: number;
  readonly #overrides = new Map<number, number>();
  readonly #tracks = new Map<number, TrackState>();

  constructor(options: TrackFidelityOptions = {}) {
    this.#w = checkW(options.w ?? 0.5, 'w');
    const mode = options.mode ?? 'fixed';
    if (mode !== 'fixed' && mode !== 'auto') throw new TypeError(`Expected 'fixed' or 'auto' for mode but received ${String(mode)}`);
    this.#mode = mode;
    this.#auto = { ...AUTO_FIDELITY_DEFAULTS };
    for (const [k, v] of Object.entries(options.auto ?? {})) if (v !== undefined) (this.#auto as Record<string, number>)[k] = v as number;
    checkW(this.#auto.wMin, 'auto.wMin');
    checkW(this.#auto.wMax, 'auto.wMax');
    for (const k of ['sizeLow', 'sizeHigh', 'sharpLow', 'sharpHigh'] as const) {
      if (!(this.#auto[k] > 0 && Number.isFinite(this.#auto[k]))) throw new TypeError(`Expected a positive number for auto.${k} but received ${this.#auto[k]}`);
    }
    if (!(this.#auto.sizeHigh > this.#auto.sizeLow)) throw new TypeError(`Expected auto.sizeHigh > auto.sizeLow but received ${this.#auto.sizeHigh} ≤ ${this.#auto.sizeLow}`);
    if (!(this.#auto.sharpHigh > this.#auto.sharpLow)) throw new TypeError(`Expected auto.sharpHigh > auto.sharpLow but received ${this.#auto.sharpHigh} ≤ ${this.#auto.sharpLow}`);
    this.#tau = options.timeConstant ?? 8;
    if (!(this.#tau >= 1 && Number.isFinite(this.#tau))) throw new TypeError(`Expected a number ≥ 1 for timeConstant but received ${this.#tau}`);
    this.#maxStep = options.maxStep ?? 0.03;
    if (!(this.#maxStep > 0 && this.#maxStep <= 1)) throw new TypeError(`Expected a number in (0, 1] for maxStep but received ${this.#maxStep}`);
    this.#qualityEvery = options.qualityEvery ?? 3;
    if (!(Number.isInteger(this.#qualityEvery) && this.#qualityEvery >= 1)) {
      throw new TypeError(`Expected an integer ≥ 1 for qualityEvery but received ${this.#qualityEvery}`);
    }
  }

  /** The global default w. */
  get defaultW(): number {
    return this.#w;
  }

  get mode(): 'fixed' | 'auto' {
    return this.#mode;
  }

  /** Changes the global default w (tracks without an override move to it smoothly). */
  setDefault(w: number): void {
    this.#w = checkW(w, 'w');
  }

  /** Switches between `fixed` and `auto`. */
  setMode(mode: 'fixed' | 'auto'): void {
    if (mode !== 'fixed' && mode !== 'auto') throw new TypeError(`Expected 'fixed' or 'auto' for mode but received ${String(mode)}`);
    this.#mode = mode;
  }

  /** Sets (a number) or removes (undefined) the w of one track; the track's w moves to it smoothly. */
  setOverride(trackId: number, w: number | undefined): void {
    if (!Number.isInteger(trackId) || trackId < 0) throw new TypeError(`Expected a track id (integer ≥ 0) for trackId but received ${trackId}`);
    if (w === undefined) this.#overrides.delete(trackId);
    else this.#overrides.set(trackId, checkW(w, 'w'));
  }

  /** The override of a track, if any. */
  override(trackId: number): number | undefined {
    return this.#overrides.get(trackId);
  }

  /** The current (smoothed) w of a track, if it has been asked for. */
  current(trackId: number): number | undefined {
    return this.#tracks.get(trackId)?.w;
  }

  fidelityFor(trackId: number, detection: FaceDetection, frame: VideoFrame): number {
    const s = this.#tracks.get(trackId);
    if (s !== undefined && s.frame === frame.index) return s.w;
    const override = this.#overrides.get(trackId);
    let target: number;
    let qualityFrame = s?.qualityFrame ?? -Infinity;
    if (override !== undefined || this.#mode === 'fixed') {
      target = override ?? this.#w;
      qualityFrame = -Infinity;
    } else if (s !== undefined && frame.index - qualityFrame < this.#qualityEvery) target = s.target;
    else {
      target = this.autoW(faceQuality(frame, detection.box, this.#auto).quality);
      qualityFrame = frame.index;
    }
    if (s === undefined) {
      this.#tracks.set(trackId, { w: target, frame: frame.index, target, qualityFrame });
      return target;
    }
    s.target = target;
    s.qualityFrame = qualityFrame;
    // One smoothing step per elapsed frame (a track not asked for on some frames catches up).
    const frames = Math.min(1000, Math.max(1, frame.index - s.frame));
    for (let k = 0; k < frames && s.w !== target; k++) {
      const step = (target - s.w) / this.#tau;
      s.w += Math.max(-this.#maxStep, Math.min(this.#maxStep, step));
      if (Math.abs(target - s.w) < 1e-3) s.w = target;
    }
    s.frame = frame.index;
    return s.w;
  }

  /** w for a quality in [0, 1] in `auto` mode. */
  autoW(quality: number): number {
    return this.#auto.wMin + (this.#auto.wMax - this.#auto.wMin) * clamp01(quality);
  }

  /** Frees a finished track's state (its override is kept, in case the caller re-uses the id). */
  trackEnded(trackId: number): void {
    this.#tracks.delete(trackId);
  }
}

function checkW(w: number, name: string): number {
  if (typeof w !== 'number' || !(w >= 0 && w <= 1)) throw new TypeError(`Expected a number in [0, 1] for ${name} but received ${String(w)}`);
  return w;
}
