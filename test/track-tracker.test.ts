import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Box, FaceDetection, FivePoints, VideoFrame } from '../src/types.ts';
import { faceQuality, TrackFidelity } from '../src/track/fidelity.ts';
import { MultiFaceTracker, type TrackedFace } from '../src/track/multiTracker.ts';
import { YuNetDetector } from '../src/detect/yunet.ts';
import { i420FromRgb, stillFrame } from './helpers/media.ts';

const W = 640;
const H = 360;
const SHARED = path.resolve(import.meta.dirname, '../../shared');

const pixels = new Map<string, Uint8Array>();

/** A uniform frame of one colour (no shot cut between frames of the same colour). */
function frame(index: number, rgb: readonly [number, number, number] = [90, 90, 90]): VideoFrame {
  let data = pixels.get(rgb.join());
  if (data === undefined) {
    const packed = new Uint8Array(W * H * 3);
    for (let i = 0; i < W * H; i++) packed.set(rgb, i * 3);
    data = i420FromRgb(packed, W, H).data;
    pixels.set(rgb.join(), data);
  }
  return { index, pts: index / 30, width: W, height: H, data };
}

/** A synthetic detection: a face box and five points placed inside it like a frontal face. */
function face(cx: number, cy: number, side: number, score = 0.9, jitter = 0): FaceDetection {
  const w = side * 0.85;
  const h = side / 0.85;
  const box: Box = { x: cx - w / 2, y: cy - h / 2, width: w, height: h };
  const at = (fx: number, fy: number, k: number): readonly [number, number] => [
    box.x + fx * w + jitter * Math.sin(k * 12.9898),
    box.y + fy * h + jitter * Math.cos(k * 78.233),
  ];
  const points = [at(0.3, 0.4, 1), at(0.7, 0.4, 2), at(0.5, 0.58, 3), at(0.34, 0.76, 4), at(0.66, 0.76, 5)] as unknown as FivePoints;
  return { box, score, points };
}

function ids(faces: readonly TrackedFace[]): number[] {
  return faces.map((f) => f.trackId);
}

