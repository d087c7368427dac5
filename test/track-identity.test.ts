import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStack, trackDistances, trackWithIdentity, type IdentityRun } from '../bench/track-identity.ts';
import { decodeFrames, HAMILTON } from '../bench/track-clip.ts';
import { TrackFidelity } from '../src/track/fidelity.ts';
import { Embedding, IDENTITY_DEFAULTS, identityConfidence, matchIdentities, yawOf } from '../src/track/identity.ts';
import { MultiFaceTracker } from '../src/track/multiTracker.ts';
import type { FaceDetection, FivePoints, VideoFrame } from '../src/types.ts';

const emb = (v: number[]): Embedding => {
  const e = new Embedding(v.length);
  e.add(v);
  return e;
};

describe('identity bookkeeping', () => {
  it('matches new tracks one-to-one, nearest first, only to candidates last seen before they started', () => {
    const fresh = [{ embedding: emb([0, 0]), firstFrame: 10 }, { embedding: emb([0.1, 0]), firstFrame: 10 }];
    const cands = [{ id: 7, embedding: emb([0.05, 0]), lastSeen: 5 }, { id: 8, embedding: emb([0, 0]), lastSeen: 10 }];
    const r = matchIdentities(fresh, cands, 0.3);
    // Candidate 8 was seen on frame 10, when both new tracks were already live: never merged.
    expect(r.map((x) => x.candidate?.id)).toEqual([7, undefined]);
    expect(r[1]!.distance).toBeCloseTo(0.05, 9);
    expect(matchIdentities(fresh, cands, 0.01).every((x) => x.candidate === undefined)).toBe(true);
  });

  it('confidence: 1 − d/τ when re-identified, 1 − τ/d for a new identity', () => {
    expect(identityConfidence(0.1, 0.4, true)).toBeCloseTo(0.75, 9);
    expect(identityConfidence(0.8, 0.4, false)).toBeCloseTo(0.5, 9);
    expect(identityConfidence(Infinity, 0.4, false)).toBe(1);
  });

  it('yaw proxy: 0 for a frontal layout, large for a profile', () => {
    expect(yawOf([[0, 0], [10, 0], [5, 8], [1, 14], [9, 14]])).toBe(0);
    expect(yawOf([[0, 0], [4, 0], [9, 8], [3, 14], [6, 14]])).toBeGreaterThan(1);
  });

  it('tracker: a face back after a cut takes its old id and keeps its w override; options are validated', () => {
    const W = 96;
    const frame = (index: number, level: number): VideoFrame => {
      const data = new Uint8Array(W * W * 1.5).fill(128);
      data.fill(level, 0, W * W);
      // Texture so the face passes the sharpness gate.
      for (let i = 0; i < W * W; i += 2) data[i] = level + 40;
      return { index, pts: index / 30, width: W, height: W, data };
    };
    const det = (x: number): FaceDetection => {
      const p: FivePoints = [[x + 15, 30], [x + 35, 30], [x + 25, 42], [x + 17, 52], [x + 33, 52]];
      return { box: { x, y: 15, width: 50, height: 50 }, score: 0.95, points: p };
    };
    const fidelity = new TrackFidelity({ w: 0.5 });
    const t = new MultiFaceTracker({ fidelity, identity: { decideAfter: 3 } });
    const A = Array.from({ length: 128 }, (_, i) => Math.sin(i) / 8);
    const B = Array.from({ length: 128 }, (_, i) => Math.cos(i) / 8);
    const step = (i: number, level: number, x: number, d: number[]) => {
      const f = frame(i, level);
      const faces = t.update(f, [det(x)]);
      const want = t.descriptorRequests();
      return t.identify(f, faces, new Map(want.map((w) => [w.trackId, d])));
    };
    let out: ReturnType<typeof step> = [];
    for (let i = 0; i < 5; i++) out = step(i, 40, 10, A);
    const idA = out[0]!.trackId;
    fidelity.setOverride(idA, 0.9);
    // A cut (brightness jump) and another person (B): a new id.
    for (let i = 5; i < 10; i++) out = step(i, 200, 30, B);
    expect(t.lastFrame!.cut).toBe(false);
    const idB = out[0]!.trackId;
    expect(idB).not.toBe(idA);
    // Cut back to A: after its first descriptor the new track carries A's id and A's override.
    out = step(10, 40, 12, A);
    expect(out[0]!.trackId).toBe(idA);
    expect(out[0]!.fidelity).toBe(0.9);
    expect(out[0]!.identityConfidence).toBeGreaterThan(0.9);
    expect(() => new MultiFaceTracker({ identity: { threshold: 0 } })).toThrow(TypeError);
    expect(() => new MultiFaceTracker({ identity: { every: 0.5 } })).toThrow(TypeError);
    expect(new MultiFaceTracker().descriptorRequests()).toEqual([]);
  });
});

