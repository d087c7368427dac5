import { describe, expect, it } from 'vitest';
import { invertAffine } from '../src/compose/align.ts';
import { affineCropToTensor } from '../src/detect/affineCrop.ts';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import { Landmark68, landmarkInputTransform } from '../src/engine/landmarkRefiner.ts';
import { seededRandom } from '../src/models/seededRandom.ts';
import type { Affine, VideoFrame } from '../src/types.ts';
import { i420Layout, yuvCoefficients } from '../src/util/yuv.ts';
import { firstFrames, stillFrame } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';

/**
 * The crop the straightforward way, as compose/warp.ts's warpToCrop defines it (at main 65125e9): per crop
 * row, positions stepped from the row's first pixel; a row whose taps all lie inside the frame blends Y, U
 * and V bilinearly and converts once; any other row clamps positions to the frame, converts each of the four
 * taps to RGB (clamped to 0–255) and blends those; every value is stored into a clamped byte (round half to
 * even), then widened to float.
 */
function reference(frame: VideoFrame, toCrop: Affine, size: number): Float32Array {
  const [a, b, c, d, e, f] = invertAffine(toCrop);
  const { width: W, height: H, data } = frame;
  const L = i420Layout(W, H);
  const k = yuvCoefficients(frame.colour);
  const lerp2 = (p00: number, p10: number, p01: number, p11: number, fx: number, fy: number) => {
    const top = p00 + (p10 - p00) * fx;
    return top + (p01 + (p11 - p01) * fx - top) * fy;
  };
  const Y = (x: number, y: number) => data[y * W + x]!;
  const U = (x: number, y: number) => data[L.uOff + (y >> 1) * L.cw + (x >> 1)]!;
  const V = (x: number, y: number) => data[L.vOff + (y >> 1) * L.cw + (x >> 1)]!;
  const toRgb = (y: number, u: number, v: number) => {
    const l = k.yk * (y - k.y0);
    return [l + k.rv * v, l - k.gu * u - k.gv * v, l + k.bu * u];
  };
  const out = new Uint8ClampedArray(size * size * 3);
  for (let v = 0; v < size; v++) {
    const xs: number[] = [];
    const ys: number[] = [];
    let sx = a * 0.5 + b * (v + 0.5) + c - 0.5;
    let sy = d * 0.5 + e * (v + 0.5) + f - 0.5;
    for (let u = 0; u < size; u++, sx += a, sy += d) xs.push(sx), ys.push(sy);
    const inside = xs.every((x) => x >= 0 && x < W - 1) && ys.every((y) => y >= 0 && y < H - 1);
    for (let u = 0; u < size; u++) {
      let rgb: number[];
      if (inside) {
        const x0 = Math.floor(xs[u]!), y0 = Math.floor(ys[u]!);
        const fx = xs[u]! - x0, fy = ys[u]! - y0;
        const tap = (g: (x: number, y: number) => number) => lerp2(g(x0, y0), g(x0 + 1, y0), g(x0, y0 + 1), g(x0 + 1, y0 + 1), fx, fy);
        rgb = toRgb(tap(Y), tap(U) - 128, tap(V) - 128);
      } else {
        const px = Math.min(Math.max(xs[u]!, 0), W - 1), py = Math.min(Math.max(ys[u]!, 0), H - 1);
        const x0 = Math.floor(px), y0 = Math.floor(py);
        const x1 = Math.min(x0 + 1, W - 1), y1 = Math.min(y0 + 1, H - 1);
        const taps = [[x0, y0], [x1, y0], [x0, y1], [x1, y1]].map(([x, y]) => toRgb(Y(x!, y!), U(x!, y!) - 128, V(x!, y!) - 128).map((q) => Math.min(Math.max(q, 0), 255)));
        rgb = [0, 1, 2].map((ch) => lerp2(taps[0]![ch]!, taps[1]![ch]!, taps[2]![ch]!, taps[3]![ch]!, px - x0, py - y0));
      }
      for (let ch = 0; ch < 3; ch++) out[(v * size + u) * 3 + ch] = rgb[ch]!;
    }
  }
  return Float32Array.from(out);
}

