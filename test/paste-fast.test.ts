import { seededRandom } from '../src/models/seededRandom.ts';
import { describe, expect, it } from 'vitest';
import { alignmentFor, applyAffine } from '../src/compose/align.ts';
import { faceRegionPoints, hullRegion, hullWeight } from '../src/compose/faceMask.ts';
import { pasteCrop, type CropWeight } from '../src/compose/paste.ts';
import { faceRegionWeights } from '../src/engine/faceProcessor.ts';
import type { Affine, FivePoints, Point, VideoFrame } from '../src/types.ts';
import { i420Layout } from '../src/util/yuv.ts';
import { referencePasteCrop } from './helpers/pasteReference.ts';

const rng = seededRandom;

function randomBytes(n: number, r: () => number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

/** Five points of a face centred at (cx, cy), `iod` px between the eyes, turned by `angle` radians. */
function face(cx: number, cy: number, iod: number, angle: number): FivePoints {
  const c = Math.cos(angle), s = Math.sin(angle);
  const at = (x: number, y: number): Point => [cx + (c * x - s * y) * iod, cy + (s * x + c * y) * iod];
  return [at(-0.5, -0.4), at(0.5, -0.4), at(0, 0.1), at(-0.4, 0.6), at(0.4, 0.6)];
}

/** 68 landmark-like points of an ellipse around the face (enough for the region hull). */
function ring68(p: FivePoints): Point[] {
  const cx = (p[0][0] + p[1][0]) / 2, cy = (p[0][1] + p[3][1]) / 2;
  const r = Math.hypot(p[1][0] - p[0][0], p[1][1] - p[0][1]);
  return Array.from({ length: 68 }, (_, i) => [cx + 0.9 * r * Math.cos((i / 68) * 2 * Math.PI), cy + 1.2 * r * Math.sin((i / 68) * 2 * Math.PI)] as Point);
}

describe('pasteCrop equals the straightforward reference byte for byte', () => {
  const r = rng(20261203);
  const cases: Array<{ name: string; w: number; h: number; points: FivePoints; size: number; weights: 'none' | 'frame' | 'region' | 'regionNoSupport' | 'regionScaled' | 'regionHull' | 'regionHullNoOnes' }> = [];
  const kinds = ['none', 'frame', 'region', 'regionNoSupport', 'regionScaled', 'regionHull', 'regionHullNoOnes'] as const;
  for (let i = 0; i < 56; i++) {
    const sizes: Array<[number, number]> = [[640, 480], [321, 243], [1280, 720], [97, 131]];
    const [w, h] = sizes[i % 4]!;
    const iod = 8 + r() * 0.5 * Math.min(w, h);
    // Centres anywhere, partly outside the frame too; any angle, including exact quarter turns (a zero slope per row).
    const angle = i % 7 === 0 ? (Math.PI / 2) * (i % 4) : (r() - 0.5) * 2 * Math.PI;
    const points = face(-0.2 * w + r() * 1.4 * w, -0.2 * h + r() * 1.4 * h, iod, angle);
    cases.push({ name: `#${i} ${w}×${h} iod ${iod.toFixed(0)} angle ${angle.toFixed(2)} ${kinds[i % 7]}`, w, h, points, size: i % 9 === 4 ? 256 : 512, weights: kinds[i % 7]! });
  }
  for (const cs of cases) {
    it(cs.name, () => {
      const { w, h, points, size } = cs;
      const frame: VideoFrame = { index: 0, pts: 0, width: w, height: h, data: randomBytes(i420Layout(w, h).size, r) };
      const crop = randomBytes(size * size * 3, r);
      const toCrop: Affine = alignmentFor(points).map((v) => v * (size / 512)) as unknown as Affine;
      const frameWeights = cs.weights === 'frame' ? Float32Array.from({ length: w * h }, () => (r() < 0.3 ? 0 : r())) : undefined;
      let region: CropWeight | undefined;
      if (cs.weights.startsWith('region')) {
        const side = cs.weights === 'regionScaled' || cs.weights === 'regionHull' ? 2 * size : size;
        const scale = side / size;
        const inCrop = faceRegionPoints(ring68(points)).map((p) => applyAffine(toCrop, p)).map(([u, v]) => [u * scale, v * scale] as Point);
        // Opaque weights (evaluated everywhere), or the hull with its support and its region of weight 1, and
        // with its edges (the paste computes the weight itself), with and without the region of weight 1.
        const hr = hullRegion(inCrop, 24 * scale);
        region =
          cs.weights === 'regionNoSupport'
            ? { side, at: hullWeight(inCrop, 24 * scale) }
            : cs.weights === 'regionHull'
              ? { side, at: hr.at, support: hr.support!, oneWhere: hr.oneWhere, hull: hr.hull! }
              : cs.weights === 'regionHullNoOnes'
                ? { side, at: hr.at, support: hr.support!, hull: hr.hull! }
                : { side, at: hr.at, support: hr.support!, oneWhere: hr.oneWhere };
      }
      const fast = { ...frame, data: frame.data.slice() };
      const ref = { ...frame, data: frame.data.slice() };
      const a = pasteCrop(fast, crop, toCrop, size, frameWeights, region);
      const b = referencePasteCrop(ref, crop, toCrop, size, frameWeights, region);
      expect(a).toEqual(b);
      let differ = 0;
      for (let i = 0; i < fast.data.length; i++) if (fast.data[i] !== ref.data[i]) differ++;
      expect(differ).toBe(0);
      // The case pasted something (else equality would prove nothing), unless the face lies outside the frame.
      let changed = 0;
      for (let i = 0; i < frame.data.length; i++) if (fast.data[i] !== frame.data[i]) changed++;
      if (b.width * b.height > 400 && cs.weights === 'none') expect(changed).toBeGreaterThan(0);
    });
  }

  it('the weight-1 half-planes are used: far fewer weight evaluations, the same bytes', () => {
    const [w, h] = [1280, 720];
    const points = face(640, 360, 200, 0.2);
    const toCrop = alignmentFor(points);
    const hr = hullRegion(faceRegionPoints(ring68(points)).map((p) => applyAffine(toCrop, p)), 24);
    const frame: VideoFrame = { index: 0, pts: 0, width: w, height: h, data: randomBytes(i420Layout(w, h).size, r) };
    const crop = randomBytes(512 * 512 * 3, r);
    let calls = 0;
    const counted = (x: number, y: number) => (calls++, hr.at(x, y));
    const runs = [{ side: 512, at: counted }, { side: 512, at: counted, support: hr.support!, oneWhere: hr.oneWhere }].map((cw) => {
      calls = 0;
      const f = { ...frame, data: frame.data.slice() };
      pasteCrop(f, crop, toCrop, 512, undefined, cw);
      return { calls, data: f.data };
    });
    expect(Buffer.compare(Buffer.from(runs[0]!.data), Buffer.from(runs[1]!.data))).toBe(0);
    expect(runs[1]!.calls).toBeLessThan(runs[0]!.calls / 3);
  });

  it('given the hull edges the paste computes the weight itself: no call of at, the same bytes', () => {
    const [w, h] = [1280, 720];
    const points = face(640, 360, 130, -0.3);
    const toCrop = alignmentFor(points);
    const hr = hullRegion(faceRegionPoints(ring68(points)).map((p) => applyAffine(toCrop, p)), 24);
    const frame: VideoFrame = { index: 0, pts: 0, width: w, height: h, data: randomBytes(i420Layout(w, h).size, r) };
    const crop = randomBytes(512 * 512 * 3, r);
    let calls = 0;
    const counted = (x: number, y: number) => (calls++, hr.at(x, y));
    const runs = [{ side: 512, at: counted, support: hr.support!, oneWhere: hr.oneWhere }, { side: 512, at: counted, support: hr.support!, oneWhere: hr.oneWhere, hull: hr.hull! }].map((cw) => {
      calls = 0;
      const f = { ...frame, data: frame.data.slice() };
      pasteCrop(f, crop, toCrop, 512, undefined, cw);
      return { calls, data: f.data, changed: f.data.some((v, i) => v !== frame.data[i]) };
    });
    expect(runs[0]!.calls).toBeGreaterThan(1000);
    expect(runs[1]!.calls).toBe(0);
    expect(runs[1]!.changed).toBe(true);
    expect(Buffer.compare(Buffer.from(runs[0]!.data), Buffer.from(runs[1]!.data))).toBe(0);
  });

  it('the face-region weights name their support, and the weight is 0 outside it, 1 inside oneWhere', () => {
    const points = face(320, 240, 90, 0.3);
    const lm = ring68(points);
    const toCrop = alignmentFor(points);
    const region = faceRegionWeights({ face: { box: { x: 0, y: 0, width: 1, height: 1 }, score: 1, points, landmarks68: lm, trackId: 0, fidelity: 0.5 } as never, toCrop, crop: new Uint8Array(0) })!;
    const s = region.support!;
    expect(s.u1 - s.u0).toBeGreaterThan(50);
    for (let v = 0; v < 512; v += 3) {
      for (let u = 0; u < 512; u += 3) {
        if (u < s.u0 || u > s.u1 || v < s.v0 || v > s.v1) expect(region.at(u, v)).toBe(0);
      }
    }
    expect(region.at((s.u0 + s.u1) / 2, (s.v0 + s.v1) / 2)).toBe(1);
    const planes = region.oneWhere!;
    let inside = 0;
    for (let v = 0; v < 512; v += 3) {
      for (let u = 0; u < 512; u += 3) {
        let all = true;
        for (let i = 0; i < planes.length; i += 3) all &&= planes[i]! * u + planes[i + 1]! * v + planes[i + 2]! >= 0;
        if (all) inside++, expect(region.at(u, v)).toBe(1);
      }
    }
    expect(inside).toBeGreaterThan(1000);
  });
});
