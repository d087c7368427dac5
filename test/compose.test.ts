import { describe, expect, it } from 'vitest';
import { applyAffine, cropFootprint, invertAffine } from '../src/compose/align.ts';
import { maskGeometry, maskWeight, pasteCrop } from '../src/compose/paste.ts';
import { warpToCrop } from '../src/compose/warp.ts';
import { ClassicRestorer } from '../src/restore/classicRestorer.ts';
import type { Affine, VideoFrame } from '../src/types.ts';
import { i420Layout, lumaOf, yuvCoefficients } from '../src/util/yuv.ts';

/** A mid-grey I420 frame with a little texture, so untouched bytes are recognisable. */
function frameOf(W: number, H: number, fill = 50): VideoFrame {
  const L = i420Layout(W, H);
  const data = new Uint8Array(L.size).fill(128);
  for (let i = 0; i < W * H; i++) data[i] = fill + (i % 7);
  return { index: 0, pts: 0, width: W, height: H, data };
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

  const inRect = (x: number, y: number, r: { x: number; y: number; width: number; height: number }) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;

  for (const [w, h] of [[W, H], [W + 1, H + 1]] as const) {
    it(`changes Y, U and V samples only inside the footprint; every other byte stays bit-identical (${w}×${h})`, () => {
      const frame = frameOf(w, h);
      const L = i420Layout(w, h);
      const before = Uint8Array.from(frame.data);
      // A coloured crop, so chroma moves too.
      const red = new Uint8Array(512 * 512 * 3);
      for (let i = 0; i < red.length; i += 3) red.set([230, 40, 60], i);
      const rect = pasteCrop(frame, red, toCrop);
      expect(rect).toEqual(cropFootprint(toCrop, w, h));
      let changedY = 0;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const changed = frame.data[y * w + x] !== before[y * w + x];
        if (!inRect(x, y, rect)) expect(changed, `Y (${x},${y})`).toBe(false);
        if (changed) changedY++;
      }
      let changedC = 0;
      for (let cy = 0; cy < L.ch; cy++) for (let cx = 0; cx < L.cw; cx++) {
        const i = cy * L.cw + cx;
        const changed = frame.data[L.uOff + i] !== before[L.uOff + i] || frame.data[L.vOff + i] !== before[L.vOff + i];
        // A chroma sample may move only when one of the luma pixels it covers is inside the footprint.
        const covers = [0, 1].some((dy) => [0, 1].some((dx) => inRect(2 * cx + dx, 2 * cy + dy, rect)));
        if (!covers) expect(changed, `chroma (${cx},${cy})`).toBe(false);
        if (changed) changedC++;
      }
      expect(changedY).toBeGreaterThan(1000);
      expect(changedC).toBeGreaterThan(250);
    });
  }

  it('blending in YCbCr gives the colour of the restored pixel at the centre: Y, U and V of the crop colour', () => {
    const frame = frameOf(W, H);
    const red = new Uint8Array(512 * 512 * 3);
    for (let i = 0; i < red.length; i += 3) red.set([230, 40, 60], i);
    pasteCrop(frame, red, toCrop);
    const k = yuvCoefficients();
    const L = i420Layout(W, H);
    const [cx, cy] = applyAffine(toFrame, [256, 256]).map(Math.floor);
    const l = k.kr * 230 + k.kg * 40 + k.kb * 60;
    expect(frame.data[cy! * W + cx!]).toBe(Math.round(lumaOf(k, 230, 40, 60)));
    const ci = (cy! >> 1) * L.cw + (cx! >> 1);
    expect(Math.abs(frame.data[L.uOff + ci]! - (128 + k.ku * (60 - l)))).toBeLessThanOrEqual(0.5);
    expect(Math.abs(frame.data[L.vOff + ci]! - (128 + k.kv * (230 - l)))).toBeLessThanOrEqual(0.5);
  });

  it('takes the restored pixel fully at the face centre and blends softly towards the edge', () => {
    const frame = frameOf(W, H, 50);
    const before = Uint8Array.from(frame.data);
    pasteCrop(frame, white, toCrop);
    const white8 = Math.round(lumaOf(yuvCoefficients(), 250, 250, 250));
    const [cx, cy] = applyAffine(toFrame, [256, 256]).map(Math.floor);
    expect(frame.data[cy! * W + cx!]).toBe(white8);
    // Walking from the centre to the crop's left edge, the blend weight never increases (a monotone feather).
    let prev = 1;
    for (let u = 256; u >= 0; u -= 4) {
      const [x, y] = applyAffine(toFrame, [u, 256]).map(Math.floor);
      const i = y! * W + x!;
      const m = (frame.data[i]! - before[i]!) / (white8 - before[i]!);
      expect(m).toBeLessThanOrEqual(prev + 0.02);
      prev = m;
    }
    const [ex, ey] = applyAffine(toFrame, [2, 256]).map(Math.floor);
    expect(frame.data[ey! * W + ex!]).toBe(before[ey! * W + ex!]);
  });

  it('handles a face cut by the frame border', () => {
    const frame = frameOf(100, 80);
    const edge = invertAffine([0.25, 0, 60, 0, 0.25, -40]);
    const rect = pasteCrop(frame, white, edge);
    expect(rect).toEqual({ x: 60, y: 0, width: 40, height: 80 });
  });
});

