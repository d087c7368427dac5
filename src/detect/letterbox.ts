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
export interface AxisTaps {
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
export function axisTaps(src: number, dst: number, factor: number): AxisTaps {
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
 * One output row of one or two planes (U and V share their taps), `rw` floats into each of `dst0`/`dst1`: for
 * each output pixel the weighted sum over its taps' source rows of each row's horizontally filtered value.
 * The float32 rounding of each step is the one the separable form (filter a source row into a Float32Array,
 * accumulate it into a Float32Array plane) performs, so the samples are bit-identical to it
 * (test/letterbox.test.ts holds this against that form), without its two whole-plane passes and with one
 * read of the taps for both chroma planes: measured 2.05 → 1.22 CPU-ms per 640×360 frame into 256², 2.57 → 1.60 at
 * 1280×720 (one thread, bench-style loop over 30 decoded frames).
 * `off1` < 0: one plane only.
 */
function sampleRow(plane: Uint8Array, off0: number, off1: number, stride: number, tx: AxisTaps, ty: AxisTaps, j: number, rw: number, dst0: Float32Array, dst1: Float32Array): void {
  const fround = Math.fround;
  const { n: nx, idx: ix, w: wx } = tx;
  const { n: ny, idx: iy, w: wy } = ty;
  const t = j * ny;
  const two = off1 >= 0;
  if (nx === 2 && ny === 2) {
    // The common case (factors ≤ 4 on both axes: every chroma plane, luma up to 1024 px wide for a 256 input), unrolled.
    const w0 = wy[t]!, w1 = wy[t + 1]!;
    const r0 = iy[t]! * stride, r1 = iy[t + 1]! * stride;
    const a0 = off0 + r0, a1 = off0 + r1, c0 = off1 + r0, c1 = off1 + r1;
    for (let i = 0, k = 0; i < rw; i++, k += 2) {
      const x0 = ix[k]!, x1 = ix[k + 1]!, u0 = wx[k]!, u1 = wx[k + 1]!;
      let p = 0;
      let q = 0;
      if (w0 !== 0) {
        p = fround(fround(plane[a0 + x0]! * u0 + plane[a0 + x1]! * u1) * w0);
        if (two) q = fround(fround(plane[c0 + x0]! * u0 + plane[c0 + x1]! * u1) * w0);
      }
      if (w1 !== 0) {
        p = fround(p + fround(plane[a1 + x0]! * u0 + plane[a1 + x1]! * u1) * w1);
        if (two) q = fround(q + fround(plane[c1 + x0]! * u0 + plane[c1 + x1]! * u1) * w1);
      }
      dst0[i] = p;
      if (two) dst1[i] = q;
    }
    return;
  }
  // Any other tap counts (point taps of factors > 4): source row by source row, as the separable form.
  for (let pl = 0; pl < (two ? 2 : 1); pl++) {
    const off = pl === 0 ? off0 : off1;
    const dst = pl === 0 ? dst0 : dst1;
    dst.fill(0, 0, rw);
    for (let b = 0; b < ny; b++) {
      const wb = wy[t + b]!;
      if (wb === 0) continue;
      const base = off + iy[t + b]! * stride;
      if (nx === 2) {
        for (let i = 0, k = 0; i < rw; i++, k += 2) dst[i] = dst[i]! + fround(plane[base + ix[k]!]! * wx[k]! + plane[base + ix[k + 1]!]! * wx[k + 1]!) * wb;
      } else if (nx === 3) {
        for (let i = 0, k = 0; i < rw; i++, k += 3) dst[i] = dst[i]! + fround((plane[base + ix[k]!]! + plane[base + ix[k + 1]!]! + plane[base + ix[k + 2]!]!) * wx[k]!) * wb;
      } else {
        for (let i = 0, k = 0; i < rw; i++) {
          let sum = 0;
          for (let a = 0; a < nx; a++, k++) sum += plane[base + ix[k]!]!;
          dst[i] = dst[i]! + fround(sum * wx[i * nx]!) * wb;
        }
      }
    }
  }
}

/** Three rows (Y, U, V) of samples, reused between calls (sampling is synchronous; contents never outlive it). */
let scratch = new Float32Array(0);
function scratchRows(n: number): [Float32Array, Float32Array, Float32Array] {
  if (scratch.length < 3 * n) scratch = new Float32Array(3 * n);
  return [scratch.subarray(0, n), scratch.subarray(n, 2 * n), scratch.subarray(2 * n, 3 * n)];
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

/** Where the letterboxed picture lies in the output, and a sampler of its rows. */
interface Sampler {
  rw: number;
  rh: number;
  padX: number;
  box: Letterbox;
  /** Fills the Y, U and V samples of picture row j (rw each) and returns them (views into scratch rows). */
  row(j: number): [Float32Array, Float32Array, Float32Array];
}

function sampler(frame: VideoFrame, width: number, height: number, centre: boolean, maxScale: number): Sampler {
  const { width: W, height: H, data: src } = frame;
  const scale = Math.min(width / W, height / H, maxScale);
  const rw = Math.max(1, Math.min(width, Math.round(W * scale)));
  const rh = Math.max(1, Math.min(height, Math.round(H * scale)));
  const padX = centre ? Math.floor((width - rw) / 2) : 0;
  const padY = centre ? Math.floor((height - rh) / 2) : 0;
  const L = i420Layout(W, H);
  const { lx, ly, cx, cy } = geometryTaps(W, H, rw, rh, L.cw, L.ch);
  const rows = scratchRows(rw);
  const row = (j: number): [Float32Array, Float32Array, Float32Array] => {
    sampleRow(src, 0, -1, W, lx, ly, j, rw, rows[0], rows[0]);
    sampleRow(src, L.uOff, L.vOff, L.cw, cx, cy, j, rw, rows[1], rows[2]);
    return rows;
  };
  // Scale actually used per axis may differ by rounding; take the horizontal one (differences are < 1 px).
  return { rw, rh, padX, box: { scale: rw / W, padX, padY }, row };
}

/** byte / 127.5 − 1 for every byte, as float32: the [-1, 1] tensor's values (the same division, done once). */
const UNIT = Float32Array.from({ length: 256 }, (_, b) => b / 127.5 - 1);

/**
 * Fits an I420 frame inside `width` × `height` keeping its aspect ratio and pads the rest with black:
 * centred when `centre`, else right/bottom. The scale never exceeds `maxScale`. The picture is built by
 * sampling the Y, U and V planes only where the detector's pixels need them (see axisTaps) and converting
 * those samples to RGB with the frame's colour matrix: the frame is never converted or resized whole.
 * Returns packed RGB24 pixels (width × height × 3) and the mapping.
 */
export function letterboxRgb(frame: VideoFrame, width: number, height: number, centre: boolean, maxScale = Infinity): { data: Uint8Array; box: Letterbox } {
  const { rw, rh, padX, box, row } = sampler(frame, width, height, centre, maxScale);
  const { yk, y0, rv, gu, gv, bu } = yuvCoefficients(frame.colour);
  const out = new Uint8Array(width * height * 3);
  for (let j = 0; j < rh; j++) {
    const [ys, us, vs] = row(j);
    let o = ((box.padY + j) * width + padX) * 3;
    for (let i = 0; i < rw; i++, o += 3) {
      const l = yk * (ys[i]! - y0);
      const u = us[i]! - 128;
      const v = vs[i]! - 128;
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
  const { rw, rh, padX, box, row } = sampler(frame, width, height, centre, Infinity);
  const { yk, y0, rv, gu, gv, bu } = yuvCoefficients(frame.colour);
  const n = width * height * 3;
  const out = into && into.length === n ? into : new Float32Array(n);
  // Padding is −1 (black): only the bands around the picture are filled, the picture is written once.
  const top = (box.padY * width) * 3;
  const bottom = ((box.padY + rh) * width) * 3;
  out.fill(-1, 0, top);
  out.fill(-1, bottom, n);
  for (let j = 0; j < rh; j++) {
    const [ys, us, vs] = row(j);
    const rowStart = (box.padY + j) * width * 3;
    let o = rowStart + padX * 3;
    out.fill(-1, rowStart, o);
    for (let i = 0; i < rw; i++, o += 3) {
      const l = yk * (ys[i]! - y0);
      const u = us[i]! - 128;
      const v = vs[i]! - 128;
      out[o] = UNIT[byte(l + rv * v)]!;
      out[o + 1] = UNIT[byte(l - gu * u - gv * v)]!;
      out[o + 2] = UNIT[byte(l + bu * u)]!;
    }
    out.fill(-1, o, rowStart + width * 3);
  }
  return { data: out, box };
}

/** Rounds and clamps to 0–255 (a Uint8ClampedArray store does the same, but measured slower here). */
function byte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
}
