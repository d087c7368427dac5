import { describe, expect, it } from 'vitest';
import { createPipeline } from '../src/apps/file/pipeline.ts';
import { MultiFaceTracker } from '../src/track/multiTracker.ts';
import type { Face, FaceDetection, FivePoints, VideoFrame } from '../src/types.ts';
import { CallbackSink } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';

/** A flat 64×64 frame (no shot cut between frames of the same content). */
const frame = (index: number): VideoFrame => ({ index, pts: index / 25, width: 64, height: 64, data: new Uint8Array(64 * 64 * 1.5).fill(100) });
const det = (x: number): FaceDetection => ({
  box: { x: x - 15, y: 10, width: 30, height: 36 },
  score: 0.95,
  points: [[x - 8, 22], [x + 8, 22], [x, 30], [x - 6, 38], [x + 6, 38]] as unknown as FivePoints,
});

describe('MultiFaceTracker look-ahead (revisedPoints)', () => {
  it('revises recent frames with later ones, only within lookAhead; 0 gives none', () => {
    const t = new MultiFaceTracker({ lookAhead: 4, tentativeScore: 0 });
    const causal = new MultiFaceTracker({ tentativeScore: 0 });
    const noise = [0, 0.6, -0.5, 0.4, -0.7, 0.3, 0.5, -0.4, 0.2, -0.3];
    const outs: Face[][] = [];
    for (let i = 0; i < 10; i++) {
      outs.push(t.update(frame(i), [det(32 + noise[i]!)]));
      causal.update(frame(i), [det(32 + noise[i]!)]);
      expect(causal.revisedPoints(outs[i]![0]!.trackId, i)).toBeUndefined();
    }
    const id = outs[0]![0]!.trackId;
    // The newest frame revised with nothing after it is the causal output.
    expect(t.revisedPoints(id, 9)![0]![0]).toBeCloseTo(outs[9]![0]!.points[0][0], 9);
    // Frame 6, revised with frames 7–9, differs from its causal output.
    expect(t.revisedPoints(id, 6)![0]![0]).not.toBeCloseTo(outs[6]![0]!.points[0][0], 6);
    expect(t.revisedPoints(id, 5)).toBeDefined();
    expect(t.revisedPoints(id, 4)).toBeUndefined(); // more than lookAhead frames before the newest
    expect(t.revisedPoints(id + 99, 8)).toBeUndefined();
    expect(() => new MultiFaceTracker({ lookAhead: -1 })).toThrow(TypeError);
  });
});

describe('file pipeline with look-ahead', () => {
  it('every frame comes out in order; tracked points are revised (raw points unchanged) with --look-ahead 8, not with 0', async () => {
    const run = async (lookAhead: number) => {
      const p = await createPipeline({ restorer: 'none', lookAhead });
      const tracked: Array<{ index: number; faces: readonly Face[] }> = [];
      const written: number[] = [];
      try {
        await p.run(shared('footage/retalk_1.mp4'), new CallbackSink(({ frame }) => void written.push(frame.index)), {
          duration: 2,
          onTracked: (f, faces) => void tracked.push({ index: f.index, faces }),
        });
      } finally {
        await p.close();
      }
      return { tracked, written };
    };
    const a = await run(0);
    const b = await run(8);
    expect(b.written).toEqual(a.written);
    expect(b.written).toEqual([...b.written].sort((x, y) => x - y));
    expect(b.tracked.map((t) => t.index)).toEqual(a.tracked.map((t) => t.index));
    let revised = 0, faces = 0;
    a.tracked.forEach((t, i) => {
      const u = b.tracked[i]!;
      expect(u.faces.length).toBe(t.faces.length);
      t.faces.forEach((f, j) => {
        const g = u.faces[j]!;
        expect(g.rawPoints).toEqual(f.rawPoints);
        faces++;
        if (Math.abs(g.points[0][0] - f.points[0][0]) > 1e-6) revised++;
      });
    });
    expect(faces).toBeGreaterThan(30);
    expect(revised).toBeGreaterThan(0.5 * faces);
  }, 120_000);
});
