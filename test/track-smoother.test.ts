import { describe, expect, it } from 'vitest';
import type { FivePoints } from '../src/types.ts';
import { assignMinCost } from '../src/track/assignment.ts';
import { ConstantVelocityKalman } from '../src/track/kalman.ts';
import { composePose, decomposePose, LandmarkSmoother } from '../src/track/landmarkSmoother.ts';

// A frontal face with an inter-ocular distance of 60 px.
const BASE: FivePoints = [
  [100, 100],
  [160, 100],
  [130, 135],
  [105, 165],
  [155, 165],
];
const IOD = 60;

function moved(dx: number, dy: number, zoom = 1, angle = 0, about: readonly [number, number] = [130, 130]): FivePoints {
  const c = Math.cos(angle) * zoom;
  const s = Math.sin(angle) * zoom;
  return BASE.map(([x, y]) => {
    const u = x - about[0];
    const v = y - about[1];
    return [about[0] + c * u - s * v + dx, about[1] + s * u + c * v + dy] as const;
  }) as unknown as FivePoints;
}

function maxDistance(a: FivePoints, b: FivePoints): number {
  return Math.max(...a.map((p, i) => Math.hypot(p[0] - b[i]![0], p[1] - b[i]![1])));
}

/** Runs the smoother over a sequence; returns its outputs. */
function run(seq: readonly FivePoints[], s = new LandmarkSmoother()): FivePoints[] {
  return seq.map((p, t) => {
    if (t > 0) s.predict();
    return s.correct(p).points;
  });
}

// Deterministic noise (LCG + Box–Muller) so thresholds do not depend on luck.
function gaussian(seed: number): () => number {
  let x = seed >>> 0;
  const u = (): number => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x + 1) / 4294967297;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

describe('decomposePose / composePose', () => {
  it('round-trips any five points exactly', () => {
    const p = moved(13.2, -7.5, 1.3, 0.4);
    const q = composePose(decomposePose(p));
    expect(maxDistance(p, q)).toBeLessThan(1e-9);
  });

  it('reads translation, scale and rotation of a moved face', () => {
    const a = decomposePose(BASE);
    const b = decomposePose(moved(5, 3, 1.2, 0.1));
    expect(b.logScale - a.logScale).toBeCloseTo(Math.log(1.2), 9);
    expect(b.angle - a.angle).toBeCloseTo(0.1, 9);
    // A rigid motion leaves the shape residual unchanged.
    for (let i = 0; i < 10; i++) expect(b.shape[i]).toBeCloseTo(a.shape[i]!, 9);
  });
});

