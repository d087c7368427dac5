import type { FivePoints } from '../types.ts';
import { LandmarkSmoother, type LandmarkSmootherOptions } from './landmarkSmoother.ts';

/**
 * Fixed-lag smoothing of one face's point series (file mode may look ahead; live stays causal): the causal
 * LandmarkSmoother runs forward, and each frame's points are revised `lag` frames later by a
 * Rauch–Tung–Striebel pass over the filter's kept states (LandmarkSmoother.smoothedAt), which stops at jumps.
 * Memory: lag + 1 frames of filter state. The last `lag` frames are revised with what follows them.
 * The series form of what MultiFaceTracker.revisedPoints does per track (for analyses and tests).
 * `undefined` entries are frames without a measurement (predicted); frames before the first measurement
 * stay undefined.
 */
export function fixedLagSeries(raw: readonly (FivePoints | undefined)[], lag: number, options: LandmarkSmootherOptions = {}): (FivePoints | undefined)[] {
  if (!Number.isInteger(lag) || lag < 0) throw new TypeError(`Expected a whole number ≥ 0 for lag but received ${lag}`);
  const s = new LandmarkSmoother(options, lag + 1);
  const out: (FivePoints | undefined)[] = new Array(raw.length).fill(undefined);
  let first = -1;
  for (let t = 0; t < raw.length; t++) {
    if (s.started) s.predict();
    const p = raw[t];
    if (p) s.correct(p);
    if (!s.started) continue;
    if (first < 0) first = t;
    if (t - lag >= first) out[t - lag] = s.smoothedAt(t - lag - first);
  }
  if (first >= 0) for (let t = Math.max(first, raw.length - lag); t < raw.length; t++) out[t] = s.smoothedAt(t - first);
  return out;
}