describe('MultiFaceTracker: identities', () => {
  it('keeps both ids when two faces cross, one hidden behind the other for a while', () => {
    const tracker = new MultiFaceTracker();
    // A moves right, B moves left, slightly lower and smaller; they meet around frame 40.
    const a = (t: number): [number, number] => [80 + 6 * t, 150];
    const b = (t: number): [number, number] => [560 - 6 * t, 165];
    let idA: number | undefined;
    let idB: number | undefined;
    let hidden = 0;
    for (let t = 0; t < 80; t++) {
      const fa = face(...a(t), 90, 0.95, 0.8);
      const fb = face(...b(t), 70, 0.9, 0.8);
      // B is hidden (not detected) while it overlaps A by more than a fifth of its width.
      const overlap = Math.abs(a(t)[0] - b(t)[0]) < 60;
      if (overlap) hidden++;
      const faces = tracker.update(frame(t), overlap ? [fa] : [fb, fa]);
      const nearest = (x: number): TrackedFace | undefined => faces.find((f) => Math.abs(f.box.x + f.box.width / 2 - x) < 20);
      const ta = nearest(a(t)[0]);
      expect(ta, `A on frame ${t}`).toBeDefined();
      idA ??= ta!.trackId;
      expect(ta!.trackId, `A's id on frame ${t}`).toBe(idA);
      if (!overlap) {
        const tb = nearest(b(t)[0]);
        expect(tb, `B on frame ${t}`).toBeDefined();
        if (t > 2) {
          idB ??= tb!.trackId;
          expect(tb!.trackId, `B's id on frame ${t}`).toBe(idB);
        }
      } else {
        expect(faces.length, `hidden B is not output on frame ${t}`).toBe(1);
      }
    }
    expect(hidden).toBeGreaterThan(5);
    expect(idA).not.toBe(idB);
  });

  it('keeps ids when two faces pass close to each other, both detected throughout', () => {
    const tracker = new MultiFaceTracker();
    const seen = new Map<string, Set<number>>();
    for (let t = 0; t < 60; t++) {
      const dets = [face(100 + 8 * t, 150, 80), face(540 - 8 * t, 200, 80)];
      const faces = tracker.update(frame(t), dets);
      for (const f of faces) {
        const who = f.box.x + f.box.width / 2 - (100 + 8 * t) < 5 && Math.abs(f.box.y + f.box.height / 2 - 150) < 20 ? 'A' : 'B';
        seen.set(who, (seen.get(who) ?? new Set()).add(f.trackId));
      }
    }
    expect([...seen.get('A')!]).toHaveLength(1);
    expect([...seen.get('B')!]).toHaveLength(1);
  });

  it('re-associates a face after a short occlusion and gives a new id after maxAge', () => {
    const tracker = new MultiFaceTracker({ maxAge: 15 });
    const at = (t: number): FaceDetection => face(100 + 4 * t, 180, 100);
    let first: number | undefined;
    for (let t = 0; t < 20; t++) {
      const out = tracker.update(frame(t), [at(t)]);
      first ??= out[0]?.trackId;
    }
    for (let t = 20; t < 30; t++) expect(tracker.update(frame(t), [])).toEqual([]);
    expect(ids(tracker.update(frame(30), [at(30)]))).toEqual([first]);
    for (let t = 31; t < 50; t++) tracker.update(frame(t), []);
    const again = tracker.update(frame(50), [at(50)]);
    expect(again).toHaveLength(1);
    expect(again[0]!.trackId).not.toBe(first);
  });

  it('ends every track at a shot cut, within the frame, and does not smooth across it', () => {
    const tracker = new MultiFaceTracker();
    const before: number[] = [];
    for (let t = 0; t < 10; t++) before.push(...ids(tracker.update(frame(t, [200, 40, 40]), [face(200, 180, 100), face(450, 180, 90)])));
    // Same place, new shot (the colours change completely): new ids, raw points taken as they are.
    const d = face(205, 182, 100);
    const after = tracker.update(frame(10, [30, 60, 220]), [d]);
    expect(tracker.lastFrame?.cut).toBe(true);
    expect(new Set(tracker.lastFrame?.ended)).toEqual(new Set(before));
    expect(after).toHaveLength(1);
    expect(before).not.toContain(after[0]!.trackId);
    expect(after[0]!.points).toEqual(d.points);
  });

  it('does not start a track from a duplicate detection inside a matched face', () => {
    const tracker = new MultiFaceTracker();
    for (let t = 0; t < 5; t++) tracker.update(frame(t), [face(300, 180, 120)]);
    const forehead: FaceDetection = { ...face(300, 140, 60), score: 0.95 };
    for (let t = 5; t < 10; t++) expect(tracker.update(frame(t), [face(300, 180, 120), forehead])).toHaveLength(1);
  });

  it('outputs a doubtful new face only once it is confirmed', () => {
    const tracker = new MultiFaceTracker({ tentativeScore: 0.8 });
    expect(tracker.update(frame(0), [face(300, 180, 100, 0.65)])).toEqual([]);
    const second = tracker.update(frame(1), [face(301, 180, 100, 0.66)]);
    expect(second).toHaveLength(1);
    expect(second[0]!.state).toBe('confirmed');
    // A confident one is output from its first frame, as tentative.
    const other = new MultiFaceTracker().update(frame(0), [face(300, 180, 100, 0.9)]);
    expect(other.map((f) => f.state)).toEqual(['tentative']);
  });

  it('validates its options and the frame order', () => {
    expect(() => new MultiFaceTracker({ detectEvery: 0 })).toThrow(/Expected an integer ≥ 1 for detectEvery but received 0/);
    expect(() => new MultiFaceTracker({ minIou: 2 })).toThrow(/minIou/);
    expect(() => new MultiFaceTracker({ smoothing: { jump: -1 } })).toThrow(/jump/);
    const t = new MultiFaceTracker();
    t.update(frame(3), []);
    expect(() => t.update(frame(3), [])).toThrow(/increasing index order/);
  });
});

