import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCHEMA_FILE, schemaText } from '../bench/track-schema.ts';
import { isFaceRestoreError } from '../src/errors.ts';
import type { Face, FivePoints, VideoFrame } from '../src/types.ts';
import { MultiFaceTracker } from '../src/track/multiTracker.ts';
import { parseTracksDocument, TrackExporter, tracksDocumentSchema } from '../src/track/trackExport.ts';
import { PerFrameTracker, ConstantFidelity } from '../src/track/tracker.ts';

const W = 320;
const H = 240;
const grey = new Uint8Array(W * H * 3).fill(100);
const frame = (index: number): VideoFrame => ({ index, pts: index / 25, width: W, height: H, data: grey });

function det(cx: number, cy: number, score = 0.9) {
  const points: FivePoints = [
    [cx - 15, cy - 10],
    [cx + 15, cy - 10],
    [cx, cy + 5],
    [cx - 12, cy + 20],
    [cx + 12, cy + 20],
  ];
  return { box: { x: cx - 35, y: cy - 40, width: 70, height: 85 }, score, points };
}

/** Tracks a small scripted scene and feeds both a streaming and an in-memory exporter. */
function scene(): { memory: TrackExporter; streamed: string } {
  const tracker = new MultiFaceTracker({ detectEvery: 2 });
  const memory = new TrackExporter({ width: W, height: H, fps: 25, source: 'scene' });
  let streamed = '';
  const stream = new TrackExporter({ width: W, height: H, fps: 25, source: 'scene', write: (c) => (streamed += c) });
  for (let i = 0; i < 12; i++) {
    const f = frame(i);
    const dets = tracker.needsDetection(f) ? [det(80 + 2 * i, 100), det(240 - i, 120, 0.95)] : undefined;
    const faces = tracker.update(f, dets);
    memory.add(f, faces, tracker.lastFrame);
    stream.add(f, faces, tracker.lastFrame);
  }
  stream.finish();
  return { memory, streamed };
}

describe('tracks export', () => {
  it('docs/tracks-schema.json is the JSON Schema of the zod schema (regenerate: node bench/track-schema.ts)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(schemaText());
  });

  it('streams exactly the document it builds in memory, and the document validates', () => {
    const { memory, streamed } = scene();
    const doc = memory.finish();
    expect(JSON.parse(streamed)).toEqual(doc);
    expect(tracksDocumentSchema.parse(doc)).toEqual(doc);
    expect(doc.frames).toHaveLength(12);
    expect(doc.tracks.map((t) => [t.trackId, t.frames])).toEqual([
      [0, 12],
      [1, 12],
    ]);
    // Detection ran on some frames only; predicted faces say so.
    expect(doc.frames.map((f) => f.detection)).toContain('none');
    const predicted = doc.frames.find((f) => f.detection === 'none')!.faces[0]!;
    expect(predicted.detected).toBe(false);
    expect(predicted.rawBox).toBeNull();
    expect(memory.finish()).toBe(doc); // idempotent
  });

  it('exports plain faces (no tracker extras) with defaults', () => {
    const t = new PerFrameTracker(new ConstantFidelity(0.7));
    const e = new TrackExporter({ width: W, height: H });
    e.add(frame(0), t.update(frame(0), [det(100, 100)]));
    const doc = e.finish();
    expect(doc.frames[0]!.faces[0]).toMatchObject({ trackId: 0, state: 'confirmed', detected: true, fidelity: 0.7 });
    expect(doc.shots).toEqual([{ index: 0, firstFrame: 0, lastFrame: 0 }]);
  });

  it('rejects invalid documents with the path of the problem', () => {
    const { memory } = scene();
    const good = structuredClone(memory.finish());
    const bad = (mutate: (d: typeof good) => void): unknown => {
      const d = structuredClone(good);
      mutate(d);
      return d;
    };
    const expectInvalid = (value: unknown, pattern: RegExp): void => {
      try {
        parseTracksDocument(value);
        expect.unreachable();
      } catch (e) {
        expect(isFaceRestoreError(e, 'E_CONFIG')).toBe(true);
        expect((e as Error).message).toMatch(pattern);
      }
    };
    expectInvalid(bad((d) => ((d.frames[0]!.faces[0]! as { fidelity: number }).fidelity = 1.5)), /frames\.0\.faces\.0\.fidelity/);
    expectInvalid(bad((d) => (d.frames[1]!.faces[0]!.points as unknown as unknown[]).pop()), /frames\.1\.faces\.0\.points/);
    expectInvalid(bad((d) => ((d as { version: number }).version = 2)), /version/);
    expectInvalid(bad((d) => ((d.frames[0] as unknown as Record<string, unknown>).extra = 1)), /frames\.0/);
    expectInvalid(null, /\(root\)/);
  });

  it('checks frame order and use after finish', () => {
    const e = new TrackExporter({ width: W, height: H });
    e.add(frame(3), []);
    expect(() => e.add(frame(2), [])).toThrow(/increasing order/);
    e.finish();
    expect(() => e.add(frame(4), [])).toThrow(/after finish/);
    expect(() => new TrackExporter({ width: 0, height: H })).toThrow(/Expected a positive integer for width but received 0/);
  });
});

