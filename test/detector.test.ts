import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlazeFaceDetector, frontBlazeFaceModel } from '../src/detect/blazeface.ts';
import type { FaceDetector } from '../src/detect/detector.ts';
import { iou } from '../src/detect/nms.ts';
import { YuNetDetector } from '../src/detect/yunet.ts';
import type { FaceDetection, VideoFrame } from '../src/types.ts';
import type { Letterbox } from '../src/detect/letterbox.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodeFrames, ffmpeg, rgbFromI420, stillFrame } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';

async function still(name: string): Promise<VideoFrame> {
  return stillFrame(shared(`stills/${name}`));
}

/**
 * The detector input as it was built before frames were I420: the whole frame converted to RGB, then
 * resized by sharp (bilinear, libvips) and padded. The reference the plane-sampling letterbox is held to.
 */
async function sharpLetterbox(frame: VideoFrame, width: number, height: number, centre: boolean, maxScale = Infinity): Promise<{ data: Uint8Array; box: Letterbox }> {
  const scale = Math.min(width / frame.width, height / frame.height, maxScale);
  const rw = Math.max(1, Math.min(width, Math.round(frame.width * scale)));
  const rh = Math.max(1, Math.min(height, Math.round(frame.height * scale)));
  const padX = centre ? Math.floor((width - rw) / 2) : 0;
  const padY = centre ? Math.floor((height - rh) / 2) : 0;
  let img = sharp(rgbFromI420(frame), { raw: { width: frame.width, height: frame.height, channels: 3 } });
  if (rw !== frame.width || rh !== frame.height) img = img.resize(rw, rh, { fit: 'fill', kernel: 'linear' });
  if (rw !== width || rh !== height) img = img.extend({ left: padX, top: padY, right: width - rw - padX, bottom: height - rh - padY, background: { r: 0, g: 0, b: 0 } });
  return { data: new Uint8Array(await img.raw().toBuffer()), box: { scale: rw / frame.width, padX, padY } };
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
  // Both detectors find the child in the lower right of obama_and_biden.jpg (a real, partly shaded face). BlazeFace
  // scores it 0.665 on its input sampled from the planes (threshold 0.6); on a libvips-resized RGB input it scored
  // just under the threshold (this 2000 px still is shrunk 7.8×, where the two filters differ most).
  ['blazeface (bundled)', () => BlazeFaceDetector.create(), { 'obama.jpg': 1, 'obama-240p.jpg': 1, 'two_people.jpg': 2, 'obama_and_biden.jpg': 3 }],
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

  it('finds the same faces with ORT thread spinning off and one intra-op thread (what the product loads) as with the defaults', async () => {
    const spinning = await BlazeFaceDetector.create();
    const quiet = await BlazeFaceDetector.create({ threadSpinning: false });
    const single = await BlazeFaceDetector.create({ threadSpinning: false, intraOpThreads: 1 });
    try {
      const frame = await still('two_people.jpg');
      const a = await spinning.detect(frame);
      const b = await quiet.detect(frame);
      expect(b).toHaveLength(2);
      expect(b.map((d) => d.box)).toEqual(a.map((d) => d.box));
      const c = await single.detect(frame);
      expect(c).toHaveLength(2);
      for (let i = 0; i < 2; i++) for (const k of ['x', 'y', 'width', 'height'] as const) expect(c[i]!.box[k]).toBeCloseTo(a[i]!.box[k], 3);
    } finally {
      await spinning.close();
      await quiet.close();
      await single.close();
    }
  });

  it('builds the [-1, 1] tensor straight from the planes exactly as from the RGB24 letterbox (odd sizes, both paddings)', async () => {
    const { letterboxRgb, letterboxUnitTensor } = await import('../src/detect/letterbox.ts');
    const frame = await still('obama-240p.jpg');
    for (const [w, h, centre] of [[256, 256, true], [129, 77, false], [31, 200, true]] as const) {
      const rgb = letterboxRgb(frame, w, h, centre);
      const t = letterboxUnitTensor(frame, w, h, centre);
      expect(t.box).toEqual(rgb.box);
      expect(t.data).toEqual(Float32Array.from(rgb.data, (b) => b / 127.5 - 1));
    }
  });

  it('runs the front-camera 128 model of the same package (same anchor grid at half the input): the faces the 256 model finds, within 10% of their size', async () => {
    const back = await BlazeFaceDetector.create();
    const front = await BlazeFaceDetector.create({ modelPath: frontBlazeFaceModel() });
    try {
      expect(front.inputSize).toBe(128);
      for (const file of ['obama.jpg', 'two_people.jpg']) {
        const frame = await still(file);
        const a = await back.detect(frame);
        const b = await front.detect(frame);
        expect(b, file).toHaveLength(a.length);
        for (const d of a) {
          const m = b.find((e) => Math.hypot(e.box.x + e.box.width / 2 - d.box.x - d.box.width / 2, e.box.y + e.box.height / 2 - d.box.y - d.box.height / 2) < 0.1 * d.box.width);
          expect(m, `${file}: no front-model face near the back model's`).toBeDefined();
          expect(Math.abs(m!.points[0][0] - d.points[0][0]), file).toBeLessThan(0.1 * d.box.width);
        }
      }
    } finally {
      await back.close();
      await front.close();
    }
  });

  it('refuses a model that is not the detector it is loaded as', async () => {
    const err = await YuNetDetector.create({ modelPath: (await import('../src/detect/blazeface.ts')).defaultBlazeFaceModel() }).catch((e) => e);
    expect(err.code).toBe('E_MODEL_CONTRACT');
    expect(err.message).toMatch(/not a YuNet detector/);
  });
});

