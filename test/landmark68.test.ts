import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignmentFor, applyAffine, FFHQ_TEMPLATE_512 } from '../src/compose/align.ts';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import { YuNetDetector } from '../src/detect/yunet.ts';
import { fivePointsFrom68, IBUG, Landmark68, landmarkInputTransform, REFINE_TRUST, RefinedDetector, refinementDistance } from '../src/engine/landmarkRefiner.ts';
import { buildLandmark68Graph, faceApiLandmark68Graph, faceApiModelDir, LANDMARK68_INPUT, readTfjsWeights } from '../src/models/faceLandmark68.ts';
import { decodeModel } from '../src/models/onnxProto.ts';
import { OrtModel } from '../src/runtime/ort.ts';
import type { FaceDetection, FivePoints, Point, VideoFrame } from '../src/types.ts';
import { loadFaceApiLandmarks, type FaceApiLandmarks } from './helpers/faceApiTfjs.ts';
import { decodeFrames, stillFrame } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';
import path from 'node:path';

const STILLS = ['obama.jpg', 'obama-240p.jpg', 'obama_and_biden.jpg', 'two_people.jpg'];
const S = LANDMARK68_INPUT;

describe('68-point landmark net: ONNX graph against face-api on TF.js (CPU backend)', () => {
  let lm: Landmark68;
  let tfjs: FaceApiLandmarks;
  const frames = new Map<string, VideoFrame>();
  const found = new Map<string, FaceDetection[]>();
  beforeAll(async () => {
    lm = await Landmark68.create({ passes: 1, intraOpThreads: 1 });
    tfjs = await loadFaceApiLandmarks();
    const det = await BlazeFaceDetector.create({ intraOpThreads: 1 });
    for (const s of STILLS) {
      const f = await stillFrame(shared(`stills/${s}`));
      frames.set(s, f);
      found.set(s, await det.detect(f));
    }
    await det.close();
  }, 60_000);
  afterAll(async () => lm?.close());

  it('reference runs on the TF.js CPU backend', () => expect(tfjs.backend).toBe('cpu'));

  it('the same face crops give the same 68 points within 1e-3 px (every face of the shared stills, one batch per still)', async () => {
    let faces = 0;
    let worst = 0;
    for (const s of STILLS) {
      const dets = found.get(s)!;
      expect(dets.length, s).toBeGreaterThan(0);
      const inputs = dets.map((d) => Landmark68.input(frames.get(s)!, d.points).rgb);
      const batch = new Float32Array(inputs.length * S * S * 3);
      inputs.forEach((x, i) => batch.set(x, i * S * S * 3));
      const ours = await lm.run(batch, inputs.length);
      const theirs = await tfjs.run(batch, inputs.length);
      // face-api's own post-processing (detectLandmarks: positions in input pixels) agrees with the raw output × 112.
      const positions = await tfjs.detect(batch, inputs.length);
      expect(ours.length).toBe(136 * inputs.length);
      for (let i = 0; i < ours.length; i++) {
        const d = Math.abs(ours[i]! - theirs[i]!) * S;
        worst = Math.max(worst, d);
        const p = positions[Math.floor(i / 136)]![(i % 136) >> 1]![i & 1]!;
        expect(Math.abs(ours[i]! * S - p)).toBeLessThanOrEqual(1e-3);
      }
      faces += inputs.length;
    }
    expect(faces).toBeGreaterThanOrEqual(6);
    expect(worst).toBeLessThanOrEqual(1e-3);
    // The outputs are real landmarks, not a degenerate constant: points spread over the input.
    const one = await lm.run(Landmark68.input(frames.get('obama.jpg')!, found.get('obama.jpg')![0]!.points).rgb, 1);
    const xs = Array.from({ length: 68 }, (_, j) => one[2 * j]! * S);
    expect(Math.max(...xs) - Math.min(...xs)).toBeGreaterThan(40);
  }, 120_000);

  it('the running-sum graph (what loads) computes what face-api\'s nesting of the sums computes, within 1e-5 of the input side (every face of the shared stills)', async () => {
    const nested = await OrtModel.create(await faceApiLandmark68Graph({ runningSums: false }), { intraOpThreads: 1 });
    const running = await OrtModel.create(await faceApiLandmark68Graph(), { intraOpThreads: 1 });
    try {
      // The graphs differ in their Adds: 6 per dense block nested as face-api writes them, 3 as running totals.
      const adds = async (o: { runningSums: boolean }) => decodeModel(await faceApiLandmark68Graph(o)).graph.node.filter((n: { opType: string }) => n.opType === 'Add').length;
      expect(await adds({ runningSums: false }) - (await adds({ runningSums: true }))).toBe(12);
      let faces = 0;
      let worst = 0;
      for (const s of STILLS) {
        const dets = found.get(s)!;
        const batch = new Float32Array(dets.length * S * S * 3);
        dets.forEach((d, i) => batch.set(Landmark68.input(frames.get(s)!, d.points).rgb, i * S * S * 3));
        const feed = { input: { type: 'float32' as const, dims: [dets.length, S, S, 3], data: batch } };
        const a = (await nested.run(feed)).landmarks!.data as Float32Array;
        const b = (await running.run(feed)).landmarks!.data as Float32Array;
        expect(b.length).toBe(136 * dets.length);
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
        faces += dets.length;
      }
      expect(faces).toBeGreaterThanOrEqual(6);
      expect(worst).toBeLessThanOrEqual(1e-5);
    } finally {
      await Promise.all([nested.close(), running.close()]);
    }
  });

  it('dequantises every weight of the manifest (uint8 · scale + min) and the graph has 136 outputs', async () => {
    const w = await readTfjsWeights(path.join(faceApiModelDir(), 'face_landmark_68_model-weights_manifest.json'));
    expect(w.size).toBe(49);
    expect(w.get('fc/weights')!.shape).toEqual([256, 136]);
    const bytes = buildLandmark68Graph(w);
    expect(bytes.length).toBeGreaterThan(1_000_000);
    // Weights of one tensor take at most 256 distinct values (uint8 quantisation).
    expect(new Set(w.get('dense3/conv3/pointwise_filter')!.data).size).toBeLessThanOrEqual(256);
  });
});

