import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyAffine } from '../src/compose/align.ts';
import { convexHull, faceRegionPoints, hullMask } from '../src/compose/faceMask.ts';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import { emptyStageTimes, FACE_MASK_FEATHER, FaceProcessor } from '../src/engine/faceProcessor.ts';
import { Landmark68, RefinedDetector } from '../src/engine/landmarkRefiner.ts';
import { ClassicRestorer } from '../src/restore/classicRestorer.ts';
import { MultiFaceTracker } from '../src/track/multiTracker.ts';
import { ConstantFidelity, PerFrameTracker } from '../src/track/tracker.ts';
import type { Point, VideoFrame } from '../src/types.ts';
import { CROP_SIZE } from '../src/types.ts';
import { i420Layout } from '../src/util/yuv.ts';
import { stillFrame } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';

describe('face hull mask', () => {
  it('convex hull drops interior points', () => {
    const h = convexHull([[0, 0], [10, 0], [10, 10], [0, 10], [5, 5], [3, 7]]);
    expect(h).toHaveLength(4);
    expect(h).not.toContainEqual([5, 5]);
  });

  it('the face region adds the forehead: brows lifted towards the top of an upright face', () => {
    const lm: Point[] = Array.from({ length: 68 }, (_, i) => [100 + i, 200]);
    lm[8] = [150, 300];
    lm[27] = [150, 200];
    const r = faceRegionPoints(lm);
    expect(r).toHaveLength(78);
    for (let k = 0; k < 10; k++) expect(r[68 + k]).toEqual([lm[17 + k]![0], 200 - 30]);
    expect(() => faceRegionPoints(lm.slice(1))).toThrow(TypeError);
  });

  it('is 0 outside the hull, 1 deeper than the feather inside, rising in between', () => {
    const pts: Point[] = [[100, 100], [400, 100], [400, 400], [100, 400], [250, 250]];
    const m = hullMask(pts, 512, 20);
    const at = (x: number, y: number) => m[y * 512 + x]!;
    expect(at(50, 50)).toBe(0);
    expect(at(99, 250)).toBe(0);
    expect(at(401, 250)).toBe(0);
    expect(at(250, 250)).toBe(1);
    expect(at(121, 250)).toBe(1);
    expect(at(105, 250)).toBeGreaterThan(0);
    expect(at(105, 250)).toBeLessThan(at(112, 250));
    expect(at(112, 250)).toBeLessThan(1);
  });
});

describe('classic restorer restricted to the face (68-landmark hull)', () => {
  let detector: RefinedDetector;
  let restorer: ClassicRestorer;
  let still: VideoFrame;
  beforeAll(async () => {
    detector = new RefinedDetector(await BlazeFaceDetector.create({ intraOpThreads: 1 }), await Landmark68.create({ intraOpThreads: 1 }));
    restorer = new ClassicRestorer();
    still = await stillFrame(shared('stills/obama.jpg'));
  }, 60_000);
  afterAll(async () => {
    await detector?.close();
    await restorer?.close();
  });

  /** Restores a copy of the still; returns it with the face's crop transform and hull (crop px). */
  async function restoreStill(faceRegion: boolean, tracked = false) {
    const frame: VideoFrame = { ...still, data: Uint8Array.from(still.data) };
    const tracker = tracked ? new MultiFaceTracker({ fidelity: new ConstantFidelity(0.2), tentativeScore: 0 }) : new PerFrameTracker(new ConstantFidelity(0.2));
    const p = new FaceProcessor(detector, tracker, restorer, emptyStageTimes(), false, undefined, { faceRegion });
    const prepared = await p.prepare(frame);
    expect(prepared.aligned.length).toBeGreaterThan(0);
    const a = prepared.aligned[0]!;
    expect(a.face.landmarks68).toHaveLength(68);
    await p.compose([prepared]);
    return { frame, toCrop: a.toCrop, hull: faceRegionPoints(a.face.landmarks68!).map((q) => applyAffine(a.toCrop, q)) };
  }

  /** Counts luma pixels inside the crop and outside the hull (by more than a pixel), and those of them changed; likewise inside the hull, deeper than the feather. */
  function census(frame: VideoFrame, toCrop: readonly number[], hull: Point[]) {
    const inside = hullMask(hull, CROP_SIZE, FACE_MASK_FEATHER);
    const { width: W, height: H } = frame;
    let outside = 0, outsideChanged = 0, deep = 0, deepChanged = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const [u, v] = applyAffine(toCrop as never, [x + 0.5, y + 0.5]);
      if (u < 40 || v < 40 || u >= CROP_SIZE - 40 || v >= CROP_SIZE - 40) continue; // inside the crop, past the paste feather
      const changed = frame.data[y * W + x] !== still.data[y * W + x];
      // Outside the hull by at least 2 crop px (the paste samples the mask at its nearest crop pixel).
      const grown = [-2, 0, 2].some((dy) => [-2, 0, 2].some((dx) => inside[Math.floor(v + dy) * CROP_SIZE + Math.floor(u + dx)]! > 0));
      if (!grown) {
        outside++;
        if (changed) outsideChanged++;
      } else if (inside[Math.floor(v) * CROP_SIZE + Math.floor(u)] === 1) {
        deep++;
        if (changed) deepChanged++;
      }
    }
    return { outside, outsideChanged, deep, deepChanged };
  }

  it('leaves every pixel outside the hull inside the crop bit-identical, and changes the face', async () => {
    const { frame, toCrop, hull } = await restoreStill(true);
    const c = census(frame, toCrop, hull);
    expect(c.outside).toBeGreaterThan(5000);
    expect(c.outsideChanged).toBe(0);
    expect(c.deepChanged).toBeGreaterThan(0.3 * c.deep);
    // Chroma: a sample may change only if one of its four luma pixels did.
    const L = i420Layout(frame.width, frame.height);
    for (let cy = 0; cy < L.ch; cy++) for (let cx = 0; cx < L.cw; cx++) {
      const i = cy * L.cw + cx;
      if (frame.data[L.uOff + i] === still.data[L.uOff + i] && frame.data[L.vOff + i] === still.data[L.vOff + i]) continue;
      let lumaChanged = false;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
        const x = 2 * cx + dx, y = 2 * cy + dy;
        if (x < frame.width && y < frame.height && frame.data[y * frame.width + x] !== still.data[y * frame.width + x]) lumaChanged = true;
      }
      // A sample whose luma pixels all kept their bytes has a mask weight > 0 under one of them at most by rounding.
      if (!lumaChanged) expect(Math.abs(frame.data[L.uOff + i]! - still.data[L.uOff + i]!)).toBeLessThanOrEqual(1);
    }
  }, 60_000);

  it('without the restriction the same pixels outside the hull do change (hair, collar, background)', async () => {
    const { frame, toCrop, hull } = await restoreStill(false);
    const c = census(frame, toCrop, hull);
    expect(c.outsideChanged).toBeGreaterThan(0.3 * c.outside);
  }, 60_000);

  it('a tracked face keeps its 68 landmarks (moved with its points) and the restriction holds', async () => {
    const { frame, toCrop, hull } = await restoreStill(true, true);
    const c = census(frame, toCrop, hull);
    expect(c.outsideChanged).toBe(0);
    expect(c.deepChanged).toBeGreaterThan(0.3 * c.deep);
  }, 60_000);
});
