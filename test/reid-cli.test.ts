import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Components } from '../src/engine/components.ts';
import { FaceDescriptor } from '../src/engine/faceDescriptor.ts';
import { isFaceRestoreError } from '../src/errors.ts';
import { runFile } from '../src/apps/file/runFile.ts';
import { NullSink } from '../src/stream/nullSink.ts';
import { ConstantFidelity, PerFrameTracker } from '../src/track/tracker.ts';
import { readTracksFile, type TracksDocument } from '../src/track/trackExport.ts';
import { runFacerestore, type CliResult } from './helpers/cli.ts';
import { shared } from './helpers/paths.ts';

const CLIP = shared('footage/short_hamilton_clip.mp4');
const YUNET = shared('models/face_detection_yunet_2026may.onnx');
/** Frames a face waits for look-ahead before alignment (the options' default lookAhead). */
const LOOK_AHEAD = 8;

// The clip's shots (docs/identity.md): 0 stage wide (the performer ≤ 44 px, a seated man ≤ 25 px), 1 a man in
// profile close-up and blurred audience, 2 the performer close (one face, 60–90 px), 3 the audience.
describe('facerestore track --reid on short_hamilton_clip.mp4 (YuNet + 68-point refinement)', () => {
  let dir: string;
  let run: CliResult;
  let doc: TracksDocument;
  const shotOf = (i: number) => doc.shots.findIndex((s) => i >= s.firstFrame && i <= s.lastFrame);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'reid-cli-'));
    const json = path.join(dir, 'tracks.json');
    // The performer is the first face tracked (id 0): his w override is given before the run, as a user would
    // after a first look at the tracks.
    run = await runFacerestore(['track', CLIP, '--json', json, '--reid', '--detector', 'yunet', '--detector-model', YUNET, '--fidelity-override', '0=0.9', '--no-progress']);
    if (run.code === 0) doc = readTracksFile(json);
  }, 240_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the performer keeps one id wherever his face is ≥ 40 px wide, across the cuts, his provisional frames relabelled', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(doc.shots.map((s) => s.firstFrame)).toEqual([0, 20, 82, 211]);
    const wide = (shot: number) => doc.frames.filter((f) => shotOf(f.index) === shot).flatMap((f) => f.faces.filter((x) => (x.rawBox ?? x.box).width >= 40).map((x) => ({ frame: f.index, face: x })));
    const perf0 = new Set(wide(0).map((x) => x.face.trackId));
    expect([...perf0]).toEqual([0]);
    // Shot 2: the performer alone, on all of its 129 frames, one id: his shot-0 id, from the shot's first frame on.
    const shot2 = wide(2);
    expect(shot2).toHaveLength(129);
    expect(new Set(shot2.map((x) => x.face.trackId))).toEqual(new Set([0]));
    expect(doc.reidentifications).toHaveLength(1);
    const r = doc.reidentifications![0]!;
    expect(r.trackId).toBe(0);
    expect(shotOf(r.frame)).toBe(2);
    expect(r.distance).toBeLessThan(0.38);
    // Before the decision the faces carry the provisional id as provisionalId (look-ahead window and export hold together).
    const before = shot2.filter((x) => x.frame < r.frame);
    expect(before.length).toBe(r.frame - 82);
    expect(before.every((x) => x.face.provisionalId === r.provisionalId)).toBe(true);
    expect(shot2.filter((x) => x.frame >= r.frame).every((x) => x.face.provisionalId === undefined && (x.face.identityConfidence ?? 0) > 0)).toBe(true);
    expect(r.relabelledFrames).toBe(r.frame - 82 - LOOK_AHEAD);
    expect(doc.tracks.find((t) => t.trackId === 0)!.shots).toEqual([0, 2]);
    expect(doc.tracks.some((t) => t.trackId === r.provisionalId)).toBe(false);
  });

  it('the w override follows him: his frames from the decision on and those still in the look-ahead window are restored with it', () => {
    expect(run.code, run.stderr).toBe(0);
    const r = doc.reidentifications![0]!;
    for (const f of doc.frames) for (const face of f.faces) {
      if (face.trackId !== 0) expect(face.fidelity, `frame ${f.index} id ${face.trackId}`).toBe(0.5);
      // Frames written before the decision (beyond the look-ahead window) were restored under the provisional id.
      else if (face.provisionalId !== undefined && f.index < r.frame - LOOK_AHEAD) expect(face.fidelity, `frame ${f.index}`).toBe(0.5);
      else expect(face.fidelity, `frame ${f.index}`).toBe(0.9);
    }
  });

  it('no false merge: every other id stays within one shot, and two faces on a frame never share an id', () => {
    expect(run.code, run.stderr).toBe(0);
    const shotsOf = new Map<number, Set<number>>();
    for (const f of doc.frames) {
      const ids = f.faces.map((x) => x.trackId);
      expect(new Set(ids).size, `frame ${f.index}`).toBe(ids.length);
      for (const id of ids) shotsOf.set(id, (shotsOf.get(id) ?? new Set()).add(shotOf(f.index)));
    }
    expect([...shotsOf.get(0)!]).toEqual([0, 2]);
    for (const [id, s] of shotsOf) if (id !== 0) expect(s.size, `id ${id} in shots ${[...s]}`).toBe(1);
    // Several people in shots 1 and 3, each with an id of its own.
    expect(new Set(doc.frames.filter((f) => shotOf(f.index) === 3).flatMap((f) => f.faces.map((x) => x.trackId))).size).toBeGreaterThanOrEqual(5);
  });
});