describe('five points from the 68', () => {
  it('eye centres are the eye contours\' means, nose tip 30, mouth corners 48 and 54, in FivePoints order', () => {
    const p: Point[] = Array.from({ length: 68 }, (_, i) => [1000 + i, 2000 + i]);
    for (const i of IBUG.eyeLeft) p[i] = [100 + (i - 36), 200];
    for (const i of IBUG.eyeRight) p[i] = [300 + (i - 42), 202];
    p[30] = [200, 260];
    p[48] = [150, 320];
    p[54] = [250, 322];
    const five = fivePointsFrom68(p);
    expect(five).toEqual([[102.5, 200], [302.5, 202], [200, 260], [150, 320], [250, 322]]);
    expect(() => fivePointsFrom68(p.slice(1))).toThrow(TypeError);
  });

  it('the net input square maps the FFHQ template face into the 112 px input, upright, eyes above the mouth', () => {
    // A face whose five points are the template scaled by 0.5 and moved: its input transform is the
    // template square's, whatever the face's place and size.
    const face = FFHQ_TEMPLATE_512.map(([x, y]) => [40 + 0.5 * x, 30 + 0.5 * y]) as unknown as FivePoints;
    const m = landmarkInputTransform(face);
    const [le, re, nose, ml, mr] = face.map((p) => applyAffine(m, p));
    for (const q of [le, re, nose, ml, mr]) for (const c of q!) expect(c).toBeGreaterThan(10), expect(c).toBeLessThan(S - 10);
    expect(le![0]).toBeLessThan(re![0]);
    expect(Math.abs(le![1] - re![1])).toBeLessThan(0.5);
    expect(ml![1]).toBeGreaterThan(nose![1]);
    // Consistent with the restorer's alignment: both are similarities of the same fit.
    const t = alignmentFor(face);
    expect(t[0] / m[0]).toBeCloseTo(t[4] / m[4], 9);
  });

  it('refined points land on the face and in template order on every face of the shared stills', async () => {
    const det = new RefinedDetector(await BlazeFaceDetector.create({ intraOpThreads: 1 }), await Landmark68.create({ intraOpThreads: 1 }));
    try {
      for (const s of STILLS) {
        const f = await stillFrame(shared(`stills/${s}`));
        const dets = await det.detect(f);
        for (const d of dets) {
          const [le, re, nose, ml, mr] = d.points;
          expect(le[0]).toBeLessThan(re[0]);
          expect(ml[0]).toBeLessThan(mr[0]);
          expect(nose[1]).toBeGreaterThan((le[1] + re[1]) / 2);
          expect((ml[1] + mr[1]) / 2).toBeGreaterThan(nose[1]);
          expect(d.landmarks68).toHaveLength(68);
          for (const p of d.points) {
            expect(p[0]).toBeGreaterThan(d.box.x - 0.1 * d.box.width);
            expect(p[0]).toBeLessThan(d.box.x + 1.1 * d.box.width);
            expect(p[1]).toBeGreaterThan(d.box.y - 0.1 * d.box.height);
            expect(p[1]).toBeLessThan(d.box.y + 1.1 * d.box.height);
          }
        }
      }
    } finally {
      await det.close();
    }
  }, 60_000);

  it('refinement brings BlazeFace\'s points to YuNet\'s (the better detector) on the shared stills', async () => {
    const blaze = await BlazeFaceDetector.create({ intraOpThreads: 1 });
    const yunet = await YuNetDetector.create({ modelPath: shared('models/face_detection_yunet_2026may.onnx'), intraOpThreads: 1 });
    const lm = await Landmark68.create({ intraOpThreads: 1 });
    try {
      let rawErr = 0, refErr = 0, n = 0;
      for (const s of STILLS) {
        const f = await stillFrame(shared(`stills/${s}`));
        const b = await blaze.detect(f);
        const y = await yunet.detect(f);
        const yRef = await lm.landmarks(f, y.map((d) => d.points));
        const bRef = await lm.landmarks(f, b.map((d) => d.points));
        b.forEach((bd, i) => {
          const j = y.findIndex((yd) => Math.hypot(yd.box.x - bd.box.x, yd.box.y - bd.box.y) < bd.box.width / 3);
          if (j < 0) return;
          const side = y[j]!.box.width;
          const five = fivePointsFrom68(bRef[i]!);
          const fiveY = fivePointsFrom68(yRef[j]!);
          for (let k = 0; k < 5; k++) {
            rawErr += Math.hypot(bd.points[k]![0] - y[j]!.points[k]![0], bd.points[k]![1] - y[j]!.points[k]![1]) / side;
            refErr += Math.hypot(five[k]![0] - fiveY[k]![0], five[k]![1] - fiveY[k]![1]) / side;
            n++;
          }
        });
      }
      expect(n).toBeGreaterThanOrEqual(25);
      // After refinement both detectors' faces give (nearly) the same five points: the net, not the detector, decides.
      expect(refErr / n).toBeLessThan(0.5 * (rawErr / n));
    } finally {
      await Promise.all([blaze.close(), yunet.close(), lm.close()]);
    }
  }, 60_000);
});