describe('LandmarkSmoother', () => {
  it('constant input gives constant output', () => {
    const out = run(Array.from({ length: 60 }, () => BASE));
    for (const p of out) expect(maxDistance(p, BASE)).toBeLessThan(1e-9);
  });

  it('follows a ramp (constant velocity) with bounded lag and none in steady state', () => {
    // 3 px/frame to the right and 1 px/frame down, 0.3 %/frame zoom, 0.2°/frame roll.
    const seq = Array.from({ length: 60 }, (_, t) => moved(3 * t, t, 1 + 0.003 * t, (0.2 * Math.PI * t) / 180));
    const out = run(seq);
    const err = out.map((p, t) => maxDistance(p, seq[t]!));
    expect(Math.max(...err)).toBeLessThan(0.05 * IOD);
    expect(Math.max(...err.slice(20))).toBeLessThan(0.005 * IOD);
  });

  it('takes a large step (≥ jump) at once and settles a small one without ringing', () => {
    const big = 0.5 * IOD;
    const seqBig = Array.from({ length: 40 }, (_, t) => moved(t >= 20 ? big : 0, 0));
    const outBig = run(seqBig);
    for (let t = 20; t < 40; t++) expect(maxDistance(outBig[t]!, seqBig[t]!)).toBeLessThan(0.01 * IOD);

    const small = 0.15 * IOD; // below the jump threshold: filtered
    const seq = Array.from({ length: 60 }, (_, t) => moved(t >= 20 ? small : 0, 0));
    const out = run(seq);
    const err = out.map((p, t) => p[0][0] - seq[t]![0][0]);
    // Moves 40 % of the way on the step frame and 75 % two frames later, overshoots by under 30 %, settles within 15 frames.
    expect(Math.abs(err[20]!)).toBeLessThan(0.6 * small);
    expect(Math.abs(err[22]!)).toBeLessThan(0.25 * small);
    expect(Math.max(...err.slice(20))).toBeLessThan(0.3 * small);
    for (let t = 35; t < 60; t++) expect(Math.abs(err[t]!)).toBeLessThan(0.02 * small);
  });

  it('reduces white detector noise on a still face', () => {
    const n = gaussian(7);
    const sigma = 0.02 * IOD;
    const seq = Array.from({ length: 300 }, () => BASE.map(([x, y]) => [x + sigma * n(), y + sigma * n()] as const) as unknown as FivePoints);
    const out = run(seq);
    const rms = (ps: FivePoints[]): number =>
      Math.sqrt(ps.slice(30).reduce((s, p) => s + p.reduce((a, q, i) => a + (q[0] - BASE[i]![0]) ** 2 + (q[1] - BASE[i]![1]) ** 2, 0) / 10, 0) / (ps.length - 30));
    expect(rms(seq)).toBeGreaterThan(0.8 * sigma);
    expect(rms(out)).toBeLessThan(0.4 * sigma);
  });

  it('is resolution-independent: the same motion at 4× scale gives 4× the output', () => {
    const n = gaussian(3);
    const noise = Array.from({ length: 50 }, () => Array.from({ length: 10 }, () => n()));
    const seq = (k: number): FivePoints[] =>
      noise.map((e, t) => moved(2 * t, 0).map(([x, y], i) => [k * (x + 0.5 * e[2 * i]!), k * (y + 0.5 * e[2 * i + 1]!)] as const) as unknown as FivePoints);
    const a = run(seq(1));
    const b = run(seq(4));
    for (let t = 0; t < 50; t++) expect(maxDistance(a[t]!.map(([x, y]) => [4 * x, 4 * y] as const) as unknown as FivePoints, b[t]!)).toBeLessThan(1e-6);
  });

  it('rejects bad options with a precise message', () => {
    expect(() => new LandmarkSmoother({ positionNoise: -1 })).toThrow(/Expected a finite number ≥ 0 for positionNoise but received -1/);
    expect(() => new LandmarkSmoother({ maxAccelBoost: 0.5 })).toThrow(/maxAccelBoost/);
    expect(() => new LandmarkSmoother({ bogus: 1 } as never)).toThrow(/Unknown landmark smoother option bogus/);
  });
});

describe('ConstantVelocityKalman', () => {
  it('learns a velocity and predicts with it', () => {
    const kf = new ConstantVelocityKalman([0], 1, 100);
    for (let t = 1; t <= 30; t++) {
      kf.predict(0.01);
      kf.correct([2 * t], 0.5);
    }
    expect(kf.velocity[0]).toBeCloseTo(2, 2);
    expect(kf.peek()[0]).toBeCloseTo(62, 1);
  });
});

describe('assignMinCost', () => {
  it('finds the minimum-cost assignment, rectangular and with forbidden pairs', () => {
    expect(
      assignMinCost([
        [4, 1, 3],
        [2, 0, 5],
        [3, 2, 2],
      ]),
    ).toEqual([1, 0, 2]);
    // More rows than columns; row 1 may only take column 0.
    expect(
      assignMinCost([
        [0.1, 0.2],
        [0.05, 1e9],
        [0.9, 0.3],
      ]),
    ).toEqual([1, 0, -1]);
    // A forbidden pair is never assigned, even when nothing else is possible.
    expect(assignMinCost([[Infinity]])).toEqual([-1]);
    expect(assignMinCost([])).toEqual([]);
  });
});
