import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyAffine } from '../src/compose/align.ts';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import type { FaceDetector } from '../src/detect/detector.ts';
import { Landmark68, RefinedDetector } from '../src/engine/landmarkRefiner.ts';
import { carryOver, LiveDetector } from '../src/apps/live/liveDetector.ts';
import { LiveRestorer } from '../src/apps/live/liveRestorer.ts';
import { DEFAULT_REFINE_EVERY, MAX_REFINE_EVERY, restorePeerConfigSchema } from '../src/apps/live/peerConfig.ts';
import type { Affine, FaceDetection, FivePoints, Point, VideoFrame } from '../src/types.ts';
import { runFacerestore } from './helpers/cli.ts';
import { stillFrame } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';

/** A detection moved by a similarity (box by its corners' image, points and landmarks exactly). */
function moved(d: FaceDetection, m: Affine): FaceDetection {
  const p = (q: Point) => applyAffine(m, q);
  const [x0, y0] = p([d.box.x, d.box.y]);
  const [x1, y1] = p([d.box.x + d.box.width, d.box.y + d.box.height]);
  return { ...d, box: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, points: d.points.map(p) as unknown as FivePoints };
}

/** Points within `tol` px of each other, pairwise. */
function expectPointsClose(a: readonly Point[], b: readonly Point[], tol: number): void {
  expect(a).toHaveLength(b.length);
  a.forEach((p, i) => {
    expect(Math.abs(p[0] - b[i]![0])).toBeLessThan(tol);
    expect(Math.abs(p[1] - b[i]![1])).toBeLessThan(tol);
  });
}