describe('tracker: provisional ids and renames (what the file runner and the tracks export relabel with)', () => {
  const W = 96;
  const frame = (index: number, level: number): VideoFrame => {
    const data = new Uint8Array(W * W * 1.5).fill(128);
    data.fill(level, 0, W * W);
    for (let i = 0; i < W * W; i += 2) data[i] = level + 40;
    return { index, pts: index / 30, width: W, height: W, data };
  };
  const det = (x: number): FaceDetection => {
    const p: FivePoints = [[x + 15, 30], [x + 35, 30], [x + 25, 42], [x + 17, 52], [x + 33, 52]];
    return { box: { x, y: 15, width: 50, height: 50 }, score: 0.95, points: p };
  };
  const A = Array.from({ length: 128 }, (_, i) => Math.sin(i) / 8);
  const B = Array.from({ length: 128 }, (_, i) => Math.cos(i) / 8);
  // A seen from farther off: 0.5 from A (beyond the threshold alone; the mean with one A descriptor is 0.25 away).
  const A2 = A.map((v) => v + 0.5 / Math.sqrt(128));

  it('lists pending ids per frame, reports the rename with the w override, and revises points under the provisional id', () => {
    const fidelity = new TrackFidelity({ w: 0.5 });
    const t = new MultiFaceTracker({ fidelity, identity: { decideAfter: 3 }, lookAhead: 4 });
    const step = (i: number, level: number, x: number, d: number[]) => {
      const f = frame(i, level);
      const faces = t.update(f, [det(x)]);
      const want = t.descriptorRequests();
      return t.identify(f, faces, new Map(want.map((w) => [w.trackId, d])));
    };
    let out = step(0, 40, 10, A);
    const idA = out[0]!.trackId;
    expect(t.lastFrame!.identity).toEqual({ pending: [idA], reidentified: [] });
    for (let i = 1; i < 5; i++) out = step(i, 40, 10, A);
    // Decided after 3 descriptors without a match: no longer pending.
    expect(t.lastFrame!.identity).toEqual({ pending: [], reidentified: [] });
    fidelity.setOverride(idA, 0.9);
    for (let i = 5; i < 10; i++) out = step(i, 200, 30, B);
    const idB = out[0]!.trackId;
    // Back to A, first seen from farther off: a new, provisional id …
    out = step(10, 40, 12, A2);
    const provisional = out[0]!.trackId;
    expect(provisional).not.toBe(idA);
    expect(provisional).not.toBe(idB);
    expect(out[0]!.fidelity).toBe(0.5);
    expect(t.lastFrame!.identity).toEqual({ pending: [provisional], reidentified: [] });
    // … re-identified on the next descriptor: the rename carries A's override for frames held with the provisional id.
    out = step(11, 40, 13, A);
    expect(out[0]!.trackId).toBe(idA);
    expect(out[0]!.fidelity).toBe(0.9);
    const ident = t.lastFrame!.identity!;
    expect(ident.pending).toEqual([]);
    expect(ident.reidentified).toHaveLength(1);
    expect(ident.reidentified[0]).toMatchObject({ from: provisional, to: idA, fidelity: 0.9 });
    expect(ident.reidentified[0]!.distance).toBeCloseTo(0.25, 6);
    // Frame 10 (still in the look-ahead window) is revised under either name, and the old A track is not confused with it.
    const p10 = t.revisedPoints(provisional, 10);
    expect(p10).toBeDefined();
    expect(t.revisedPoints(idA, 10)).toEqual(p10);
    expect(p10![0]![0]).toBeGreaterThan(12 + 15 - 1e-6);
    // Without a w override on the earlier id the rename carries none.
    const t2 = new MultiFaceTracker({ fidelity: new TrackFidelity({ w: 0.5 }), identity: { decideAfter: 3 } });
    const f0 = frame(0, 40);
    t2.identify(f0, t2.update(f0, [det(10)]), new Map([[0, A]]));
    expect(t2.lastFrame!.identity!.reidentified).toEqual([]);
    // Identity off: no identity facts at all.
    const off = new MultiFaceTracker();
    off.update(f0, [det(10)]);
    expect(off.lastFrame!.identity).toBeUndefined();
  });
});