describe('detector input sampled from the I420 planes', () => {
  /**
   * Matches each reference face to a new one by IoU; returns the worst box-corner error relative to the
   * tolerance: 6 % of the face's side, or 3 detector-input pixels (1 / `scale` frame pixels each) for faces
   * so small that a few input pixels are more than that.
   */
  function compare(ref: FaceDetection[], got: FaceDetection[], scale: number, where: string): number {
    expect(got.length, `${where}: face count`).toBe(ref.length);
    let worst = 0;
    for (const r of ref) {
      const g = got.find((d) => iou(d.box, r.box) > 0.5);
      expect(g, `${where}: no match for a face at ${JSON.stringify(r.box)}`).toBeDefined();
      const side = Math.max(0.06 * Math.max(r.box.width, r.box.height), 3 / scale) / 0.06;
      const err = Math.max(Math.abs(g!.box.x - r.box.x), Math.abs(g!.box.y - r.box.y), Math.abs(g!.box.x + g!.box.width - r.box.x - r.box.width), Math.abs(g!.box.y + g!.box.height - r.box.y - r.box.height));
      worst = Math.max(worst, err / side);
    }
    return worst;
  }

  it('finds the same faces as the full-frame RGB resize on real footage, 640 to 1920 px wide (boxes within 6% of the face size or 3 input px)', async () => {
    const blaze = await BlazeFaceDetector.create();
    const yunet = await YuNetDetector.create({ modelPath: shared('models/face_detection_yunet_2026may.onnx') });
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-detector-'));
    try {
      const hd = path.join(tmp, 'hamilton-1080.mp4');
      await ffmpeg('-ss', '6', '-i', shared('footage/short_hamilton_clip.mp4'), '-t', '2', '-vf', 'scale=1920:1080', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '14', '-an', hd);
      let faces = 0;
      let worst = 0;
      for (const [file, every, upTo] of [[shared('footage/short_hamilton_clip.mp4'), 25, 300], [hd, 15, 60], [shared('footage/retalk_1.mp4'), 30, 60], [shared('footage/retalk_2.mp4'), 30, 60]] as const) {
        let i = 0;
        for await (const f of decodeFrames(file)) {
          if (i >= upTo) break;
          if (i++ % every !== 0) continue;
          const S = blaze.inputSize;
          const b = await blaze.detectLetterboxed(await sharpLetterbox(f, S, S, true));
          worst = Math.max(worst, compare(b, await blaze.detect(f), S / Math.max(f.width, f.height), `blazeface ${file} frame ${f.index}`));
          const y = yunet.inputFor(f.width, f.height);
          const yr = await yunet.detectLetterboxed(await sharpLetterbox(f, y.width, y.height, false, y.maxScale), y.width, y.height);
          worst = Math.max(worst, compare(yr, await yunet.detect(f), y.maxScale, `yunet ${file} frame ${f.index}`));
          faces += b.length + yr.length;
        }
      }
      expect(faces).toBeGreaterThan(30);
      expect(worst).toBeLessThan(1);
    } finally {
      await blaze.close();
      await yunet.close();
      await rm(tmp, { recursive: true, force: true });
    }
  }, 600_000);
});
