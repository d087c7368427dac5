/**
 * Constant-velocity Kalman filter over a vector of independent coordinates that share one noise model
 * (so they share one 2×2 covariance and one gain: the cost is O(n) per step, not O(n³)).
 *
 * Model per coordinate, one step per frame: position p, velocity v; p' = p + v, v' = v; white
 * acceleration noise with standard deviation `accel` (discrete piecewise-constant model:
 * Q = accel² · [[1/4, 1/2], [1/2, 1]]); measurement z = p + noise of standard deviation `noise`.
 * Units are the caller's (the tracker passes pixels, with `accel` and `noise` scaled by face size).
 */
export class ConstantVelocityKalman {
  /** Positions (one per coordinate). */
  readonly position: Float64Array;
  /** Velocities in units per frame. */
  readonly velocity: Float64Array;
  // Shared covariance [[pp, pv], [pv, vv]].
  #pp: number;
  #pv = 0;
  #vv: number;

  /**
   * Starts at `initial` with zero velocity. `positionVariance` and `velocityVariance` set the initial
   * uncertainty (squared units).
   */
  constructor(initial: ArrayLike<number>, positionVariance: number, velocityVariance: number) {
    this.position = Float64Array.from(initial);
    this.velocity = new Float64Array(initial.length);
    this.#pp = positionVariance;
    this.#vv = velocityVariance;
  }

  /** Damping of the last `predict` (the transition's velocity factor; 1 before any). */
  lastDamping = 1;

  /** A copy of the state and covariance (for smoothing passes over a history). */
  snapshot(): KalmanSnapshot {
    return { position: Float64Array.from(this.position), velocity: Float64Array.from(this.velocity), pp: this.#pp, pv: this.#pv, vv: this.#vv };
  }

  /** Position variance (squared units), shared by all coordinates. */
  get positionVariance(): number {
    return this.#pp;
  }

  /** Advances one frame: p += v; covariance grows by the acceleration noise. `damping` scales v first (1 = none). */
  predict(accel: number, damping = 1): void {
    const n = this.position.length;
    for (let i = 0; i < n; i++) {
      this.velocity[i]! *= damping;
      this.position[i]! += this.velocity[i]!;
    }
    const d = damping;
    this.lastDamping = damping;
    const pp = this.#pp;
    const pv = this.#pv * d;
    const vv = this.#vv * d * d;
    const q = accel * accel;
    this.#pp = pp + 2 * pv + vv + q / 4;
    this.#pv = pv + vv + q / 2;
    this.#vv = vv + q;
  }

  /** The position one frame ahead without changing the state. */
  peek(out: Float64Array = new Float64Array(this.position.length)): Float64Array {
    for (let i = 0; i < out.length; i++) out[i] = this.position[i]! + this.velocity[i]!;
    return out;
  }

  /** Folds in a measurement of every coordinate with standard deviation `noise`. Returns the position gain. */
  correct(z: ArrayLike<number>, noise: number): number {
    const s = this.#pp + noise * noise;
    const kp = this.#pp / s;
    const kv = this.#pv / s;
    for (let i = 0; i < this.position.length; i++) {
      const innovation = z[i]! - this.position[i]!;
      this.position[i]! += kp * innovation;
      this.velocity[i]! += kv * innovation;
    }
    const pp = this.#pp;
    const pv = this.#pv;
    this.#pp = (1 - kp) * pp;
    this.#pv = (1 - kp) * pv;
    this.#vv = this.#vv - kv * pv;
    return kp;
  }

  /**
   * Replaces the positions by `z` (variance `positionVariance`), keeping the velocities: what a sudden
   * offset (a camera jerk, a re-found face) calls for.
   */
  resetPosition(z: ArrayLike<number>, positionVariance: number): void {
    for (let i = 0; i < this.position.length; i++) this.position[i] = z[i]!;
    this.#pp = positionVariance;
    this.#pv = 0;
  }

  /** Scales the shared covariance by `a` (a ≥ 1 makes the filter trust the next measurements more). */
  inflate(a: number): void {
    this.#pp *= a;
    this.#pv *= a;
    this.#vv *= a;
  }
}

/** State and shared covariance of a ConstantVelocityKalman at one moment. */
export interface KalmanSnapshot {
  position: Float64Array;
  velocity: Float64Array;
  pp: number;
  pv: number;
  vv: number;
}

/**
 * One Rauch–Tung–Striebel step: the smoothed state at k from the filtered state at k, the predicted state at
 * k + 1 (made from it with velocity damping `d`: p' = p + d·v, v' = d·v) and the smoothed state at k + 1.
 * Gain C = P(k|k)·Fᵀ·P(k+1|k)⁻¹; x(k|n) = x(k|k) + C·(x(k+1|n) − x(k+1|k)). Means only (the covariance of
 * the smoothed state is not needed for the points).
 */
export function rtsStep(filtered: KalmanSnapshot, predictedNext: KalmanSnapshot, smoothedNext: { position: Float64Array; velocity: Float64Array }, d: number): { position: Float64Array; velocity: Float64Array } {
  const { pp, pv, vv } = filtered;
  // P·Fᵀ with F = [[1, d], [0, d]].
  const a11 = pp + pv * d, a12 = pv * d, a21 = pv + vv * d, a22 = vv * d;
  const det = predictedNext.pp * predictedNext.vv - predictedNext.pv * predictedNext.pv;
  const n = filtered.position.length;
  const position = new Float64Array(n);
  const velocity = new Float64Array(n);
  if (!(det > 1e-300)) {
    // Degenerate prediction covariance (no velocity uncertainty, e.g. the shape's random walk): gain on position only.
    const c = predictedNext.pp > 0 ? a11 / predictedNext.pp : 0;
    for (let i = 0; i < n; i++) {
      position[i] = filtered.position[i]! + c * (smoothedNext.position[i]! - predictedNext.position[i]!);
      velocity[i] = filtered.velocity[i]!;
    }
    return { position, velocity };
  }
  const i11 = predictedNext.vv / det, i12 = -predictedNext.pv / det, i22 = predictedNext.pp / det;
  const c11 = a11 * i11 + a12 * i12, c12 = a11 * i12 + a12 * i22;
  const c21 = a21 * i11 + a22 * i12, c22 = a21 * i12 + a22 * i22;
  for (let i = 0; i < n; i++) {
    const dp = smoothedNext.position[i]! - predictedNext.position[i]!;
    const dv = smoothedNext.velocity[i]! - predictedNext.velocity[i]!;
    position[i] = filtered.position[i]! + c11 * dp + c12 * dv;
    velocity[i] = filtered.velocity[i]! + c21 * dp + c22 * dv;
  }
  return { position, velocity };
}