describe('MultiFaceTracker: detection cadence', () => {
  it('asks for detection every k-th frame, predicts in between, and detects on a cut', () => {
    const tracker = new MultiFaceTracker({ detectEvery: 4 });
    const asked: number[] = [];
    let last: TrackedFace[] = [];
    for (let t = 0; t < 16; t++) {
      const f = frame(t);
      const need = tracker.needsDetection(f);
      if (need) asked.push(t);
      last = tracker.update(f, need ? [face(100 + 5 * t, 180, 100)] : undefined);
      expect(last, `frame ${t}`).toHaveLength(1);
      expect(last[0]!.detected).toBe(need);
      expect(tracker.lastFrame?.detection).toBe(need ? 'full' : 'none');
      // Predicted frames follow the motion (5 px/frame) closely once the velocity is known.
      if (t > 8) expect(Math.abs(last[0]!.box.x + last[0]!.box.width / 2 - (100 + 5 * t))).toBeLessThan(3);
    }
    // Frame 1 is asked for too: the new track is tentative until its second detection.
    expect(asked).toEqual([0, 1, 5, 9, 13]);
    const cutFrame = frame(16, [250, 250, 0]);
    expect(tracker.needsDetection(cutFrame)).toBe(true);
    expect(tracker.update(cutFrame, [])).toEqual([]);
    expect(tracker.lastFrame?.cut).toBe(true);
  });

  it('gives regions around tracks for local re-detection', () => {
    const tracker = new MultiFaceTracker({ detectEvery: 5 });
    tracker.update(frame(0), [face(100, 100, 80), face(600, 300, 80)]);
    const regions = tracker.regions(W, H, 0.5);
    expect(regions).toHaveLength(2);
    for (const r of regions) {
      expect(r.box.x).toBeGreaterThanOrEqual(0);
      expect(r.box.y).toBeGreaterThanOrEqual(0);
      expect(r.box.x + r.box.width).toBeLessThanOrEqual(W);
      expect(r.box.y + r.box.height).toBeLessThanOrEqual(H);
    }
    expect(regions[0]!.box.width).toBeGreaterThan(120);
  });
});

describe('fidelity per track', () => {
  it('two faces with different overrides come out of the tracker with both values', () => {
    const fidelity = new TrackFidelity({ w: 0.5 });
    const tracker = new MultiFaceTracker({ fidelity });
    const dets = (t: number): FaceDetection[] => [face(150 + t, 180, 100), face(450 - t, 180, 100)];
    const first = tracker.update(frame(0), dets(0));
    expect(first.map((f) => f.fidelity)).toEqual([0.5, 0.5]);
    const [a, b] = ids(first);
    fidelity.setOverride(a!, 0.2);
    fidelity.setOverride(b!, 0.9);
    let prev = first;
    for (let t = 1; t < 60; t++) {
      const faces = tracker.update(frame(t), dets(t));
      // Changes are smoothed: never more than maxStep (0.03) per frame.
      for (const f of faces) expect(Math.abs(f.fidelity - prev.find((p) => p.trackId === f.trackId)!.fidelity)).toBeLessThanOrEqual(0.03 + 1e-9);
      prev = faces;
    }
    expect(prev.map((f) => [f.trackId, f.fidelity])).toEqual([
      [a, 0.2],
      [b, 0.9],
    ]);
    // An override set before a track appears applies from its first frame; removing one returns to the default.
    fidelity.setOverride(b!, undefined);
    for (let t = 60; t < 100; t++) prev = tracker.update(frame(t), dets(t));
    expect(prev.find((f) => f.trackId === b)!.fidelity).toBeCloseTo(0.5, 2);
    expect(() => fidelity.setOverride(a!, 1.5)).toThrow(/Expected a number in \[0, 1\] for w but received 1.5/);
  });

  it('auto mode gives a sharp large face a higher w than a small or blurred one', async () => {
    const detector = await YuNetDetector.create({ modelPath: path.join(SHARED, 'models/face_detection_yunet_2026may.onnx'), intraOpThreads: 1 });
    try {
      const load = (file: string, blur?: number): Promise<VideoFrame> => stillFrame(path.join(SHARED, 'stills', file), blur);
      const policy = new TrackFidelity({ mode: 'auto' });
      const w = async (f: VideoFrame, id: number): Promise<{ w: number; q: ReturnType<typeof faceQuality> }> => {
        const d = (await detector.detect(f))[0]!;
        return { w: policy.fidelityFor(id, d, f), q: faceQuality(f, d.box) };
      };
      const sharpFace = await w(await load('obama.jpg'), 1);
      const blurred = await w(await load('obama.jpg', 4), 2);
      const small = await w(await load('obama-240p.jpg'), 3);
      expect(sharpFace.q.sharpScore).toBeGreaterThan(blurred.q.sharpScore);
      expect(sharpFace.q.sizeScore).toBeGreaterThan(small.q.sizeScore);
      expect(sharpFace.w).toBeGreaterThan(blurred.w);
      expect(sharpFace.w).toBeGreaterThan(small.w);
      expect(sharpFace.w).toBeLessThanOrEqual(0.8);
      expect(Math.min(blurred.w, small.w)).toBeGreaterThanOrEqual(0.3);
    } finally {
      await detector.close();
    }
  });
});