describe('refinement falls back to the detector on profile faces', () => {
  it('short_hamilton_clip.mp4: the frontal face (frame 90) is refined, the profile (frame 30) keeps BlazeFace\'s points', async () => {
    const det = new RefinedDetector(await BlazeFaceDetector.create({ intraOpThreads: 1 }), await Landmark68.create({ intraOpThreads: 1 }));
    const plain = await BlazeFaceDetector.create({ intraOpThreads: 1 });
    try {
      const seen = new Map<number, VideoFrame>();
      for await (const f of decodeFrames(shared('footage/short_hamilton_clip.mp4'))) {
        if (f.index === 30 || f.index === 90) seen.set(f.index, f);
        if (f.index >= 90) break;
      }
      const profile = seen.get(30)!;
      const frontal = seen.get(90)!;
      const [p] = await det.detect(profile);
      const [p0] = await plain.detect(profile);
      // The net's frontal layout lies far from the detector's points on the profile: not used.
      const lm = await det.landmarks.landmarks(profile, [p0!.points]);
      expect(refinementDistance(p0!.points, fivePointsFrom68(lm[0]!), p0!.box.width)).toBeGreaterThan(REFINE_TRUST.fallBackAt);
      expect(p!.points).toEqual(p0!.points);
      expect(p!.landmarks68).toBeUndefined();
      const [q] = await det.detect(frontal);
      const [q0] = await plain.detect(frontal);
      expect(q!.landmarks68).toHaveLength(68);
      expect(q!.points).not.toEqual(q0!.points);
      expect(refinementDistance(q0!.points, q!.points, q0!.box.width)).toBeLessThan(REFINE_TRUST.trustBelow);
    } finally {
      await Promise.all([det.close(), plain.close()]);
    }
  }, 60_000);
});