describe('--reid validation', () => {
  it('refuses reid without tracking (E_CONFIG) before loading anything', async () => {
    const e = await Components.create({ reid: true, track: false, restorer: 'none' }).catch((x: unknown) => x);
    expect(isFaceRestoreError(e) && e.code).toBe('E_CONFIG');
    expect((e as Error).message).toMatch(/reid needs tracking/);
    const cli = await runFacerestore(['track', CLIP, '--json', path.join(os.tmpdir(), 'never.json'), '--reid', '--no-track']);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/reid needs tracking/);
    // Live tracking is causal and per shot: serve refuses the flag instead of loading a net nothing uses.
    const serve = await runFacerestore(['serve', '--reid', '--restorer', 'none', '--port', '0']);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toMatch(/--reid is for file mode/);
  });

  it('says which weights are missing when the descriptor net cannot be built (E_MODEL_MISSING)', async () => {
    const e = await FaceDescriptor.create({ weightsManifest: '/nonexistent/face_recognition_model-weights_manifest.json' }).catch((x: unknown) => x);
    expect(isFaceRestoreError(e) && e.code).toBe('E_MODEL_MISSING');
    expect((e as Error).message).toMatch(/re-identification needs face-api's face descriptor weights.*@vladmandic\/face-api.*\/nonexistent\/face_recognition_model-weights_manifest\.json/);
  });

  it('loads the descriptor net with reid (and only then) and closes it with the component set; a run whose tracker cannot re-identify warns', async () => {
    const warnings: string[] = [];
    const c = await Components.create({ reid: true, restorer: 'none' }, { onWarning: (m) => warnings.push(m) });
    expect(c.describer).toBeInstanceOf(FaceDescriptor);
    const summary = await runFile(c, CLIP, new NullSink(), { start: 1, duration: 0.2, tracker: new PerFrameTracker(new ConstantFidelity(0.5)) });
    expect(summary.frames).toBe(6);
    expect(warnings).toEqual([expect.stringMatching(/^reid: this run's tracker does not re-identify/)]);
    await c.close();
    await c.close();
    const plain = await Components.create({ restorer: 'none' });
    expect(plain.describer).toBeUndefined();
    await plain.close();
  });
});
