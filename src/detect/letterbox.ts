import type { VideoFrame } from '../types.ts';
import { i420Layout, yuvCoefficients } from '../util/yuv.ts';

/** How a frame was fitted into a detector's input: frame = (input − pad) / scale. */
export interface Letterbox {
  scale: number;
  padX: number;
  padY: number;
}

/**
 * Sampling taps along one axis: output position i reads source indices idx[i·n … i·n + n − 1] with
 * weights w[…] (summing to 1).
 */
interface AxisTaps {
  n: number;
  idx: Int32Array;
  w: Float32Array;
}

/**
 * Taps that shrink (or stretch) `src` samples to `dst` over the range the output covers. Up to 2 source
 * samples per output: one bilinear tap at the output's centre (exactly a 2-sample box at a factor of 2).
 * Beyond: ⌈factor/2⌉ point taps spread evenly over the output's footprint, an area average that reads about
 * one sample in four of the frame (in 2-D), never all of it.
 */
function axisTaps(src: number, dst: number, factor: number): AxisTaps {
  if (factor <= 2) {
    const idx = new Int32Array(dst * 2);
    const w = new Float32Array(dst * 2);
    for (let i = 0; i < dst; i++) {
      const p = Math.min(Math.max((i + 0.5) * factor - 0.5, 0), src - 1);
      const i0 = Math.min(Math.floor(p), Math.max(0, src - 2));
      const t = Math.min(1, p - i0);
      idx[2 * i] = i0;
      idx[2 * i + 1] = Math.min(i0 + 1, src - 1);
      w[2 * i] = 1 - t;
      w[2 * i + 1] = t;
    }
    return { n: 2, idx, w };
  }
  const n = Math.ceil(factor / 2);
  const idx = new Int32Array(dst * n);
  const w = new Float32Array(dst * n).fill(1 / n);
  for (let i = 0; i < dst; i++) {
    for (let j = 0; j < n; j++) idx[i * n + j] = Math.min(src - 1, Math.floor((i + (j + 0.5) / n) * factor));
  }
  return { n, idx, w };
}

/**
 * Resamples one plane to rw × rh floats with the taps, separably: each output row is the weighted sum of
 * its taps' source rows, each filtered horizontally first (only the rows the taps name are read).
 */
function resample(plane: Uint8Array, off: number, stride: number, tx: AxisTaps, ty: AxisTaps, rw: number, rh: number): Float32Array {
  const out = new Float32Array(rw * rh);
  const row = scratchRow(rw);
  const { n: nx, idx: ix, w: wx } = tx;
  const { n: ny, idx: iy, w: wy } = ty;
  for (let j = 0; j < rh; j++) {
    const o = j * rw;
    for (let b = 0; b < ny; b++) {
      const base = off + iy[j * ny + b]! * stride;
      const wb = wy[j * ny + b]!;
      if (wb === 0) continue;
      if (nx === 2) {
        for (let i = 0; i < rw; i++) row[i] = plane[base + ix[2 * i]!]! * wx[2 * i]! + plane[base + ix[2 * i + 1]!]! * wx[2 * i + 1]!;
      } else {
        for (let i = 0, t = 0; i < rw; i++) {
          let s = 0;
          for (let a = 0; a < nx; a++, t++) s += plane[base + ix[t]!]!;
          row[i] = s * wx[i * nx]!;
        }
      }
      for (let i = 0; i < rw; i++) out[o + i]! += row[i]! * wb;
    }
  }
  return out;
}

/** One row of horizontally filtered samples, reused between calls (resample is synchronous; contents never outlive it). */
let scratch = new Float32Array(0);
function scratchRow(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch.subarray(0, n);
}

/** The four axes' taps of one geometry (frame size → letterboxed size); a pure function of its key, kept for the last key. */
interface GeometryTaps {
  key: string;
  lx: AxisTaps;
  ly: AxisTaps;
  cx: AxisTaps;
  cy: AxisTaps;
}
let lastTaps: GeometryTaps | undefined;

/** Taps for a W×H frame shrunk to rw×rh (luma and chroma), computed once per geometry: every frame of a video shares them. */
function geometryTaps(W: number, H: number, rw: number, rh: number, cw: number, ch: number): GeometryTaps {
  const key = `${W}x${H}>${rw}x${rh}`;
  if (lastTaps?.key === key) return lastTaps;
  const fx = W / rw;
  const fy = H / rh;
  // Chroma planes are half the size: the same footprints span half as many chroma samples.
  lastTaps = { key, lx: axisTaps(W, rw, fx), ly: axisTaps(H, rh, fy), cx: axisTaps(cw, rw, fx / 2), cy: axisTaps(ch, rh, fy / 2) };
  return lastTaps;
}