describe('LiveDetector: 68-point refinement on every n-th detection, carried over in between', () => {
  let blaze: BlazeFaceDetector;
  let lm: Landmark68;
  let frame: VideoFrame;
  let raw: FaceDetection[];
  let refined: FaceDetection[];
  beforeAll(async () => {
    blaze = await BlazeFaceDetector.create({ intraOpThreads: 1 });
    lm = await Landmark68.create({ intraOpThreads: 1 });
    frame = await stillFrame(shared('stills/obama_and_biden.jpg'));
    // The two faces (the detector's two best: the photo's third detection is small and far back).
    raw = (await blaze.detect(frame)).slice(0, 2);
    refined = await new RefinedDetector({ name: 'fixed', detect: async () => raw, close: async () => {} }, lm).detect(frame);
  }, 60_000);
  afterAll(async () => {
    await lm?.close();
    await blaze?.close();
  });

  /** A scripted inner detector: the real detections, moved by the similarity of the call (identity by default). */
  function scripted(moves: Array<Affine | 'extra'>): FaceDetector & { calls: number } {
    const d = {
      name: 'scripted',
      calls: 0,
      async detect(): Promise<FaceDetection[]> {
        const m = moves[d.calls++] ?? [1, 0, 0, 0, 1, 0];
        if (m === 'extra') return [...raw, { ...raw[0]!, box: { x: 0, y: 0, width: 40, height: 40 } }];
        return raw.map((r) => moved(r, m));
      },
      async close() {},
    };
    return d;
  }

  it('two faces found, and the net moves their points (what the test relies on)', () => {
    expect(raw).toHaveLength(2);
    expect(Math.min(...raw.map((d) => d.box.width))).toBeGreaterThan(100);
    expect(refined.every((d) => d.landmarks68?.length === 68)).toBe(true);
    const shift = Math.max(...refined.flatMap((d, i) => d.points.map((p, k) => Math.hypot(p[0] - raw[i]!.points[k]![0], p[1] - raw[i]!.points[k]![1]))));
    expect(shift).toBeGreaterThan(1);
  });

  it('refined points are used: the net\'s on call 0, carried on calls 1–2 (moved with the face), the net again on call 3', async () => {
    const shift: Affine = [1, 0, 12, 0, 1, -7];
    // A similarity with scale and rotation about the first face's centre (it comes closer and tilts).
    const c = 1.05 * Math.cos(0.05), s = 1.05 * Math.sin(0.05);
    const ox = raw[0]!.box.x + raw[0]!.box.width / 2, oy = raw[0]!.box.y + raw[0]!.box.height / 2;
    const turn: Affine = [c, -s, ox - c * ox + s * oy + 3, s, c, oy - s * ox - c * oy + 4];
    const inner = scripted([[1, 0, 0, 0, 1, 0], shift, turn]);
    const det = new LiveDetector(inner, lm, 3);
    expect(det.name).toBe('scripted+landmark68/3');
    const first = await det.detect(frame);
    expect(det.refinedCalls).toBe(1);
    first.forEach((d, i) => {
      expect(d.points).toEqual(refined[i]!.points);
      expect(d.landmarks68).toEqual(refined[i]!.landmarks68);
    });
    for (const m of [shift, turn]) {
      const out = await det.detect(frame);
      expect(det.refinedCalls).toBe(1);
      out.forEach((d, i) => {
        // The detector's own box and score; the refined points and landmarks, moved as the detector's points moved.
        expect(d.box).toEqual(moved(raw[i]!, m).box);
        expectPointsClose(d.points, refined[i]!.points.map((p) => applyAffine(m, p)), 1e-6);
        expectPointsClose(d.landmarks68!, refined[i]!.landmarks68!.map((p) => applyAffine(m, p)), 1e-6);
      });
    }
    await det.detect(frame);
    expect(det.refinedCalls).toBe(2);
    // The detector ran once per call, never twice (refinement reuses the call's detections).
    expect(inner.calls).toBe(4);
    const t = det.spent;
    expect(t.detectMs).toBeGreaterThanOrEqual(0);
    expect(t.refineMs).toBeGreaterThan(0);
  }, 60_000);

  it('a face the last refinement did not see is refined at once', async () => {
    const inner = scripted([[1, 0, 0, 0, 1, 0], 'extra']);
    const det = new LiveDetector(inner, lm, 5);
    await det.detect(frame);
    expect(det.refinedCalls).toBe(1);
    const out = await det.detect(frame);
    expect(det.refinedCalls).toBe(2);
    expect(inner.calls).toBe(2);
    expect(out).toHaveLength(raw.length + 1);
  }, 60_000);

  it('refineEvery 1 is RefinedDetector on every call', async () => {
    const det = new LiveDetector(scripted([]), lm, 1);
    for (let k = 0; k < 2; k++) {
      const out = await det.detect(frame);
      out.forEach((d, i) => expect(d.points).toEqual(refined[i]!.points));
    }
    expect(det.refinedCalls).toBe(2);
  }, 60_000);

  it('carryOver keeps the detector\'s non-rigid motion: a fallen-back face gets the detector\'s points exactly, a refined one its correction', () => {
    const d = raw[0]!;
    // The mouth opens: the detector's mouth corners move down by 6 px, the eyes and nose stay.
    const open = { ...d, points: d.points.map((p, k) => (k >= 3 ? [p[0], p[1] + 6] : p)) as unknown as FivePoints };
    const fellBack = carryOver([{ box: d.box, raw: d.points, out: d }], [open])!;
    expectPointsClose(fellBack[0]!.points, open.points, 1e-9);
    const fix: Point = [1.5, -2];
    const corrected = { ...d, points: d.points.map((p) => [p[0] + fix[0], p[1] + fix[1]]) as unknown as FivePoints };
    const carried = carryOver([{ box: d.box, raw: d.points, out: corrected }], [open])![0]!;
    // Each carried point is the detector's point of now plus the correction, turned and scaled with the face (nearly
    // the identity here: a mouth opening is almost no similarity), so within 0.1 px of open + fix.
    carried.points.forEach((p, k) => {
      expect(Math.abs(p[0] - (open.points[k]![0] + fix[0]))).toBeLessThan(0.1);
      expect(Math.abs(p[1] - (open.points[k]![1] + fix[1]))).toBeLessThan(0.1);
    });
    // The mouth corners followed the detector down (a rigid move of the old refined points would not).
    expect(carried.points[3][1] - corrected.points[3][1]).toBeGreaterThan(5);
  });

  it('carryOver: nothing to carry for an unmatched box; the identity keeps the points', () => {
    const last = refined.map((d, i) => ({ box: raw[i]!.box, raw: raw[i]!.points, out: d }));
    expect(carryOver(last, [{ ...raw[0]!, box: { x: -500, y: -500, width: 10, height: 10 } }])).toBeUndefined();
    expect(carryOver([], raw)).toBeUndefined();
    expect(carryOver(last, [])).toEqual([]);
    const same = carryOver(last, raw)!;
    same.forEach((d, i) => expectPointsClose(d.points, refined[i]!.points, 1e-9));
  });

  it('refineEvery is validated at every edge: constructor, LiveRestorer (E_CONFIG), peer config, CLI', async () => {
    for (const bad of [0, 1.5, MAX_REFINE_EVERY + 1]) {
      expect(() => new LiveDetector(blaze, lm, bad)).toThrow(new RegExp(`for refineEvery but received ${bad}`));
      await expect(LiveRestorer.create({ pipeline: { restorer: 'none' }, budgetMs: 100, refineEvery: bad })).rejects.toMatchObject({ code: 'E_CONFIG' });
      expect(restorePeerConfigSchema.safeParse({ url: 'ws://127.0.0.1:1/ws', room: 'r', peerToken: 't', refineEvery: bad }).success).toBe(false);
    }
    expect(restorePeerConfigSchema.parse({ url: 'ws://127.0.0.1:1/ws', room: 'r', peerToken: 't' }).refineEvery).toBe(DEFAULT_REFINE_EVERY);
    const r = await runFacerestore(['serve', '--refine-every', '0', '--restorer', 'none']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--refine-every.*Expected an integer in \[1, 30\] but received '0'/);
    // The config file's key goes through the same parser.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'refine-every-'));
    try {
      const config = path.join(dir, 'facerestore.config.json');
      writeFileSync(config, JSON.stringify({ serve: { refineEvery: 31 } }));
      const c = await runFacerestore(['serve', '--config', config, '--restorer', 'none']);
      expect(c.code).toBe(2);
      expect(c.stderr).toMatch(/"serve\.refineEvery": Expected an integer in \[1, 30\] but received '31'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