function noiseFrame(width: number, height: number, seed: number, colour?: VideoFrame['colour']): VideoFrame {
  const rand = seededRandom(seed);
  const data = new Uint8Array(i420Layout(width, height).size);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
  return { index: 0, pts: 0, width, height, data, ...(colour ? { colour } : {}) };
}

/** A similarity that puts frame point (cx, cy) at the crop's centre, `scale` crop px per frame px, turned by `angle`. */
function similarity(cx: number, cy: number, scale: number, angle: number, size: number): Affine {
  const ca = Math.cos(angle) * scale, sa = Math.sin(angle) * scale;
  return [ca, -sa, size / 2 - (ca * cx - sa * cy), sa, ca, size / 2 - (sa * cx + ca * cy)];
}

describe('affine crop straight into a float tensor', () => {
  it('equals the straightforward crop on the landmark net\'s inputs of every face BlazeFace finds in the shared stills and footage', async () => {
    const det = await BlazeFaceDetector.create({ intraOpThreads: 1 });
    try {
      const frames = [
        ...(await Promise.all(['obama.jpg', 'obama-240p.jpg', 'two_people.jpg', 'obama_and_biden.jpg'].map((s) => stillFrame(shared(`stills/${s}`))))),
        ...(await firstFrames(shared('footage/short_hamilton_clip.mp4'), 100)).filter((f) => f.index % 33 === 0),
      ];
      let faces = 0;
      for (const f of frames) {
        for (const d of await det.detect(f)) {
          const toInput = landmarkInputTransform(d.points);
          const got = Landmark68.input(f, d.points);
          expect(got.toInput).toEqual(toInput);
          expect(got.rgb).toEqual(reference(f, toInput, 112));
          faces++;
        }
      }
      expect(faces).toBeGreaterThanOrEqual(6);
    } finally {
      await det.close();
    }
  }, 60_000);

  it('equals it on noise frames for crops inside, across and outside the frame edges, turned and scaled, in every colour, at an offset', () => {
    const size = 112;
    const tensor = new Float32Array(3 * size * size * 3).fill(-7);
    let borderRows = 0;
    for (const [w, h, colour] of [[640, 360, undefined], [101, 77, { matrix: 'bt709', range: 'limited' }], [33, 517, { matrix: 'bt2020', range: 'full' }]] as const) {
      const frame = noiseFrame(w, h, w + h, colour);
      for (const [cx, cy, scale, angle] of [[w / 2, h / 2, 1.3, 0.2], [w / 2, h / 2, 0.4, -0.6], [2, h - 3, 2, 0.1], [w + 30, -20, 1, 1.2], [w / 3, h / 4, 7.5, 3]] as const) {
        const toCrop = similarity(cx, cy, scale, angle, size);
        affineCropToTensor(frame, invertAffine(toCrop), size, tensor, size * size * 3);
        const ref = reference(frame, toCrop, size);
        expect(tensor.subarray(size * size * 3, 2 * size * size * 3)).toEqual(ref);
        // Nothing written outside the crop's place in the tensor.
        expect(tensor[size * size * 3 - 1]).toBe(-7);
        expect(tensor[2 * size * size * 3]).toBe(-7);
        if (cx > w || cy < 0) borderRows++;
      }
    }
    expect(borderRows).toBe(3);
    expect(() => affineCropToTensor(noiseFrame(8, 8, 1), [1, 0, 0, 0, 1, 0], size, tensor, 2 * size * size * 3 + 1)).toThrow(RangeError);
  });

  it('rounds ties to even, as a clamped byte store does (half-pixel shift between luma 10 and 11 gives 10, not 11)', () => {
    const W = 16, H = 16;
    const L = i420Layout(W, H);
    const data = new Uint8Array(L.size).fill(128);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[y * W + x] = 10 + (x & 1);
    const frame: VideoFrame = { index: 0, pts: 0, width: W, height: H, data, colour: { matrix: 'bt601', range: 'full' } };
    const out = new Float32Array(8 * 8 * 3);
    affineCropToTensor(frame, [1, 0, 0.5, 0, 1, 0], 8, out);
    expect(new Set(out)).toEqual(new Set([10]));
    expect(out).toEqual(reference(frame, invertAffine([1, 0, 0.5, 0, 1, 0]), 8));
  });
});
