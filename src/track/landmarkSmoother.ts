import type { FivePoints, Point } from '../types.ts';
import { ConstantVelocityKalman, rtsStep, type KalmanSnapshot } from './kalman.ts';

/**
 * Options of the landmark smoother. Lengths are fractions of the face's inter-ocular distance (IOD) and
 * time is in frames, so the same numbers work at any resolution and face size. Scale is smoothed as its
 * logarithm and rotation in radians (both already size-free).
 */
export interface LandmarkSmootherOptions {
  /** Detector noise of the face position (centroid of the five points), in IOD. Default 0.015. */
  positionNoise?: number;
  /** Unmodelled acceleration of the face position, in IOD/frame². Default 0.003. */
  positionAccel?: number;
  /** Detector noise of the face's log-scale. Default 0.015. */
  scaleNoise?: number;
  /** Unmodelled acceleration of the log-scale, per frame². Default 0.0002. */
  scaleAccel?: number;
  /** Detector noise of the in-plane rotation, radians. Default 0.015. */
  angleNoise?: number;
  /** Unmodelled angular acceleration, radians/frame². Default 0.0003. */
  angleAccel?: number;
  /** Detector noise of each point relative to the face's rigid pose (expression, shape), in IOD. Default 0.02. */
  shapeNoise?: number;
  /** How fast the face's shape (expression) may change, IOD/frame (random walk). Default 0.002. */
  shapeRate?: number;
  /**
   * Adaptive acceleration: when recent innovations exceed what the noise model explains (the face
   * accelerates), the acceleration terms grow by up to this factor, then relax. 1 disables. Default 10.
   */
  maxAccelBoost?: number;
  /**
   * A mean landmark innovation above this (in IOD) is a jump (camera jerk, re-found face): the filter
   * takes the measurement as is and keeps its velocities. Default 0.25.
   */
  jump?: number;
}

/** Defaults of LandmarkSmootherOptions. */
export const LANDMARK_SMOOTHER_DEFAULTS: Required<LandmarkSmootherOptions> = {
  positionNoise: 0.015,
  positionAccel: 0.003,
  scaleNoise: 0.015,
  scaleAccel: 0.0002,
  angleNoise: 0.015,
  angleAccel: 0.0003,
  shapeNoise: 0.02,
  shapeRate: 0.002,
  maxAccelBoost: 10,
  jump: 0.25,
};

/**
 * Noise settings for points refined by the 68-point landmark net: on the synthetic clips of
 * bench/track-smoothing.ts the refined points' RMS error is 0.2–0.3 px at 55 px between the eyes (≈ 0.005
 * IOD) against 2.3–2.9 px (≈ 0.045 IOD) for the detectors' own points, so the filter trusts them about five
 * times more. The jump rule drops to 0.1 IOD (20 times these points' noise): at 0.25 a 12 px camera step
 * (≈ 0.22 IOD) was smoothed over several frames and file mode's RMS doubled (0.32 against raw 0.20 px).
 *
 * The acceleration terms are 4× the defaults, all three together: with the defaults' accelerations the
 * causal output lagged brisk motion (RMS 0.26–0.28 px against raw 0.20, 1.3–1.4×; raising the position term
 * alone reached 1.25×, scale and rotation alone 1.4×, since the brisk clip zooms ±12 % and rolls ±8° while it
 * moves). At 4×: causal RMS 0.90–1.05× raw on calm and brisk motion with steps of 12, 20 px and 32 px + 6 %,
 * steady jitter 0.12–0.15 px (0.10–0.15 before; the offline Gaussian σ = 5: 0.42 / 3.07), file mode 0.16–0.17 px
 * RMS and 0.06–0.10 px jitter. The price is on real footage: the median second difference of the points
 * (face units, first 300 frames) rises 0.0069 → 0.0079 on retalk_1.mp4 and 0.0088 → 0.0094 on retalk_2.mp4
 * (the refined raw points: 0.0098 / 0.0132). 6× reached 0.92–0.94× raw on the synthetic clips for
 * 0.0081 / 0.0097 on the real ones. See docs/landmarks.md.
 */
export const LANDMARK_SMOOTHER_REFINED: LandmarkSmootherOptions = {
  positionNoise: 0.003,
  positionAccel: 0.012,
  scaleAccel: 0.0008,
  angleAccel: 0.0012,
  scaleNoise: 0.003,
  angleNoise: 0.003,
  shapeNoise: 0.003,
  jump: 0.1,
};

/**
 * Reference shape for the rigid fit: the FFHQ five-point template (512 px crop), centred, in units of its
 * inter-ocular distance. Only its role as a fixed reference matters.
 */