/** The letterboxed picture's samples before conversion: Y, U and V at each of its rw × rh pixels. */
interface Sampled {
  ys: Float32Array;
  us: Float32Array;
  vs: Float32Array;
  rw: number;
  rh: number;
  padX: number;
  padY: number;
  box: Letterbox;
}

function sample(frame: VideoFrame, width: number, height: number, centre: boolean, maxScale: number): Sampled {
  const { width: W, height: H, data: src } = frame;
  const scale = Math.min(width / W, height / H, maxScale);
  const rw = Math.max(1, Math.min(width, Math.round(W * scale)));
  const rh = Math.max(1, Math.min(height, Math.round(H * scale)));
  const padX = centre ? Math.floor((width - rw) / 2) : 0;
  const padY = centre ? Math.floor((height - rh) / 2) : 0;
  const L = i420Layout(W, H);
  const { lx, ly, cx, cy } = geometryTaps(W, H, rw, rh, L.cw, L.ch);
  const ys = resample(src, 0, W, lx, ly, rw, rh);
  const us = resample(src, L.uOff, L.cw, cx, cy, rw, rh);
  const vs = resample(src, L.vOff, L.cw, cx, cy, rw, rh);
  // Scale actually used per axis may differ by rounding; take the horizontal one (differences are < 1 px).
  return { ys, us, vs, rw, rh, padX, padY, box: { scale: rw / W, padX, padY } };
}

/**
 * Fits an I420 frame inside `width` × `height` keeping its aspect ratio and pads the rest with black:
 * centred when `centre`, else right/bottom. The scale never exceeds `maxScale`. The picture is built by
 * sampling the Y, U and V planes only where the detector's pixels need them (see axisTaps) and converting
 * those samples to RGB with the frame's colour matrix: the frame is never converted or resized whole.
 * Returns packed RGB24 pixels (width × height × 3) and the mapping.
 */
export function letterboxRgb(frame: VideoFrame, width: number, height: number, centre: boolean, maxScale = Infinity): { data: Uint8Array; box: Letterbox } {
  const { ys, us, vs, rw, rh, padX, box } = sample(frame, width, height, centre, maxScale);
  const { yk, y0, rv, gu, gv, bu } = yuvCoefficients(frame.colour);
  const out = new Uint8Array(width * height * 3);
  for (let j = 0, p = 0; j < rh; j++) {
    let o = ((box.padY + j) * width + padX) * 3;
    for (let i = 0; i < rw; i++, o += 3, p++) {
      const l = yk * (ys[p]! - y0);
      const u = us[p]! - 128;
      const v = vs[p]! - 128;
      out[o] = byte(l + rv * v);
      out[o + 1] = byte(l - gu * u - gv * v);
      out[o + 2] = byte(l + bu * u);
    }
  }
  return { data: out, box };
}

/**
 * The same picture as letterboxRgb (same samples, same rounding to bytes), written straight as the NHWC
 * float tensor a [-1, 1] detector takes (byte / 127.5 − 1; padding −1): one pass instead of building the
 * bytes and converting them again (about 0.1 CPU-ms per frame less, two loaded-machine pairs at 640×360).
 * `into` (width × height × 3 floats), when given, is filled and returned instead of a new array.
 */
export function letterboxUnitTensor(
  frame: VideoFrame,
  width: number,
  height: number,
  centre: boolean,
  into?: Float32Array,
): { data: Float32Array; box: Letterbox } {
  const { ys, us, vs, rw, rh, padX, box } = sample(frame, width, height, centre, Infinity);
  const { yk, y0, rv, gu, gv, bu } = yuvCoefficients(frame.colour);
  const out = into && into.length === width * height * 3 ? into.fill(-1) : new Float32Array(width * height * 3).fill(-1);
  for (let j = 0, p = 0; j < rh; j++) {
    let o = ((box.padY + j) * width + padX) * 3;
    for (let i = 0; i < rw; i++, o += 3, p++) {
      const l = yk * (ys[p]! - y0);
      const u = us[p]! - 128;
      const v = vs[p]! - 128;
      out[o] = byte(l + rv * v) / 127.5 - 1;
      out[o + 1] = byte(l - gu * u - gv * v) / 127.5 - 1;
      out[o + 2] = byte(l + bu * u) / 127.5 - 1;
    }
  }
  return { data: out, box };
}

/** Rounds and clamps to 0–255 (a Uint8ClampedArray store does the same, but measured slower here). */
function byte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
}