describe('faces cut by the frame edge', () => {
  const W = 320, H = 240;
  /** Bright, smooth picture (luma 180–200, neutral chroma): what a constant grey fill would pull down. */
  function smooth(): VideoFrame {
    const L = i420Layout(W, H);
    const data = new Uint8Array(L.size).fill(128);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[y * W + x] = 190 + Math.round(10 * Math.sin(x / 9) * Math.cos(y / 11));
    return { index: 0, pts: 0, width: W, height: H, data };
  }
  // Crops (512 ↦ 128 and 256 frame px, a little rotated, sub-pixel offsets) reaching past the top, the left
  // and the bottom-right corner of the frame.
  const placements: Array<[string, Affine]> = [
    ['top, 128 px', [0.25 * Math.cos(0.1), -0.25 * Math.sin(0.1), 100.37, 0.25 * Math.sin(0.1), 0.25 * Math.cos(0.1), -40.3]],
    ['top, 256 px', [0.5 * Math.cos(0.1), -0.5 * Math.sin(0.1), 30.37, 0.5 * Math.sin(0.1), 0.5 * Math.cos(0.1), -40.3]],
    ['left, 128 px', [0.25 * Math.cos(-0.15), -0.25 * Math.sin(-0.15), -37.6, 0.25 * Math.sin(-0.15), 0.25 * Math.cos(-0.15), 60.2]],
    ['bottom-right, 128 px', [0.25, 0, W - 90.55, 0, 0.25, H - 85.45]],
  ];
  /** Largest |change| of Y over the frame's outermost row/column on the cut side(s), and over the frame's interior. */
  function changes(before: Uint8Array, after: Uint8Array): { edge: number; interior: number; edgeCount: number } {
    let edge = 0, interior = 0, edgeCount = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const d = Math.abs(after[y * W + x]! - before[y * W + x]!);
      const onEdge = x <= 1 || y <= 1 || x >= W - 2 || y >= H - 2;
      if (onEdge) {
        edge = Math.max(edge, d);
        edgeCount++;
      } else interior = Math.max(interior, d);
    }
    return { edge, interior, edgeCount };
  }

  for (const [name, toFrame] of placements) {
    it(`an identity restorer leaves the outermost rows unchanged within 1 level (${name})`, () => {
      const frame = smooth();
      const before = Uint8Array.from(frame.data);
      const toCrop = invertAffine(toFrame);
      const rect = pasteCrop(frame, warpToCrop(frame, toCrop), toCrop);
      // The crop really covers frame edge pixels with a full mask weight (else the check covers nothing).
      const onEdge = rect.x === 0 || rect.y === 0 || rect.x + rect.width === W || rect.y + rect.height === H;
      expect(onEdge).toBe(true);
      const c = changes(before, frame.data);
      expect(c.edge).toBeLessThanOrEqual(1);
      expect(c.interior).toBeLessThanOrEqual(1);
    });
  }

  it('the classic restorer changes the outermost rows no more than the rows inside (no step sharpened at the frame edge)', async () => {
    const r = new ClassicRestorer();
    for (const [name, toFrame] of placements) {
      const frame = smooth();
      const before = Uint8Array.from(frame.data);
      const toCrop = invertAffine(toFrame);
      const [out] = await r.restore([warpToCrop(frame, toCrop)], [0.5]);
      pasteCrop(frame, out!, toCrop);
      // Rows 0–1 (or columns) next to the cut against rows 4–40 of the same face.
      const rowDiff = (y0: number, y1: number, x0: number, x1: number) => {
        let m = 0;
        for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m = Math.max(m, Math.abs(frame.data[y * W + x]! - before[y * W + x]!));
        return m;
      };
      const cut = name.startsWith('top') ? rowDiff(0, 2, 120, 200) : name.startsWith('left') ? rowDiff(90, 150, 0, 2) : rowDiff(H - 2, H, W - 60, W);
      const inside = name.startsWith('top') ? rowDiff(4, 40, 120, 200) : name.startsWith('left') ? rowDiff(90, 150, 4, 40) : rowDiff(H - 40, H - 4, W - 60, W);
      expect(cut, name).toBeLessThanOrEqual(inside + 1);
    }
    await r.close();
  });
});
