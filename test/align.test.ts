import { describe, expect, it } from 'vitest';
import { alignmentFor, applyAffine, cropFootprint, FFHQ_TEMPLATE_512, fitSimilarity, invertAffine, similarityScale } from '../src/compose/align.ts';
import { warpToCrop } from '../src/compose/warp.ts';
import { i420Layout, yuvCoefficients } from '../src/util/yuv.ts';
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

  it('warps an I420 frame into the RGB crop: template points sample the pixels under the face points', () => {
    const W = 320, H = 240;
    const L = i420Layout(W, H);
    // Grey (U = V = 128) with luma 16 + x/2 + y/4: every RGB channel is yk·(Y − 16), linear in x and y.
    const data = new Uint8Array(L.size).fill(128);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[y * W + x] = 16 + (x >> 1) + (y >> 2);
    const frame = { index: 0, pts: 0, width: W, height: H, data };
    const toFrame = similarity(0.25, 0, 100, 60);
    const crop = warpToCrop(frame, invertAffine(toFrame));
    const k = yuvCoefficients();
    const lumaAt = (x: number, y: number) => {
      const x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0;
      const p = (i: number, j: number) => data[j * W + i]!;
      return (p(x0, y0) * (1 - fx) + p(x0 + 1, y0) * fx) * (1 - fy) + (p(x0, y0 + 1) * (1 - fx) + p(x0 + 1, y0 + 1) * fx) * fy;
    };
    // Crop pixel (u, v) covers frame position toFrame(u + 0.5, v + 0.5); its value is the bilinear sample at that position − 0.5.
    for (const [u, v] of [[0, 0], [256, 256], [511, 100]] as const) {
      const [fx, fy] = applyAffine(toFrame, [u + 0.5, v + 0.5]);
      const want = k.yk * (lumaAt(fx - 0.5, fy - 0.5) - 16);
      for (let ch = 0; ch < 3; ch++) expect(Math.abs(crop[(v * 512 + u) * 3 + ch]! - want)).toBeLessThanOrEqual(0.5 + 1e-9);
    }
  });

  it('converts with the frame\'s colour matrix: one YCbCr colour warps to its BT.601 or BT.709 RGB', () => {
    const W = 64, H = 48;
    const L = i420Layout(W, H);
    const data = new Uint8Array(L.size);
    data.fill(120, 0, L.uOff);
    data.fill(90, L.uOff, L.vOff);
    data.fill(190, L.vOff);
    const toCrop = invertAffine(similarity(0.05, 0.1, 10, 8));
    for (const colour of [undefined, { matrix: 'bt709', range: 'limited' }] as const) {
      const crop = warpToCrop({ index: 0, pts: 0, width: W, height: H, data, ...(colour ? { colour } : {}) }, toCrop);
      const k = yuvCoefficients(colour);
      const l = k.yk * (120 - 16);
      const want = [l + k.rv * 62, l - k.gu * -38 - k.gv * 62, l + k.bu * -38].map((v) => Math.max(0, Math.min(255, Math.round(v))));
      expect([crop[0], crop[1], crop[2]]).toEqual(want);
      expect([crop[3 * 300 * 512], crop[3 * 300 * 512 + 1], crop[3 * 300 * 512 + 2]]).toEqual(want);
    }
    // The two matrices really differ here (a test that would pass with either is no test).
    const a = warpToCrop({ index: 0, pts: 0, width: W, height: H, data }, toCrop);
    const b = warpToCrop({ index: 0, pts: 0, width: W, height: H, data, colour: { matrix: 'bt709', range: 'limited' } }, toCrop);
    expect(Math.abs(a[1]! - b[1]!)).toBeGreaterThan(5);
  });

  it('fills crop pixels outside the frame with the nearest edge pixel (replicate), so nothing steps at the frame edge', () => {
    const W = 32, H = 32;
    const L = i420Layout(W, H);
    const data = new Uint8Array(L.size).fill(128);
    // Luma 40 + 4x + 2y: the crop's corner far above-left of the frame takes pixel (0, 0)'s colour, one
    // far below-right takes pixel (31, 31)'s; a crop pixel just above row 0 takes row 0's at its column.
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[y * W + x] = 40 + 4 * x + 2 * y;
    const frame = { index: 0, pts: 0, width: W, height: H, data };
    const k = yuvCoefficients();
    const rgbOf = (luma: number) => Math.round(k.yk * (luma - 16));
    const toFrame = similarity(0.25, 0, -200, -200);
    const crop = warpToCrop(frame, invertAffine(toFrame));
    expect([crop[0], crop[1], crop[2]]).toEqual([rgbOf(40), rgbOf(40), rgbOf(40)]);
    const far = warpToCrop(frame, invertAffine(similarity(0.25, 0, 200, 200)));
    expect(far[0]).toBe(rgbOf(40 + 4 * 31 + 2 * 31));
    // Crop pixel whose centre maps to frame (10.5, -3): above the frame, column 10.
    const above = similarity(1, 0, 10, -3.5);
    const c2 = warpToCrop(frame, invertAffine(above));
    expect(c2[0]).toBe(rgbOf(40 + 4 * 10));
  });
});
