import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames, findFragments, HAMILTON, summariseShots, trackClip, YUNET } from '../bench/track-clip.ts';
import { ShotCutDetector } from '../src/track/shotCut.ts';
import { readTracksFile, type TracksDocument } from '../src/track/trackExport.ts';
import { YuNetDetector } from '../src/detect/yunet.ts';

// The clip's hard cuts, checked by eye (stage wide → profile close-up → singer → audience) and by
// ffmpeg's scene score (the only frames above 0.2).
const CUTS = [20, 82, 211];

describe('tracking on a real clip with shot cuts (short_hamilton_clip.mp4)', () => {
  let detector: YuNetDetector;
  let dir: string;
  let doc: TracksDocument;
  let jsonPath: string;
  let cuts: number[];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'track-hamilton-'));
    jsonPath = path.join(dir, 'tracks.json');
    detector = await YuNetDetector.create({ modelPath: YUNET, intraOpThreads: 1 });
    const r = await trackClip({ file: HAMILTON, detector, jsonPath });
    doc = r.doc;
    cuts = r.cuts;
  });

  afterAll(async () => {
    await detector?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds exactly the hard cuts (the standalone detector and the tracker)', async () => {
    const standalone = new ShotCutDetector();
    const found: number[] = [];
    for await (const frame of decodeFrames(HAMILTON)) if (standalone.push(frame).cut) found.push(frame.index);
    expect(found).toEqual(CUTS);
    expect(cuts).toEqual(CUTS);
    expect(doc.shots.map((s) => s.firstFrame)).toEqual([0, ...CUTS]);
  });

  it('ends every track at a cut: no id appears in two shots', () => {
    const shotOfFrame = (i: number): number => doc.shots.findIndex((s) => i >= s.firstFrame && i <= s.lastFrame);
    const shotsOfTrack = new Map<number, Set<number>>();
    for (const f of doc.frames) for (const face of f.faces) shotsOfTrack.set(face.trackId, (shotsOfTrack.get(face.trackId) ?? new Set()).add(shotOfFrame(f.index)));
    for (const [id, shots] of shotsOfTrack) expect([...shots], `track ${id}`).toHaveLength(1);
    for (const t of doc.tracks) expect(shotOfFrame(t.firstFrame)).toBe(shotOfFrame(t.lastFrame));
  });

  it('keeps one id per visible face within a shot', () => {
    const shots = summariseShots(doc);
    // Shot 2 (frames 82–210) shows one singer: one id over all 129 frames.
    expect(shots[2]!.tracks).toHaveLength(1);
    expect(shots[2]!.tracks[0]!.frames).toBe(129);
    expect(shots[2]!.shortTracks).toBe(0);
    // No face changes id: no track starts where another ended shortly before, in the same shot.
    expect(findFragments(doc)).toEqual([]);
    // Every shot has its faces (1–7 per frame in this clip).
    for (const s of shots) expect(s.tracks.length).toBeGreaterThanOrEqual(1);
  });

  it('streams a tracks file that validates against the schema and matches the in-memory document', () => {
    const file = readTracksFile(jsonPath);
    expect(file.frames).toHaveLength(275);
    expect(file.frames.length).toBe(doc.frames.length);
    expect(file.tracks).toEqual(doc.tracks);
    expect(file.shots).toEqual(doc.shots);
    expect(file.frames[100]).toEqual(doc.frames[100]);
    const face = file.frames[100]!.faces[0]!;
    expect(face.points).not.toEqual(face.rawPoints); // smoothed vs raw
  });

  it('with detection every 5th frame and region re-detection in between: cuts found, no id changes, regions cheaper', async () => {
    const r = await trackClip({ file: HAMILTON, detector, limit: 120, regions: true, tracker: { detectEvery: 5 } });
    expect(r.cuts).toEqual([20, 82]);
    expect(r.regionDetections).toBeGreaterThan(50);
    expect(findFragments(r.doc)).toEqual([]);
    expect(r.regionMs / r.regionDetections).toBeLessThan(r.detectMs / r.detections);
  });

  it('with detection every 3rd frame: same cuts, still no id changes', async () => {
    const r = await trackClip({ file: HAMILTON, detector, tracker: { detectEvery: 3 } });
    expect(r.cuts).toEqual(CUTS);
    expect(r.detections).toBeLessThan(0.5 * r.doc.frames.length);
    expect(findFragments(r.doc)).toEqual([]);
    expect(summariseShots(r.doc)[2]!.tracks).toHaveLength(1);
  });
});
