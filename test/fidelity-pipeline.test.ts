import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyStageTimes, FaceProcessor } from '../src/engine/faceProcessor.ts';
import { ClassicRestorer } from '../src/restore/classicRestorer.ts';
import type { Restorer } from '../src/restore/restorer.ts';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import { TrackFidelity } from '../src/track/fidelity.ts';
import { MultiFaceTracker } from '../src/track/multiTracker.ts';
import { parseTracksDocument } from '../src/track/trackExport.ts';
import type { VideoFrame } from '../src/types.ts';
import { ffmpeg, i420FromRgb } from './helpers/media.ts';
import { repo, shared } from './helpers/paths.ts';

/** A real restorer that also records the weights of every call. */
class RecordingRestorer implements Restorer {
  readonly calls: number[][] = [];
  readonly #inner = new ClassicRestorer();
  readonly name = 'recording classic';
  readonly maxBatch = 16;
  async restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    this.calls.push([...weights]);
    return this.#inner.restore(crops, weights);
  }
  async close(): Promise<void> {}
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-fidelity-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('per-face fidelity reaches the restorer', () => {
  it('two faces with different overrides: one restorer batch carries both values', async () => {
    const { data, info } = await sharp(shared('stills/two_people.jpg')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const detector = await BlazeFaceDetector.create();
    const fidelity = new TrackFidelity({ w: 0.5 });
    fidelity.setOverride(0, 0.2);
    fidelity.setOverride(1, 0.9);
    const restorer = new RecordingRestorer();
    const processor = new FaceProcessor(detector, new MultiFaceTracker({ fidelity }), restorer, emptyStageTimes());
    try {
      const frames = [];
      for (let i = 0; i < 3; i++) {
        const frame: VideoFrame = i420FromRgb(data, info.width, info.height, undefined, i);
        frames.push(await processor.prepare(frame));
      }
      expect(frames.map((f) => f.faces.length)).toEqual([2, 2, 2]);
      await processor.compose(frames);
      expect(restorer.calls).toHaveLength(1);
      const byTrack = frames.flatMap((f) => f.faces.map((x) => [x.trackId, x.fidelity] as const));
      expect(restorer.calls[0]).toEqual(byTrack.map(([, w]) => w));
      expect(new Set(byTrack.map(([id]) => id))).toEqual(new Set([0, 1]));
      for (const [id, w] of byTrack) expect(w).toBeCloseTo(id === 0 ? 0.2 : 0.9, 9);
    } finally {
      await detector.close();
    }
  });

  it('CLI overrides show up per track in the tracks export of a restore run', async () => {
    const clip = path.join(tmp, 'two.mp4');
    await ffmpeg('-loop', '1', '-framerate', '25', '-i', shared('stills/two_people.jpg'), '-t', '0.4', '-vf', 'scale=1126:662', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', clip);
    const tracks = path.join(tmp, 'tracks.json');
    await promisify(execFile)(process.execPath, [repo('bin/facerestore.mjs'), 'restore', clip, '-o', path.join(tmp, 'out.mp4'), '--no-progress', '--fidelity-override', '0=0.1', '--fidelity-override', '1=0.8', '--tracks-json', tracks]);
    const doc = parseTracksDocument(JSON.parse(await readFile(tracks, 'utf8')));
    expect(doc.frames).toHaveLength(10);
    for (const f of doc.frames) {
      expect(f.faces.map((x) => [x.trackId, x.fidelity]).sort()).toEqual([[0, 0.1], [1, 0.8]]);
    }
  });
});

describe('facerestore track', () => {
  it('writes a tracks document that validates, with shots split at the clip cuts and one frame record per frame', async () => {
    const out = path.join(tmp, 'hamilton-tracks.json');
    await promisify(execFile)(process.execPath, [repo('bin/facerestore.mjs'), 'track', shared('footage/short_hamilton_clip.mp4'), '--json', out, '--no-progress']);
    const doc = parseTracksDocument(JSON.parse(await readFile(out, 'utf8')));
    expect(doc.frames).toHaveLength(275);
    expect(doc.frames.map((f) => f.index)).toEqual(Array.from({ length: 275 }, (_, i) => i));
    expect(doc.shots.map((s) => s.firstFrame)).toEqual([0, 20, 82, 211]);
    // No track id appears in two shots.
    for (const t of doc.tracks) {
      const shot = doc.shots.find((s) => t.firstFrame >= s.firstFrame && t.firstFrame <= s.lastFrame)!;
      expect(t.lastFrame).toBeLessThanOrEqual(shot.lastFrame);
    }
  });

  it('bad input fails with its code and leaves no tracks file', async () => {
    const out = path.join(tmp, 'none.json');
    const err = await promisify(execFile)(process.execPath, [repo('bin/facerestore.mjs'), 'track', '/nonexistent.mp4', '--json', out]).catch((e) => e);
    expect(err.code).toBe(3);
    expect(err.stderr).toMatch(/E_INPUT_MISSING/);
    await expect(readFile(out)).rejects.toThrow();
  });
});
