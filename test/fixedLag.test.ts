import { describe, expect, it } from 'vitest';
import { fixedLagPoints } from '../src/track/fixedLag.ts';
import { LandmarkSmoother } from '../src/track/landmarkSmoother.ts';
import type { FivePoints } from '../src/types.ts';

/** Five points of a face at (x, y), 60 px between the eyes. */
const face = (x: number, y: number): FivePoints => [[x - 30, y], [x + 30, y], [x, y + 30], [x - 25, y + 55], [x + 25, y + 55]];

describe('fixedLagPoints (two-filter fixed-lag smoothing, file-mode experiment)', () => {
  it('a still face with detector noise: the forward–backward mean is nearer the truth than the causal filter alone', () => {
    // Deterministic pseudo-noise (±1.5 px).
    let seed = 7;
    const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 3;
    const raw = Array.from({ length: 120 }, () => face(200 + noise(), 150 + noise()));
    const causal = new LandmarkSmoother();
    const forward = raw.map((z, t) => {
      if (t > 0) causal.predict();
      return causal.correct(z).points;
    });
    let eForward = 0, eFile = 0;
    for (let t = 30; t < 100; t++) {
      const file = fixedLagPoints(forward[t]!, raw.slice(t, t + 9));
      const truth = face(200, 150);
      for (let i = 0; i < 5; i++) {
        eForward += Math.hypot(forward[t]![i]![0] - truth[i]![0], forward[t]![i]![1] - truth[i]![1]) ** 2;
        eFile += Math.hypot(file[i]![0] - truth[i]![0], file[i]![1] - truth[i]![1]) ** 2;
      }
    }
    expect(eFile).toBeLessThan(eForward);
  });

  it('without measurements in the window it returns the forward points', () => {
    const f = face(10, 20);
    expect(fixedLagPoints(f, [undefined, undefined])).toBe(f);
  });
});
