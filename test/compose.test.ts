import { describe, expect, it } from 'vitest';
import { applyAffine, cropFootprint, invertAffine } from '../src/compose/align.ts';
import { maskGeometry, maskWeight, pasteCrop } from '../src/compose/paste.ts';
import type { Affine, VideoFrame } from '../src/types.ts';

function frameOf(W: number, H: number, fill = 50): VideoFrame {
  return { index: 0, pts: 0, width: W, height: H, data: new Uint8Array(W * H * 3).fill(fill) };
}

describe('soft mask', () => {
  it('scales with the face: feather width is sqrt(area)/20 based', () => {
    const g = maskGeometry(200);
    expect(g.inner0).toBeCloseTo(2 + 10, 9);
    expect(g.inner1).toBeCloseTo(2 + 30, 9);
  });

  it('is 0 at and outside the edge, 1 in the centre, and monotone in between', () => {
    const g = maskGeometry(128);
    expect(maskWeight(-5, g)).toBe(0);
    expect(maskWeight(0, g)).toBe(0);
    expect(maskWeight(64, g)).toBe(1);
    let prev = 0;
    for (let d = 0; d <= 64; d += 0.25) {
      const m = maskWeight(d, g);
      expect(m).toBeGreaterThanOrEqual(prev);
      expect(m).toBeGreaterThanOrEqual(0);
      expect(m).toBeLessThanOrEqual(1);
      prev = m;
    }
  });
});

describe('paste-back', () => {
  const W = 320, H = 200;
  // Crop 512 ↦ 128 frame pixels, rotated a little, placed in the middle.
  const toFrame: Affine = [0.25 * Math.cos(0.2), -0.25 * Math.sin(0.2), 110, 0.25 * Math.sin(0.2), 0.25 * Math.cos(0.2), 30];
  const toCrop = invertAffine(toFrame);
  const white = new Uint8Array(512 * 512 * 3).fill(250);

  it('changes pixels only inside the footprint; everything else stays bit-identical', () => {
    const frame = frameOf(W, H);
    const before = Uint8Array.from(frame.data);
    const rect = pasteCrop(frame, white, toCrop);
    expect(rect).toEqual(cropFootprint(toCrop, W, H));
    let changedInside = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      const inside = x >= rect.x && x < rect.x + rect.width && y >= rect.y && y < rect.y + rect.height;
      const changed = frame.data[i] !== before[i] || frame.data[i + 1] !== before[i + 1] || frame.data[i + 2] !== before[i + 2];
      if (!inside) expect(changed).toBe(false);
      if (changed) changedInside++;
    }
    expect(changedInside).toBeGreaterThan(1000);
  });

  it('takes the restored pixel fully at the face centre and blends softly towards the edge', () => {
    const frame = frameOf(W, H);
    pasteCrop(frame, white, toCrop);
    const [cx, cy] = applyAffine(toFrame, [256, 256]).map(Math.floor);
    expect(frame.data[(cy! * W + cx!) * 3]).toBe(250);
    // Walking from the centre to the crop's left edge, values never increase (a monotone feather).
    let prev = 255;
    for (let u = 256; u >= 0; u -= 4) {
      const [x, y] = applyAffine(toFrame, [u, 256]).map(Math.floor);
      const v = frame.data[(y! * W + x!) * 3]!;
      expect(v).toBeLessThanOrEqual(prev + 1);
      prev = v;
    }
    const [ex, ey] = applyAffine(toFrame, [2, 256]).map(Math.floor);
    expect(frame.data[(ey! * W + ex!) * 3]).toBe(50);
  });

  it('handles a face cut by the frame border', () => {
    const frame = frameOf(100, 80);
    const edge = invertAffine([0.25, 0, 60, 0, 0.25, -40]);
    const rect = pasteCrop(frame, white, edge);
    expect(rect).toEqual({ x: 60, y: 0, width: 40, height: 80 });
  });
});
