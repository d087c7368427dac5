import { describe, expect, it } from 'vitest';
import { fixedLagSeries } from '../src/track/fixedLag.ts';
import { LandmarkSmoother } from '../src/track/landmarkSmoother.ts';
import type { FivePoints } from '../src/types.ts';

/** Five points of a face at (x, y), 60 px between the eyes. */
const face = (x: number, y: number): FivePoints => [[x - 30, y], [x + 30, y], [x, y + 30], [x - 25, y + 55], [x + 25, y + 55]];

function noisy(truth: (t: number) => FivePoints, n: number, amp: number): FivePoints[] {
  let seed = 7;
  const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * amp;
  return Array.from({ length: n }, (_, t) => truth(t).map(([x, y]) => [x + noise(), y + noise()] as const) as unknown as FivePoints);
}

function causalSeries(raw: readonly FivePoints[]): FivePoints[] {
  const s = new LandmarkSmoother();
  return raw.map((z, t) => {
    if (t > 0) s.predict();
    return s.correct(z).points;
  });
}

const sqErr = (a: readonly (FivePoints | undefined)[], truth: (t: number) => FivePoints, from: number, to: number) => {
  let e = 0;
  for (let t = from; t < to; t++) for (let i = 0; i < 5; i++) e += Math.hypot(a[t]![i]![0] - truth(t)[i]![0], a[t]![i]![1] - truth(t)[i]![1]) ** 2;
  return e;
};

describe('fixed-lag Rauch–Tung–Striebel smoothing (file mode)', () => {
  it('lag 0 is the causal filter exactly', () => {
    const truth = (t: number) => face(200 + 0.5 * t, 150);
    const raw = noisy(truth, 60, 1.5);
    const causal = causalSeries(raw);
    const lag0 = fixedLagSeries(raw, 0);
    for (let t = 0; t < raw.length; t++) for (let i = 0; i < 5; i++) {
      expect(lag0[t]![i]![0]).toBeCloseTo(causal[t]![i]![0], 9);
      expect(lag0[t]![i]![1]).toBeCloseTo(causal[t]![i]![1], 9);
    }
  });

  it('looking 8 frames ahead brings a moving, noisy face nearer the truth than the causal filter', () => {
    const truth = (t: number) => face(200 + 40 * Math.sin(t / 25), 150 + 10 * Math.cos(t / 17));
    const raw = noisy(truth, 200, 1.5);
    const causal = causalSeries(raw);
    const file = fixedLagSeries(raw, 8);
    expect(file.every((p) => p !== undefined)).toBe(true);
    expect(sqErr(file, truth, 20, 190)).toBeLessThan(0.8 * sqErr(causal, truth, 20, 190));
  });

  it('does not smear a jump backwards: frames before a large step keep their side of it', () => {
    const truth = (t: number) => face(t < 50 ? 200 : 260, 150);
    const raw = noisy(truth, 100, 0.5);
    const file = fixedLagSeries(raw, 8);
    // Two frames before the 60 px step: within 2 px of the truth (a smear would pull it tens of px).
    expect(Math.abs(file[48]![0]![0] - truth(48)[0]![0])).toBeLessThan(2);
    expect(Math.abs(file[52]![0]![0] - truth(52)[0]![0])).toBeLessThan(3);
  });

  it('frames without a measurement are smoothed through; none before the first', () => {
    const truth = (t: number) => face(200 + t, 150);
    const raw: (FivePoints | undefined)[] = noisy(truth, 40, 0.5);
    raw[0] = undefined;
    raw[20] = undefined;
    const file = fixedLagSeries(raw, 5);
    expect(file[0]).toBeUndefined();
    expect(Math.abs(file[20]![0]![0] - truth(20)[0]![0])).toBeLessThan(2);
    expect(() => fixedLagSeries(raw, -1)).toThrow(TypeError);
  });
});
