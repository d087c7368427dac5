import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyAffine } from '../src/compose/align.ts';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import { descriptorDistance, descriptorInputTransform, FaceDescriptor } from '../src/engine/faceDescriptor.ts';
import { Landmark68, RefinedDetector } from '../src/engine/landmarkRefiner.ts';
import { faceApiModelDir, readTfjsWeights } from '../src/models/faceLandmark68.ts';
import { buildFaceDescriptorGraph, DESCRIPTOR_INPUT } from '../src/models/faceRecognition.ts';
import type { FaceDetection, VideoFrame } from '../src/types.ts';
import { loadFaceApiDescriptor, type FaceApiDescriptor } from './helpers/faceApiRecognitionTfjs.ts';
import { stillFrame } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';

const STILLS = ['obama.jpg', 'obama-240p.jpg', 'obama_and_biden.jpg', 'two_people.jpg'];
const S = DESCRIPTOR_INPUT;

describe('128-D face descriptor net: ONNX graph against face-api on TF.js (CPU backend)', () => {
  let net: FaceDescriptor;
  let tfjs: FaceApiDescriptor;
  const frames = new Map<string, VideoFrame>();
  const found = new Map<string, FaceDetection[]>();
  beforeAll(async () => {
    net = await FaceDescriptor.create({ intraOpThreads: 1 });
    tfjs = await loadFaceApiDescriptor();
    const det = new RefinedDetector(await BlazeFaceDetector.create({ intraOpThreads: 1 }), await Landmark68.create({ intraOpThreads: 1 }));
    for (const s of STILLS) {
      const f = await stillFrame(shared(`stills/${s}`));
      frames.set(s, f);
      found.set(s, await det.detect(f));
    }
    await det.close();
  }, 120_000);
  afterAll(async () => net?.close());

  it('reference runs on the TF.js CPU backend', () => expect(tfjs.backend).toBe('cpu'));

  it('the same 150 px crops (from the refined five points) give the same descriptor within 1e-3 (every face of the shared stills, one batch per still)', async () => {
    let faces = 0;
    let worst = 0;
    for (const s of STILLS) {
      const dets = found.get(s)!;
      expect(dets.length, s).toBeGreaterThan(0);
      const batch = new Float32Array(dets.length * S * S * 3);
      dets.forEach((d, i) => batch.set(FaceDescriptor.input(frames.get(s)!, d.points), i * S * S * 3));
      const ours = await net.run(batch, dets.length);
      const theirs = await tfjs.run(batch, dets.length);
      expect(ours.length).toBe(128 * dets.length);
      for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - theirs[i]!));
      // face-api's public computeFaceDescriptor (one face) agrees with the batched forward pass.
      const one = await tfjs.compute(batch.subarray(0, S * S * 3));
      for (let i = 0; i < 128; i++) expect(Math.abs(one[i]! - ours[i]!)).toBeLessThanOrEqual(1e-3);
      faces += dets.length;
    }
    expect(faces).toBeGreaterThanOrEqual(6);
    expect(worst).toBeLessThanOrEqual(1e-3);
  }, 120_000);

  it('descriptors tell people apart: the same person across stills is near (< 0.6), different people far', async () => {
    const d = async (s: string, i: number) => (await net.describe(frames.get(s)!, [found.get(s)![i]!.points]))[0]!;
    const obama = await d('obama.jpg', 0);
    const obamaSmall = await d('obama-240p.jpg', 0);
    // Not a degenerate output: descriptors have spread and differ between faces.
    expect(Math.hypot(...obama)).toBeGreaterThan(0.5);
    expect(descriptorDistance(obama, obamaSmall)).toBeLessThan(0.6);
    const pair = found.get('obama_and_biden.jpg')!;
    expect(pair.length).toBeGreaterThanOrEqual(2);
    const both = await net.describe(frames.get('obama_and_biden.jpg')!, pair.map((p) => p.points));
    const near = both.map((x) => descriptorDistance(x, obama));
    // One of the two is Obama (near), the other is not (far).
    expect(Math.min(...near)).toBeLessThan(0.6);
    expect(Math.max(...near)).toBeGreaterThan(0.6);
  }, 60_000);

  it('dequantises every weight of the manifest and the input square holds the face upright', async () => {
    const w = await readTfjsWeights(path.join(faceApiModelDir(), 'face_recognition_model-weights_manifest.json'));
    expect(w.get('fc')!.shape).toEqual([256, 128]);
    expect(buildFaceDescriptorGraph(w).length).toBeGreaterThan(20_000_000);
    const [le, re, nose, ml, mr] = found.get('obama.jpg')![0]!.points;
    const m = descriptorInputTransform([le, re, nose, ml, mr]);
    const [a, b, , c, e] = [le, re, nose, ml, mr].map((p) => applyAffine(m, p));
    for (const p of [a, b, c, e]) for (const v of p!) expect(v).toBeGreaterThan(20), expect(v).toBeLessThan(S - 20);
    expect(a![0]).toBeLessThan(b![0]);
    expect(Math.abs(a![1] - b![1])).toBeLessThan(2);
  });
});
