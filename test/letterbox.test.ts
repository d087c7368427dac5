import { describe, expect, it } from 'vitest';
import { axisTaps, letterboxRgb, letterboxUnitTensor, type AxisTaps } from '../src/detect/letterbox.ts';
import type { VideoFrame } from '../src/types.ts';
import { i420Layout, yuvCoefficients } from '../src/util/yuv.ts';
import { firstFrames, stillFrame } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';
import { seededRandom } from '../src/models/seededRandom.ts';

/**
 * The detector input the straightforward way (the form letterbox.ts had before its row-fused sampler): each
 * plane resampled whole and separably into a Float32Array (every tap row filtered horizontally into a
 * Float32Array row, accumulated into the plane), then every pixel converted to RGB, then to bytes or to
 * byte / 127.5 − 1, on a canvas filled with the padding first.
 */
function reference(frame: VideoFrame, width: number, height: number, centre: boolean, maxScale: number, unit: boolean): { data: Uint8Array | Float32Array; box: { scale: number; padX: number; padY: number } } {
  const { width: W, height: H, data: src } = frame;
  const scale = Math.min(width / W, height / H, maxScale);
  const rw = Math.max(1, Math.min(width, Math.round(W * scale)));
  const rh = Math.max(1, Math.min(height, Math.round(H * scale)));
  const padX = centre ? Math.floor((width - rw) / 2) : 0;
  const padY = centre ? Math.floor((height - rh) / 2) : 0;
  const L = i420Layout(W, H);
  const resample = (off: number, stride: number, tx: AxisTaps, ty: AxisTaps): Float32Array => {
    const out = new Float32Array(rw * rh);
    const row = new Float32Array(rw);
    for (let j = 0; j < rh; j++) {
      for (let b = 0; b < ty.n; b++) {
        const wb = ty.w[j * ty.n + b]!;
        if (wb === 0) continue;
        const base = off + ty.idx[j * ty.n + b]! * stride;
        for (let i = 0; i < rw; i++) {
          if (tx.n === 2) row[i] = src[base + tx.idx[2 * i]!]! * tx.w[2 * i]! + src[base + tx.idx[2 * i + 1]!]! * tx.w[2 * i + 1]!;
          else {
            let s = 0;
            for (let a = 0; a < tx.n; a++) s += src[base + tx.idx[i * tx.n + a]!]!;
            row[i] = s * tx.w[i * tx.n]!;
          }
        }
        for (let i = 0; i < rw; i++) out[j * rw + i]! += row[i]! * wb;
      }
    }
    return out;
  };
  const fx = W / rw, fy = H / rh;
  const ys = resample(0, W, axisTaps(W, rw, fx), axisTaps(H, rh, fy));
  const us = resample(L.uOff, L.cw, axisTaps(L.cw, rw, fx / 2), axisTaps(L.ch, rh, fy / 2));
  const vs = resample(L.vOff, L.cw, axisTaps(L.cw, rw, fx / 2), axisTaps(L.ch, rh, fy / 2));
  const k = yuvCoefficients(frame.colour);
  const byte = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v + 0.5));
  const out = unit ? new Float32Array(width * height * 3).fill(-1) : new Uint8Array(width * height * 3);
  for (let j = 0; j < rh; j++) {
    for (let i = 0; i < rw; i++) {
      const p = j * rw + i;
      const l = k.yk * (ys[p]! - k.y0);
      const u = us[p]! - 128;
      const v = vs[p]! - 128;
      const rgb = [byte(l + k.rv * v), byte(l - k.gu * u - k.gv * v), byte(l + k.bu * u)];
      const o = ((padY + j) * width + padX + i) * 3;
      for (let c = 0; c < 3; c++) out[o + c] = unit ? rgb[c]! / 127.5 - 1 : rgb[c]!;
    }
  }
  return { data: out, box: { scale: rw / W, padX, padY } };
}

/** A frame of random samples (any size, odd included) in a given colour. */
function noiseFrame(width: number, height: number, seed: number, colour?: VideoFrame['colour']): VideoFrame {
  const rand = seededRandom(seed);
  const data = new Uint8Array(i420Layout(width, height).size);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
  return { index: 0, pts: 0, width, height, data, ...(colour ? { colour } : {}) };
}

describe('detector letterbox (row-fused sampler) against the straightforward separable form', () => {
  it('is bit-identical for real frames and stills at the detectors\' input sizes, every tap count (bilinear, 2–6 point taps, upscaling)', async () => {
    const frames: VideoFrame[] = [
      ...(await firstFrames(shared('footage/short_hamilton_clip.mp4'), 2)),
      ...(await firstFrames(shared('footage/retalk_2.mp4'), 1)),
      await stillFrame(shared('stills/obama.jpg')),
      await stillFrame(shared('stills/obama-240p.jpg')),
      await stillFrame(shared('stills/two_people.jpg')),
    ];
    let compared = 0;
    for (const f of frames) {
      for (const [w, h, centre, maxScale] of [[256, 256, true, Infinity], [128, 128, true, Infinity], [640, 352, false, 1], [320, 192, false, Infinity], [97, 61, true, Infinity]] as const) {
        const ref = reference(f, w, h, centre, maxScale, true);
        const got = letterboxUnitTensor(f, w, h, centre);
        if (maxScale === Infinity) {
          expect(got.box).toEqual(ref.box);
          expect(got.data).toEqual(ref.data);
          compared++;
        }
        const refRgb = reference(f, w, h, centre, maxScale, false);
        const rgb = letterboxRgb(f, w, h, centre, maxScale);
        expect(rgb.box).toEqual(refRgb.box);
        expect(rgb.data).toEqual(refRgb.data);
      }
    }
    expect(compared).toBe(frames.length * 4);
  });

  it('is bit-identical on odd-sized noise frames in every colour, and reuses a given tensor (padding rewritten)', () => {
    const into = new Float32Array(256 * 256 * 3).fill(7);
    for (const [w, h, colour] of [[641, 359, undefined], [1279, 723, { matrix: 'bt709', range: 'limited' }], [1921, 1079, { matrix: 'bt2020', range: 'full' }], [33, 517, { matrix: 'bt601', range: 'full' }], [3000, 200, undefined]] as const) {
      const f = noiseFrame(w, h, w * 7 + h, colour);
      const ref = reference(f, 256, 256, true, Infinity, true);
      const got = letterboxUnitTensor(f, 256, 256, true, into);
      expect(got.data).toBe(into);
      expect(got.data).toEqual(ref.data);
      expect(letterboxRgb(f, 255, 129, false).data).toEqual(reference(f, 255, 129, false, Infinity, false).data);
    }
  });

  it('the reference itself: a flat grey frame gives that grey inside the picture and black padding', () => {
    const f: VideoFrame = { index: 0, pts: 0, width: 64, height: 32, data: new Uint8Array(i420Layout(64, 32).size).fill(128) };
    const ref = reference(f, 32, 32, true, Infinity, false);
    const got = letterboxRgb(f, 32, 32, true);
    expect(got.box).toEqual({ scale: 0.5, padX: 0, padY: 8 });
    expect(got.data).toEqual(ref.data);
    expect(got.data[0]).toBe(0);
    // Y 128 limited range: (128 − 16) · 255/219 = 130.4 → 130 in each channel.
    expect([...got.data.subarray(8 * 32 * 3, 8 * 32 * 3 + 3)]).toEqual([130, 130, 130]);
  });
});
