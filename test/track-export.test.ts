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
