import type { VideoFrame } from '../types.ts';
import { i420Layout } from '../util/yuv.ts';

/**
 * Integer upscaling of an I420 frame by `scale` with a separable bicubic (Keys, a = −0.5, the kernel of
 * ffmpeg's and OpenCV's bicubic), plane by plane, pixel centres aligned (output x ↔ input (x + ½)/s − ½),
 * edges repeated. The `--upscale` path without a learned upsampler.
 */
export function resizeI420(frame: VideoFrame, scale: number): VideoFrame {
  if (!(Number.isInteger(scale) && scale >= 1)) throw new TypeError(`Expected a positive integer for scale but received ${scale}`);
  const W = frame.width * scale;
  const H = frame.height * scale;
  const src = i420Layout(frame.width, frame.height);
  const dst = i420Layout(W, H);
  const out = new Uint8Array(dst.size);
  resizePlane(frame.data.subarray(0, src.uOff), frame.width, frame.height, out.subarray(0, dst.uOff), W, H);
  resizePlane(frame.data.subarray(src.uOff, src.vOff), src.cw, src.ch, out.subarray(dst.uOff, dst.vOff), dst.cw, dst.ch);
  resizePlane(frame.data.subarray(src.vOff, src.size), src.cw, src.ch, out.subarray(dst.vOff, dst.size), dst.cw, dst.ch);
  return { ...frame, width: W, height: H, data: out };
}

/** Taps and weights of the bicubic kernel for each output position along one axis. */
function taps(inSize: number, outSize: number): { idx: Int32Array; w: Float32Array } {
  const idx = new Int32Array(outSize * 4);
  const w = new Float32Array(outSize * 4);
  const r = inSize / outSize;
  const k = (t: number): number => {
    const a = -0.5;
    const x = Math.abs(t);
    if (x <= 1) return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1;
    if (x < 2) return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a;
    return 0;
  };
  for (let o = 0; o < outSize; o++) {
    const c = (o + 0.5) * r - 0.5;
    const i0 = Math.floor(c) - 1;
    for (let j = 0; j < 4; j++) {
      idx[o * 4 + j] = Math.min(inSize - 1, Math.max(0, i0 + j));
      w[o * 4 + j] = k(c - (i0 + j));
    }
  }
  return { idx, w };
}

function resizePlane(src: Uint8Array, w: number, h: number, dst: Uint8Array, W: number, H: number): void {
  const tx = taps(w, W);
  const ty = taps(h, H);
  const rows = new Float32Array(h * W);
  for (let y = 0; y < h; y++) {
    const line = y * w;
    for (let X = 0; X < W; X++) {
      let s = 0;
      for (let j = 0; j < 4; j++) s += tx.w[X * 4 + j]! * src[line + tx.idx[X * 4 + j]!]!;
      rows[y * W + X] = s;
    }
  }
  for (let Y = 0; Y < H; Y++) {
    for (let X = 0; X < W; X++) {
      let s = 0;
      for (let j = 0; j < 4; j++) s += ty.w[Y * 4 + j]! * rows[ty.idx[Y * 4 + j]! * W + X]!;
      dst[Y * W + X] = s <= 0 ? 0 : s >= 255 ? 255 : Math.round(s);
    }
  }
}
