import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import type { FaceDetector } from '../src/detect/detector.ts';
import { iou } from '../src/detect/nms.ts';
import { YuNetDetector } from '../src/detect/yunet.ts';
import type { FaceDetection, VideoFrame } from '../src/types.ts';
import { shared } from './helpers/paths.ts';

async function still(name: string): Promise<VideoFrame> {
  const { data, info } = await sharp(shared(`stills/${name}`)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { index: 0, pts: 0, width: info.width, height: info.height, data };
}

/** Geometry every real detection must have: points in template order inside a plausible face box. */
function expectPlausible(d: FaceDetection): void {
  const [le, re, nose, lm, rm] = d.points;
  expect(le[0]).toBeLessThan(re[0]);
  expect(lm[0]).toBeLessThan(rm[0]);
  expect(nose[1]).toBeGreaterThan((le[1] + re[1]) / 2);
  expect((lm[1] + rm[1]) / 2).toBeGreaterThan(nose[1]);
  for (const p of d.points) {
    expect(p[0]).toBeGreaterThan(d.box.x - d.box.width * 0.1);
    expect(p[0]).toBeLessThan(d.box.x + d.box.width * 1.1);
  }
  expect(d.score).toBeGreaterThan(0.6);
}

describe.each([
  ['blazeface (bundled)', () => BlazeFaceDetector.create(), { 'obama.jpg': 1, 'obama-240p.jpg': 1, 'two_people.jpg': 2, 'obama_and_biden.jpg': 2 }],
  // YuNet also finds the child in the lower right of obama_and_biden.jpg (a real, partly shaded face).
  ['yunet (user-supplied)', () => YuNetDetector.create({ modelPath: shared('models/face_detection_yunet_2026may.onnx') }), { 'obama.jpg': 1, 'obama-240p.jpg': 1, 'two_people.jpg': 2, 'obama_and_biden.jpg': 3 }],
] as const)('%s', (_name, make, counts) => {
  let det: FaceDetector;
  beforeAll(async () => {
    det = await make();
  });
  afterAll(async () => {
    await det.close();
  });

  for (const [file, n] of Object.entries(counts)) {
    it(`finds ${n} face(s) in ${file}`, async () => {
      const faces = await det.detect(await still(file));
      expect(faces).toHaveLength(n);
      faces.forEach(expectPlausible);
    });
  }
});

describe('detectors agree', () => {
  it('BlazeFace and YuNet put the same faces at the same places (eye points within 15% of the face size; BlazeFace points are coarser on tilted faces)', async () => {
    const b = await BlazeFaceDetector.create();
    const y = await YuNetDetector.create({ modelPath: shared('models/face_detection_yunet_2026may.onnx') });
    try {
      for (const file of ['obama.jpg', 'two_people.jpg', 'obama_and_biden.jpg']) {
        const frame = await still(file);
        const fb = await b.detect(frame);
        const fy = await y.detect(frame);
        for (const d of fb) {
          const match = fy.find((e) => iou(e.box, d.box) > 0.3);
          expect(match, `${file}: no YuNet face for BlazeFace's`).toBeDefined();
          for (const k of [0, 1]) {
            expect(Math.hypot(d.points[k]![0] - match!.points[k]![0], d.points[k]![1] - match!.points[k]![1])).toBeLessThan(0.15 * d.box.width);
          }
        }
      }
    } finally {
      await b.close();
      await y.close();
    }
  });

  it('finds the same faces with ORT thread spinning off (live mode) as with the default', async () => {
    const spinning = await BlazeFaceDetector.create();
    const quiet = await BlazeFaceDetector.create({ threadSpinning: false });
    try {
      const frame = await still('two_people.jpg');
      const a = await spinning.detect(frame);
      const b = await quiet.detect(frame);
      expect(b).toHaveLength(2);
      expect(b.map((d) => d.box)).toEqual(a.map((d) => d.box));
    } finally {
      await spinning.close();
      await quiet.close();
    }
  });

  it('refuses a model that is not the detector it is loaded as', async () => {
    const err = await YuNetDetector.create({ modelPath: (await import('../src/detect/blazeface.ts')).defaultBlazeFaceModel() }).catch((e) => e);
    expect(err.code).toBe('E_MODEL_CONTRACT');
    expect(err.message).toMatch(/not a YuNet detector/);
  });
});
