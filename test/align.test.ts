import { describe, expect, it } from 'vitest';
import { alignmentFor, applyAffine, cropFootprint, FFHQ_TEMPLATE_512, fitSimilarity, invertAffine, similarityScale } from '../src/compose/align.ts';
import { warpToCrop } from '../src/compose/warp.ts';
import type { Affine, FivePoints, Point } from '../src/types.ts';

function similarity(scale: number, angle: number, tx: number, ty: number): Affine {
  const a = scale * Math.cos(angle);
  const b = scale * Math.sin(angle);
  return [a, -b, tx, b, a, ty];
}

describe('similarity alignment', () => {
  it('recovers a known similarity transform within 1e-6', () => {
    const truth = similarity(0.37, 0.3, 41.5, -12.25);
    const from: Point[] = [[10, 20], [200, 35], [120, 180], [60, 260], [300, 240]];
    const to = from.map((p) => applyAffine(truth, p));
    const fit = fitSimilarity(from, to);
    fit.forEach((v, i) => expect(Math.abs(v - truth[i]!)).toBeLessThan(1e-6));
  });

  it('maps the five points of a face onto the FFHQ template exactly when they are a similarity image of it', () => {
    const toFrame = similarity(0.25, -0.2, 300, 140);
    const face = FFHQ_TEMPLATE_512.map((p) => applyAffine(toFrame, p)) as unknown as FivePoints;
    const m = alignmentFor(face);
    face.forEach((p, i) => {
      const q = applyAffine(m, p);
      expect(Math.abs(q[0] - FFHQ_TEMPLATE_512[i]![0])).toBeLessThan(1e-6);
      expect(Math.abs(q[1] - FFHQ_TEMPLATE_512[i]![1])).toBeLessThan(1e-6);
    });
    expect(similarityScale(m)).toBeCloseTo(4, 9);
  });

  it('is a least-squares fit: noisy points give a transform with no reflection and small residuals', () => {
    const noisy: FivePoints = [[100, 100], [160, 101], [131, 140], [108, 171], [158, 170]];
    const m = alignmentFor(noisy);
    expect(m[0]).toBeCloseTo(m[4], 12);
    expect(m[1]).toBeCloseTo(-m[3], 12);
    const res = noisy.map((p, i) => Math.hypot(applyAffine(m, p)[0] - FFHQ_TEMPLATE_512[i]![0], applyAffine(m, p)[1] - FFHQ_TEMPLATE_512[i]![1]));
    expect(Math.max(...res)).toBeLessThan(20);
  });

  it('inverts transforms', () => {
    const m = similarity(2, 1, 5, 7);
    const p: Point = [13, -4];
    const back = applyAffine(invertAffine(m), applyAffine(m, p));
    expect(back[0]).toBeCloseTo(13, 10);
    expect(back[1]).toBeCloseTo(-4, 10);
  });

  it('the crop footprint is the clipped bounding box of the crop square in the frame', () => {
    const toCrop = invertAffine(similarity(0.25, 0, 100, 50)); // crop 512 → 128 px at (100, 50)
    expect(cropFootprint(toCrop, 640, 360)).toEqual({ x: 100, y: 50, width: 128, height: 128 });
    expect(cropFootprint(invertAffine(similarity(0.25, 0, 580, -20)), 640, 360)).toEqual({ x: 580, y: 0, width: 60, height: 108 });
  });

  it('warps a frame into the crop: template points sample the pixels under the face points', () => {
    const W = 320, H = 240;
    const data = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      data[(y * W + x) * 3] = x % 256;
      data[(y * W + x) * 3 + 1] = y;
      data[(y * W + x) * 3 + 2] = 7;
    }
    const toFrame = similarity(0.25, 0, 100, 60);
    const crop = warpToCrop({ index: 0, pts: 0, width: W, height: H, data }, invertAffine(toFrame));
    // Crop pixel (u, v) covers frame position toFrame(u + 0.5, v + 0.5); its centre value is that position − 0.5.
    for (const [u, v] of [[0, 0], [256, 256], [511, 100]] as const) {
      const [fx, fy] = applyAffine(toFrame, [u + 0.5, v + 0.5]);
      expect(crop[(v * 512 + u) * 3]).toBe(Math.round(fx - 0.5));
      expect(crop[(v * 512 + u) * 3 + 1]).toBe(Math.round(fy - 0.5));
      expect(crop[(v * 512 + u) * 3 + 2]).toBe(7);
    }
  });
});