const TEMPLATE: readonly Point[] = (() => {
  const t: Point[] = [
    [192.98138, 239.94708],
    [318.90277, 240.1936],
    [256.63416, 314.01935],
    [201.26117, 371.41043],
    [313.08905, 371.15118],
  ];
  const cx = t.reduce((s, p) => s + p[0], 0) / 5;
  const cy = t.reduce((s, p) => s + p[1], 0) / 5;
  const iod = Math.hypot(t[1]![0] - t[0]![0], t[1]![1] - t[0]![1]);
  return t.map(([x, y]) => [(x - cx) / iod, (y - cy) / iod] as const);
})();
const TEMPLATE_NORM2 = TEMPLATE.reduce((s, [x, y]) => s + x * x + y * y, 0);

/** A face's rigid pose (least-squares similarity from the template) and its shape residual. */
export interface FacePose {
  cx: number;
  cy: number;
  /** Natural log of the scale (pixels per template IOD, ≈ the face's IOD). */
  logScale: number;
  /** Rotation in radians. */
  angle: number;
  /** Per-point residual in the face's own frame, template units (10 numbers). */
  shape: Float64Array;
}

/** Decomposes five points into a rigid pose and a shape residual (exact: composePose inverts it). */
export function decomposePose(points: FivePoints): FacePose {
  let cx = 0;
  let cy = 0;
  for (const p of points) {
    cx += p[0];
    cy += p[1];
  }
  cx /= 5;
  cy /= 5;
  let a = 0;
  let b = 0;
  for (let i = 0; i < 5; i++) {
    const [tx, ty] = TEMPLATE[i]!;
    const u = points[i]![0] - cx;
    const v = points[i]![1] - cy;
    a += tx * u + ty * v;
    b += tx * v - ty * u;
  }
  a /= TEMPLATE_NORM2;
  b /= TEMPLATE_NORM2;
  const scale = Math.max(Math.hypot(a, b), 1e-9);
  const angle = Math.atan2(b, a);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const shape = new Float64Array(10);
  for (let i = 0; i < 5; i++) {
    const u = points[i]![0] - cx;
    const v = points[i]![1] - cy;
    // Into the face frame: R(−angle)·(p − c)/scale − template.
    shape[2 * i] = (cos * u + sin * v) / scale - TEMPLATE[i]![0];
    shape[2 * i + 1] = (-sin * u + cos * v) / scale - TEMPLATE[i]![1];
  }
  return { cx, cy, logScale: Math.log(scale), angle, shape };
}

/** Inverse of decomposePose. */
export function composePose(pose: FacePose): FivePoints {
  const s = Math.exp(pose.logScale);
  const cos = Math.cos(pose.angle) * s;
  const sin = Math.sin(pose.angle) * s;
  const p = (i: number): Point => {
    const x = TEMPLATE[i]![0] + pose.shape[2 * i]!;
    const y = TEMPLATE[i]![1] + pose.shape[2 * i + 1]!;
    return [pose.cx + cos * x - sin * y, pose.cy + sin * x + cos * y];
  };
  return [p(0), p(1), p(2), p(3), p(4)];
}

/** What one smoother step did. */
export interface SmootherStep {
  points: FivePoints;
  /** True when the measurement was taken as is because it jumped. */
  jumped: boolean;
  /** Mean landmark distance between the prediction and the measurement, in IOD. */
  innovation: number;
}

/** One frame of a LandmarkSmoother's history: its four filters (position, scale, angle, shape). */
interface HistoryEntry {
  predicted: KalmanSnapshot[];
  filtered: KalmanSnapshot[];
  damping: number[];
  /** The filters restarted here (first measurement or a jump): no smoothing reaches across. */
  reset: boolean;
}

// Adaptive acceleration: averaging rate of the normalised innovation, and the level above which it boosts.
const BOOST_RATE = 0.1;
const BOOST_FROM = 2;

const wrapAngle = (a: number): number => a - 2 * Math.PI * Math.round(a / (2 * Math.PI));

/**
 * Causal landmark smoother for one track. The five points are split into the face's rigid pose
 * (position, log-scale, rotation: a least-squares similarity fit, which pools the noise of all five
 * points) and a shape residual (expression). The pose is filtered by constant-velocity Kalman filters,
 * the shape by a random-walk filter; the smoothed points are the smoothed pose applied to the smoothed
 * shape. Because the residual is orthogonal to the similarity fit, the face alignment computed from the
 * output points follows the smoothed pose alone.
 *
 * A constant-velocity model gives low jitter without lag: at constant speed, zoom or roll rate its
 * steady-state output has no delay, unlike an exponential or Gaussian average. Accelerations are
 * followed through an adaptive process noise (innovations larger than the model expects raise it), and
 * a jump (a sudden offset larger than `jump` IOD) is taken at once, keeping the velocities.
 */