describe('TrackExporter with re-identification (held frames relabelled)', () => {
  const face = (trackId: number, x: number, extra: Partial<Face> & { identityConfidence?: number } = {}): Face & { identityConfidence?: number } => {
    const d = det(x, 100);
    return { ...d, trackId, rawPoints: d.points, fidelity: 0.5, ...extra };
  };
  const info = (pending: number[], reidentified: Array<{ from: number; to: number; distance: number }> = [], cut = false) => ({ cut, detection: 'full' as const, identity: { pending, reidentified } });

  /** Shot 0: id 0 alone (frames 0–2); cut; shot 1: id 5 provisional (frames 3–6), re-identified as 0 on frame 6, and id 6 never pending. */
  function feed(e: TrackExporter): void {
    for (let i = 0; i < 3; i++) e.add(frame(i), [face(0, 80)], info([]));
    for (let i = 3; i < 6; i++) e.add(frame(i), [face(5, 90, { identityConfidence: 0.1 }), face(6, 200)], info([5], [], i === 3));
    e.add(frame(6), [face(0, 92, { identityConfidence: 0.8 }), face(6, 200)], info([], [{ from: 5, to: 0, distance: 0.12345 }]));
    e.add(frame(7), [face(0, 94), face(6, 200)], info([]));
  }

  it('holds frames with a pending id, writes them with the final id and provisionalId, in frame order', () => {
    const e = new TrackExporter({ width: W, height: H });
    feed(e);
    expect(e.frameCount).toBe(8);
    const doc = parseTracksDocument(e.finish());
    expect(doc.frames.map((f) => f.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const i of [3, 4, 5]) {
      const faces = doc.frames[i]!.faces;
      expect(faces.map((f) => [f.trackId, f.provisionalId])).toEqual([[0, 5], [6, undefined]]);
      expect(faces[0]!.identityConfidence).toBe(0.1);
    }
    expect(doc.frames[6]!.faces[0]).toMatchObject({ trackId: 0, identityConfidence: 0.8 });
    expect(doc.frames[6]!.faces[0]!.provisionalId).toBeUndefined();
    // The provisional id left no track; id 0 spans both shots.
    expect(doc.tracks.map((t) => t.trackId)).toEqual([0, 6]);
    expect(doc.tracks[0]).toEqual({ trackId: 0, shot: 0, firstFrame: 0, lastFrame: 7, frames: 8, detectedFrames: 8, shots: [0, 1] });
    expect(doc.tracks[1]!.shots).toBeUndefined();
    expect(doc.reidentifications).toEqual([{ provisionalId: 5, trackId: 0, frame: 6, distance: 0.123, relabelledFrames: 3 }]);
  });

  it('streams the same document, writing nothing of a held frame before its id is settled', () => {
    let text = '';
    const e = new TrackExporter({ width: W, height: H, write: (c) => (text += c) });
    for (let i = 0; i < 3; i++) e.add(frame(i), [face(0, 80)], info([]));
    e.add(frame(3), [face(5, 90)], info([5], [], true));
    expect(text).toContain('"index":2');
    expect(text).not.toContain('"index":3');
    e.add(frame(4), [face(0, 92)], info([], [{ from: 5, to: 0, distance: 0.2 }]));
    expect(text).toContain('"index":3');
    e.finish();
    const doc = parseTracksDocument(JSON.parse(text));
    expect(doc.frames[3]!.faces[0]).toMatchObject({ trackId: 0, provisionalId: 5 });
    expect(doc.reidentifications).toHaveLength(1);
  });

  it('holds at most holdFrames frames: older ones are written with the provisional id', () => {
    const e = new TrackExporter({ width: W, height: H, holdFrames: 2 });
    feed(e);
    const doc = e.finish();
    // Frame 3 was 2 frames old at frame 5 (written as 5); frames 4 and 5 were still held at frame 6.
    expect(doc.frames[3]!.faces[0]!.trackId).toBe(5);
    expect(doc.frames[4]!.faces[0]).toMatchObject({ trackId: 0, provisionalId: 5 });
    expect(doc.frames[5]!.faces[0]).toMatchObject({ trackId: 0, provisionalId: 5 });
    expect(doc.tracks.find((t) => t.trackId === 5)).toMatchObject({ firstFrame: 3, lastFrame: 3, frames: 1 });
    expect(doc.reidentifications![0]!.relabelledFrames).toBe(2);
    expect(new TrackExporter({ width: W, height: H, holdFrames: 0 }).finish().frames).toEqual([]);
    expect(() => new TrackExporter({ width: W, height: H, holdFrames: -1 })).toThrow(TypeError);
    expect(() => new TrackExporter({ width: W, height: H, holdFrames: 1.5 })).toThrow(TypeError);
  });

  it('without identity facts: no holding, no reidentifications field, no shots lists', () => {
    const e = new TrackExporter({ width: W, height: H });
    e.add(frame(0), [face(0, 80)], { cut: false });
    e.add(frame(1), [face(0, 80)], { cut: true });
    const doc = e.finish();
    expect(doc.frames).toHaveLength(2);
    expect('reidentifications' in doc).toBe(false);
    expect(doc.tracks[0]).toEqual({ trackId: 0, shot: 0, firstFrame: 0, lastFrame: 1, frames: 2, detectedFrames: 2, shots: [0, 1] });
  });
});