// Shots of the clip (cuts at 20, 82, 211), checked by eye: 0 stage wide (the performer, face ≤ 44 px, and
// a seated man at the left, ≤ 25 px); 1 a curly-haired man in profile close-up with blurred audience
// behind; 2 the performer close (one face, 60–90 px); 3 the audience (the Obamas and others).
describe('re-identification on short_hamilton_clip.mp4 (YuNet + 68-point refinement + face-api descriptor)', () => {
  let run: IdentityRun;
  const SHOT_START = [0, 20, 82, 211];
  const shotOf = (i: number) => SHOT_START.filter((s) => i >= s).length - 1;
  beforeAll(async () => {
    const stack = await createIdentityStack();
    try {
      run = await trackWithIdentity(decodeFrames(HAMILTON), stack.detector, stack.describer, {}, { fidelity: new TrackFidelity({ w: 0.5 }) });
    } finally {
      await stack.close();
    }
  }, 300_000);

  it('the performer keeps his shot-0 id in shot 2 (from the identity decision on), and no other face takes an id from another shot', () => {
    expect(run.cuts).toEqual([20, 82, 211]);
    const ids = (shot: number, minWidth = 0) => new Set(run.faces.filter((f) => f.shot === shot && f.width >= minWidth).map((f) => f.trackId));
    // Shot 0: the performer is the face ≥ 40 px (the only one).
    const perf0 = ids(0, 40);
    expect(perf0.size).toBe(1);
    const performer = [...perf0][0]!;
    // Shot 2: one face; it is the performer's id from the decision on (at most decideAfter frames in).
    const shot2 = run.faces.filter((f) => f.shot === 2);
    const first = shot2.findIndex((f) => f.trackId === performer);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(shot2[first]!.frame - 82).toBeLessThan(IDENTITY_DEFAULTS.decideAfter);
    expect(shot2.slice(first).every((f) => f.trackId === performer)).toBe(true);
    expect(shot2.length - first).toBeGreaterThan(80);
    // No false merge: every id seen in shots 1 and 3 is seen in no other shot, and the shot-0 man at the left keeps his own.
    for (const s of [1, 3]) for (const id of ids(s)) for (const o of [0, 1, 2, 3].filter((x) => x !== s)) expect(ids(o).has(id), `id ${id} of shot ${s} in shot ${o}`).toBe(false);
    for (const id of ids(0)) if (id !== performer) for (const o of [1, 2, 3]) expect(ids(o).has(id)).toBe(false);
    // Two faces on one frame never share an id.
    const perFrame = new Map<number, number[]>();
    for (const f of run.faces) perFrame.set(f.frame, [...(perFrame.get(f.frame) ?? []), f.trackId]);
    for (const [frame, list] of perFrame) expect(new Set(list).size, `frame ${frame}`).toBe(list.length);
    // The faces carry the identity confidence once described; the performer's re-identified face is sure.
    expect(shot2.slice(first).every((f) => f.identityConfidence !== undefined && f.identityConfidence > 0)).toBe(true);
    expect(shotOf(shot2[first]!.frame)).toBe(2);
  });

  it('false-merge margin: the nearest two different people (mean descriptors) lie beyond the threshold, the performer\'s shots within', () => {
    const pairs = trackDistances(run);
    const key = (k: string) => ({ shot: Number(k.slice(1, k.indexOf('#'))), id: Number(k.slice(k.indexOf('#') + 1)) });
    let same = -Infinity;
    let different = Infinity;
    // Who is who: shot 2 shows only the performer (his provisional id there included); in shot 0 he is the face ≥ 40 px.
    const performer = run.faces.find((f) => f.shot === 0 && f.width >= 40)!.trackId;
    const isPerformer = (k: { shot: number; id: number }) => k.shot === 2 || (k.shot === 0 && k.id === performer);
    for (const p of pairs) {
      const a = key(p.a), b = key(p.b);
      if (isPerformer(a) && isPerformer(b)) {
        // His final id in shot 0 against shot 2 (the provisional id's early frames lie farther: 0.38 measured).
        if (a.id === performer && b.id === performer) same = Math.max(same, p.distance);
      } else if (!(a.shot === b.shot && a.id === b.id)) different = Math.min(different, p.distance);
    }
    expect(same).toBeGreaterThan(0);
    expect(same).toBeLessThan(IDENTITY_DEFAULTS.threshold);
    expect(different).toBeGreaterThan(IDENTITY_DEFAULTS.threshold);
    // Cheap: descriptors on a fraction of the face-frames (start, probation, then every 10th frame).
    expect(run.descriptors).toBeLessThan(0.5 * run.faces.length);
  });
});