export class LandmarkSmoother {
  readonly #o: Required<LandmarkSmootherOptions>;
  #position: ConstantVelocityKalman | undefined;
  #scale: ConstantVelocityKalman | undefined;
  #angle: ConstantVelocityKalman | undefined;
  #shape: ConstantVelocityKalman | undefined;
  #boost = 1;
  #nisAverage = 1;
  #points: FivePoints | undefined;
  /** Per frame (oldest first): the four filters' predicted and filtered states, for fixed-lag smoothing. */
  readonly #history: HistoryEntry[] = [];
  readonly #historyLength: number;
  /** Frames seen (predict calls, plus the first correct). */
  #frames = 0;

  /**
   * `historyLength` > 0 keeps that many frames of filter states, so `smoothedAt` can revise a recent frame
   * with a Rauch–Tung–Striebel pass (file mode's fixed-lag smoothing). Memory: O(historyLength).
   */
  constructor(options: LandmarkSmootherOptions = {}, historyLength = 0) {
    if (!Number.isInteger(historyLength) || historyLength < 0) throw new TypeError(`Expected a whole number ≥ 0 for historyLength but received ${historyLength}`);
    this.#historyLength = historyLength;
    const o = { ...LANDMARK_SMOOTHER_DEFAULTS };
    for (const [k, v] of Object.entries(options)) {
      if (v === undefined) continue;
      if (!(k in o)) throw new TypeError(`Unknown landmark smoother option ${k}`);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`Expected a finite number ≥ 0 for ${k} but received ${String(v)}`);
      (o as Record<string, number>)[k] = v;
    }
    if (o.maxAccelBoost < 1) throw new TypeError(`Expected a number ≥ 1 for maxAccelBoost but received ${o.maxAccelBoost}`);
    if (o.positionNoise === 0 || o.scaleNoise === 0 || o.angleNoise === 0 || o.shapeNoise === 0) {
      throw new TypeError('Expected noise options > 0');
    }
    this.#o = o;
  }

  /** True once the first measurement arrived. */
  get started(): boolean {
    return this.#points !== undefined;
  }

  /** Current face scale in pixels (smoothed; ≈ the inter-ocular distance). */
  get scale(): number {
    return this.#scale === undefined ? 0 : Math.exp(this.#scale.position[0]!);
  }

  /** Current smoothed points (after the last predict or correct). */
  get points(): FivePoints {
    if (this.#points === undefined) throw new Error('LandmarkSmoother has no state yet');
    return this.#points;
  }

  #compose(): FivePoints {
    return composePose({
      cx: this.#position!.position[0]!,
      cy: this.#position!.position[1]!,
      logScale: this.#scale!.position[0]!,
      angle: this.#angle!.position[0]!,
      shape: this.#shape!.position,
    });
  }

  /**
   * Advances one frame. Call once per frame before `correct` (or alone on a frame without a measurement).
   * `damping` < 1 decays the velocities (used while a track is unseen).
   */
  predict(damping = 1): FivePoints {
    if (this.#points === undefined) throw new Error('LandmarkSmoother has no state yet');
    const o = this.#o;
    const iod = this.scale;
    const k = this.#boost;
    this.#position!.predict(o.positionAccel * k * iod, damping);
    this.#scale!.predict(o.scaleAccel * k, damping);
    this.#angle!.predict(o.angleAccel * k, damping);
    this.#shape!.predict(o.shapeRate * 2, 0);
    this.#points = this.#compose();
    this.#frames++;
    if (this.#historyLength > 0) {
      const snaps = this.#snapshots();
      this.#remember({ predicted: snaps, filtered: snaps, damping: [damping, damping, damping, 0], reset: false });
    }
    return this.#points;
  }

  #filters(): ConstantVelocityKalman[] {
    return [this.#position!, this.#scale!, this.#angle!, this.#shape!];
  }

  #snapshots(): KalmanSnapshot[] {
    return this.#filters().map((f) => f.snapshot());
  }

  #remember(e: HistoryEntry): void {
    this.#history.push(e);
    if (this.#history.length > this.#historyLength) this.#history.shift();
  }

  /** After a correct: the current frame's filtered states (and whether the chain restarts here). */
  #recordCorrection(reset: boolean): void {
    if (this.#historyLength === 0) return;
    const last = this.#history[this.#history.length - 1];
    if (last === undefined || reset && this.#frames === 0) return;
    last.filtered = this.#snapshots();
    last.reset ||= reset;
  }

  /** Frames seen so far; frame i (0-based) is the one of the i-th predict (0: the first measurement). */
  get frames(): number {
    return this.#frames + (this.#points === undefined ? 0 : 1);
  }

  /**
   * The points of frame `frame` (0-based, see `frames`) revised with everything seen since: a
   * Rauch–Tung–Striebel pass from the newest frame back to it, stopping at a jump or at the start of the
   * kept history. Undefined when the frame is outside the history.
   */
  smoothedAt(frame: number): FivePoints | undefined {
    const h = this.#history;
    const newest = this.frames - 1;
    const k0 = h.length - 1 - (newest - frame);
    if (k0 < 0 || k0 >= h.length) return undefined;
    let xs = h[h.length - 1]!.filtered.map((f) => ({ position: f.position, velocity: f.velocity }));
    for (let k = h.length - 2; k >= k0; k--) {
      const next = h[k + 1]!;
      if (next.reset) xs = h[k]!.filtered.map((f) => ({ position: f.position, velocity: f.velocity }));
      else xs = h[k]!.filtered.map((f, i) => rtsStep(f, next.predicted[i]!, xs[i]!, next.damping[i]!));
    }
    return composePose({ cx: xs[0]!.position[0]!, cy: xs[0]!.position[1]!, logScale: xs[1]!.position[0]!, angle: xs[2]!.position[0]!, shape: xs[3]!.position });
  }

  /** Folds in this frame's detected points. The first call initialises the state. */
  correct(points: FivePoints): SmootherStep {
    const z = decomposePose(points);
    const o = this.#o;
    if (this.#points === undefined) {
      const iod = Math.exp(z.logScale);
      this.#position = new ConstantVelocityKalman([z.cx, z.cy], (o.positionNoise * iod) ** 2, (0.05 * iod) ** 2);
      this.#scale = new ConstantVelocityKalman([z.logScale], o.scaleNoise ** 2, 0.02 ** 2);
      this.#angle = new ConstantVelocityKalman([z.angle], o.angleNoise ** 2, 0.02 ** 2);
      this.#shape = new ConstantVelocityKalman(z.shape, o.shapeNoise ** 2, 0);
      this.#points = points;
      if (this.#historyLength > 0) this.#remember({ predicted: this.#snapshots(), filtered: this.#snapshots(), damping: [1, 1, 1, 0], reset: true });
      return { points, jumped: false, innovation: 0 };
    }
    const iod = this.scale;
    const predicted = this.#points;
    let sum = 0;
    for (let i = 0; i < 5; i++) sum += Math.hypot(points[i]![0] - predicted[i]![0], points[i]![1] - predicted[i]![1]);
    const innovation = sum / 5 / iod;
    const pos = this.#position!;
    const scale = this.#scale!;
    const angle = this.#angle!;
    const shape = this.#shape!;
    // Keep the measured angle on the same branch as the state.
    const zAngle = angle.position[0]! + wrapAngle(z.angle - angle.position[0]!);
    if (innovation > o.jump) {
      pos.resetPosition([z.cx, z.cy], (o.positionNoise * iod) ** 2);
      scale.resetPosition([z.logScale], o.scaleNoise ** 2);
      angle.resetPosition([zAngle], o.angleNoise ** 2);
      shape.resetPosition(z.shape, o.shapeNoise ** 2);
      this.#boost = 1;
      this.#points = points;
      this.#recordCorrection(true);
      return { points, jumped: true, innovation };
    }
    // Adaptive acceleration from the normalised position innovation (x and y: a χ² with 2 degrees of freedom, mean 2).
    const sp = pos.positionVariance + (o.positionNoise * iod) ** 2;
    const ss = scale.positionVariance + o.scaleNoise ** 2;
    const sa = angle.positionVariance + o.angleNoise ** 2;
    const nis =
      ((z.cx - pos.position[0]!) ** 2 + (z.cy - pos.position[1]!) ** 2) / sp / 2 +
      (z.logScale - scale.position[0]!) ** 2 / ss +
      (zAngle - angle.position[0]!) ** 2 / sa;
    // A sustained excess (an exponential average, so one noisy frame does not count) raises the acceleration terms.
    this.#nisAverage += BOOST_RATE * (nis / 3 - this.#nisAverage);
    const target = this.#nisAverage > BOOST_FROM ? Math.min(o.maxAccelBoost, this.#nisAverage) : 1;
    this.#boost = target > this.#boost ? target : this.#boost + 0.3 * (target - this.#boost);
    pos.correct([z.cx, z.cy], o.positionNoise * iod);
    scale.correct([z.logScale], o.scaleNoise);
    angle.correct([zAngle], o.angleNoise);
    shape.correct(z.shape, o.shapeNoise);
    this.#points = this.#compose();
    this.#recordCorrection(false);
    return { points: this.#points, jumped: false, innovation };
  }
}
