import type { FivePoints } from '../types.ts';
import { LandmarkSmoother, type LandmarkSmootherOptions } from './landmarkSmoother.ts';

/**
 * Fixed-lag smoothing for file mode (two-filter form): the output for frame t − L is the mean of the causal
 * (forward) filter's points at t − L and a backward filter's, run from frame t down to t − L over the
 * detector's points of that window (the same LandmarkSmoother, time reversed: its constant-velocity model
 * is symmetric in time, and its jump rule keeps a step from being smeared backwards). Memory and work are
 * bounded by the lag: L + 1 point sets per track, L smoother steps per output.
 *
 * `window[0]` is frame t − L, `window[window.length − 1]` frame t (shorter at the end of a clip);
 * `undefined` marks a frame without a measurement (the face predicted, not detected).
 *
 * Measured only (bench/track-smoothing.ts, `file` series), not used by the file pipeline: with 8 frames of
 * look-ahead it lowers steady jitter by 10–15 % (BlazeFace 0.58 → 0.51 px, refined 0.10 → 0.09 px) but its
 * freshly started backward filter (no velocity yet) raised brisk-motion RMS in some runs (2.68 → 2.94 px).
 * A Rauch–Tung–Striebel pass over the forward filter's own states and covariances is the better next step.
 */
export function fixedLagPoints(forward: FivePoints, window: readonly (FivePoints | undefined)[], options: LandmarkSmootherOptions = {}): FivePoints {
  const s = new LandmarkSmoother(options);
  for (let k = window.length - 1; k >= 0; k--) {
    if (s.started) s.predict();
    const z = window[k];
    if (z) s.correct(z);
  }
  if (!s.started) return forward;
  const b = s.points;
  return forward.map((p, i) => [(p[0] + b[i]![0]) / 2, (p[1] + b[i]![1]) / 2] as const) as unknown as FivePoints;
}
