import type { FivePoints, Point } from '../types.ts';
import { ConstantVelocityKalman } from './kalman.ts';

/**
 * Options of the landmark smoother. Every length is a fraction of the face's inter-ocular distance
 * (IOD, eye-to-eye, floored at `minScaleFraction` of the box side for profiles), per frame, so the same
 * numbers work at any resolution and face size.
 */
export interface LandmarkSmootherOptions {
  /** Standard deviation of the detector's landmark noise, in IOD. Default 0.02. */
  noise?: number;
  /** Standard deviation of the unmodelled acceleration per frame, in IOD/frame². Default 0.004. */
  accel?: number;
  /**
   * Adaptive acceleration: when recent innovations are larger than the noise model explains (the face
   * accelerates), the acceleration term grows by up to this factor, then relaxes. 1 disables. Default 8.
   */
  maxAccelBoost?: number;
  /**
   * A mean landmark innovation above this (in IOD) is a jump (camera jerk, re-found face): the filter
   * takes the measurement as is and keeps its velocity. Default 0.25.
   */
  jump?: number;
}

/** Defaults of LandmarkSmootherOptions. */
export const LANDMARK_SMOOTHER_DEFAULTS: Required<LandmarkSmootherOptions> = {
  noise: 0.02,
  accel: 0.004,
  maxAccelBoost: 8,
  jump: 0.25,
};

/** Eye-to-eye distance of five points, in pixels. */
export function interOcular(points: FivePoints): number {
  return Math.hypot(points[1][0] - points[0][0], points[1][1] - points[0][1]);
}

/** Flattens five points to [x0, y0, …, x4, y4]. */
export function flattenPoints(points: FivePoints, out: Float64Array = new Float64Array(10)): Float64Array {
  for (let i = 0; i < 5; i++) {
    out[2 * i] = points[i]![0];
    out[2 * i + 1] = points[i]![1];
  }
  return out;
}

/** Inverse of flattenPoints. */
export function toFivePoints(v: ArrayLike<number>): FivePoints {
  const p = (i: number): Point => [v[2 * i]!, v[2 * i + 1]!];
  return [p(0), p(1), p(2), p(3), p(4)];
}

/** What one smoother step did. */
export interface SmootherStep {
  points: FivePoints;
  /** True when the measurement was taken as is because it jumped. */
  jumped: boolean;
  /** Mean landmark innovation before the correction, in IOD. */
  innovation: number;
}

/**
 * Causal landmark smoother for one track: a constant-velocity Kalman filter on the ten coordinates
 * (shared gain), noise and acceleration in units of the face's inter-ocular distance, an adaptive
 * acceleration term (a face that speeds up is followed without lag, a still face is held still), and
 * jump handling (a sudden offset is taken at once instead of being smeared over many frames).
 *
 * A constant-velocity model is what allows heavy smoothing without lag: at constant speed its
 * steady-state output has no delay, unlike an exponential or Gaussian average.
 */
export class LandmarkSmoother {
  readonly #o: Required<LandmarkSmootherOptions>;
  #kf: ConstantVelocityKalman | undefined;
  #scale = 0;
  #boost = 1;
  readonly #z = new Float64Array(10);

  constructor(options: LandmarkSmootherOptions = {}) {
    this.#o = { ...LANDMARK_SMOOTHER_DEFAULTS, ...definedOnly(options) };
    for (const [k, v] of Object.entries(this.#o)) {
      if (!Number.isFinite(v) || v < 0) throw new TypeError(`Expected a finite number ≥ 0 for ${k} but received ${v}`);
    }
    if (this.#o.maxAccelBoost < 1) throw new TypeError(`Expected a number ≥ 1 for maxAccelBoost but received ${this.#o.maxAccelBoost}`);
  }

  /** True once the first measurement arrived. */
  get started(): boolean {
    return this.#kf !== undefined;
  }

  /** Current face scale in pixels (smoothed inter-ocular distance). */
  get scale(): number {
    return this.#scale;
  }

  /** Current smoothed points (after the last predict or update). */
  get points(): FivePoints {
    if (this.#kf === undefined) throw new Error('LandmarkSmoother has no state yet');
    return toFivePoints(this.#kf.position);
  }

  /** Where the points will be next frame if nothing changes (for association). */
  peek(): FivePoints {
    if (this.#kf === undefined) throw new Error('LandmarkSmoother has no state yet');
    return toFivePoints(this.#kf.peek());
  }

  /**
   * Advances one frame. Call once per frame before `correct` (or alone on a frame without a measurement).
   * `damping` < 1 decays the velocity (used while a track is unseen).
   */
  predict(damping = 1): FivePoints {
    const kf = this.#kf;
    if (kf === undefined) throw new Error('LandmarkSmoother has no state yet');
    kf.predict(this.#o.accel * this.#boost * this.#scale, damping);
    return toFivePoints(kf.position);
  }

  /**
   * Folds in this frame's detected points. `faceScale` (pixels) is the detection's inter-ocular distance
   * or a floor for profiles; the tracker passes it. The first call initialises the state.
   */
  correct(points: FivePoints, faceScale: number): SmootherStep {
    const z = flattenPoints(points, this.#z);
    const s = faceScale > 0 && Number.isFinite(faceScale) ? faceScale : 1;
    const o = this.#o;
    if (this.#kf === undefined) {
      this.#scale = s;
      const r = (o.noise * s) ** 2;
      this.#kf = new ConstantVelocityKalman(z, r, (0.05 * s) ** 2);
      return { points, jumped: false, innovation: 0 };
    }
    // Scale follows slowly: it sets the noise units, it is not itself an output.
    this.#scale += 0.1 * (s - this.#scale);
    const scale = this.#scale;
    const kf = this.#kf;
    let sum = 0;
    for (let i = 0; i < 5; i++) sum += Math.hypot(z[2 * i]! - kf.position[2 * i]!, z[2 * i + 1]! - kf.position[2 * i + 1]!);
    const innovation = sum / 5 / scale;
    const noise = o.noise * scale;
    if (innovation > o.jump) {
      kf.resetPosition(z, noise * noise);
      this.#boost = 1;
      return { points: toFivePoints(kf.position), jumped: true, innovation };
    }
    // Adaptive acceleration: compare the innovation with what the model predicts (per-axis standard
    // deviation sqrt(P + R); the mean 2-D distance of a Gaussian is ≈ 1.25 σ).
    const expected = 1.25 * Math.sqrt(kf.positionVariance + noise * noise) / scale;
    const ratio = innovation / expected;
    const target = Math.min(o.maxAccelBoost, Math.max(1, ratio * ratio));
    this.#boost = target > this.#boost ? target : this.#boost + 0.2 * (target - this.#boost);
    if (target > 1.5) kf.inflate(Math.min(target, 4));
    kf.correct(z, noise);
    return { points: toFivePoints(kf.position), jumped: false, innovation };
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
