import type { Affine, VideoFrame } from '../types.ts';
import { CROP_SIZE } from '../types.ts';
import { i420Layout, yuvCoefficients, type YuvCoefficients } from '../util/yuv.ts';
import { invertAffine } from './align.ts';

/**
 * Warps the face into a CROP_SIZE² RGB24 crop (what restorers take) with bilinear sampling of the frame's
 * I420 planes, converting only the crop's samples to RGB with the frame's colour matrix. Reads only the
 * source pixels the crop needs (the face's region), never the whole frame. Coordinates are continuous with
 * pixel centres at +0.5, matching the detectors' points. `into` (optional, `size`² × 3 bytes): the buffer to
 * write the crop into (every byte is written), instead of a new one.
 *
 * The result equals a bilinear warp of the frame converted to RGB with chroma repeated over each 2×2 block
 * (what ffmpeg's yuv420p → rgb24 conversion does), up to rounding: the conversion is affine, so
 * interpolating Y, U and V and converting once is interpolating R, G and B.
 *
 * Crop pixels outside the frame repeat the nearest edge pixel (cv2's BORDER_REPLICATE, as facefusion
 * warps). A constant fill (facexlib's grey 132/133/135, used here before) darkened or brightened the
 * outermost rows of faces cut by the frame edge: bilinear taps mixed the fill into pixels inside the
 * frame, and restorers sharpened the step between picture and fill into the rows next to it.
 */
export function warpToCrop(frame: VideoFrame, toCrop: Affine, size = CROP_SIZE, into?: Uint8Array): Uint8Array {
  const inv = invertAffine(toCrop);
  if (into && into.length !== size * size * 3) throw new TypeError(`Expected ${size * size * 3} bytes for a ${size}² crop but received ${into.length}`);
  // Every byte of the crop is written below, so a buffer given to reuse needs no clearing.
  const out = into ?? new Uint8Array(size * size * 3);
  // Clamped stores round and saturate in one step (the conversion can leave 0–255 near saturated colours).
  const outc = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  const { width: W, height: H, data } = frame;
  const { cw, uOff, vOff } = i420Layout(W, H);
  const k = yuvCoefficients(frame.colour);
  const [a, b, c, d, e, f] = inv;
  // Crops that magnify the face (a crop pixel steps less than 0.8 frame pixels: faces under ~100 px between the
  // eyes, e.g. 80 px in the live bench's 640×480 camera) sample the same four taps for runs of crop pixels;
  // their rows load the taps once per run (interiorRowReusingTaps). Measured per 512 crop, thread CPU, 1280×720
  // frame: 60 px between the eyes 8.4–8.7 → 6.6–7.1 ms; for larger faces the check costs more than it saves
  // (200 px: 9.0 → 9.9), so they keep the loop below. Both give the same bytes (test/warp-fast.test.ts).
  const reuse = Math.hypot(a, d) < 0.8;
  for (let v = 0; v < size; v++) {
    const cy = v + 0.5;
    // Source position of crop pixel (u, v)'s centre, shifted to integer-centred sampling coordinates.
    const sx = a * 0.5 + b * cy + c - 0.5;
    const sy = d * 0.5 + e * cy + f - 0.5;
    const o = v * size * 3;
    // Rows whose every tap lies inside the frame (the usual case: a face away from the edges) skip the
    // bounds checks; sampling positions are linear in u, so the row's two ends decide.
    const ex = sx + a * (size - 1);
    const ey = sy + d * (size - 1);
    if (Math.min(sx, ex) >= 0 && Math.max(sx, ex) < W - 1 && Math.min(sy, ey) >= 0 && Math.max(sy, ey) < H - 1) {
      if (reuse) interiorRowReusingTaps(data, W, cw, uOff, vOff, k, outc, o, size, sx, sy, a, d);
      else interiorRow(data, W, cw, uOff, vOff, k, outc, o, size, sx, sy, a, d);
      continue;
    }
    warpToCropEdgeRow(data, W, H, cw, uOff, vOff, k, outc, o, size, sx, sy, a, d);
  }
  return out;
}

/**
 * One crop row that reaches past the frame: the sampling position is clamped to the frame (cv2's
 * BORDER_REPLICATE, facefusion's choice), so pixels outside continue the edge instead of stepping to a fill
 * colour, and a bilinear tap never mixes a fill colour into pixels inside the frame.
 */
function warpToCropEdgeRow(data: Uint8Array, W: number, H: number, cw: number, uOff: number, vOff: number, k: YuvCoefficients, outc: Uint8ClampedArray, o: number, size: number, sx: number, sy: number, a: number, d: number): void {
  const { y0: Y0, yk, rv, gu, gv, bu } = k;
  const xMax = W - 1, yMax = H - 1;
  // Each of the four taps (x0, y0), (x1, y0), (x0, y1), (x1, y1) is converted to RGB and clamped, then the
  // three channels are interpolated: the arithmetic of the per-tap loop this replaced (an array of taps and one
  // of their colours per pixel), written out with locals, which made these rows ~2× faster (same bytes).
  for (let u = 0; u < size; u++, sx += a, sy += d, o += 3) {
    const px = sx < 0 ? 0 : sx > xMax ? xMax : sx;
    const py = sy < 0 ? 0 : sy > yMax ? yMax : sy;
    const x0 = Math.floor(px);
    const y0 = Math.floor(py);
    const fx = px - x0;
    const fy = py - y0;
    const x1 = x0 < xMax ? x0 + 1 : x0;
    const y1 = y0 < yMax ? y0 + 1 : y0;
    const r0 = y0 * W, r1 = y1 * W;
    const c0 = (y0 >> 1) * cw, c1 = (y1 >> 1) * cw, h0 = x0 >> 1, h1 = x1 >> 1;
    const l00 = yk * (data[r0 + x0]! - Y0), l10 = yk * (data[r0 + x1]! - Y0), l01 = yk * (data[r1 + x0]! - Y0), l11 = yk * (data[r1 + x1]! - Y0);
    const u00 = data[uOff + c0 + h0]! - 128, u10 = data[uOff + c0 + h1]! - 128, u01 = data[uOff + c1 + h0]! - 128, u11 = data[uOff + c1 + h1]! - 128;
    const v00 = data[vOff + c0 + h0]! - 128, v10 = data[vOff + c0 + h1]! - 128, v01 = data[vOff + c1 + h0]! - 128, v11 = data[vOff + c1 + h1]! - 128;
    outc[o] = lerp2(clamp255(l00 + rv * v00), clamp255(l10 + rv * v10), clamp255(l01 + rv * v01), clamp255(l11 + rv * v11), fx, fy);
    outc[o + 1] = lerp2(clamp255(l00 - gu * u00 - gv * v00), clamp255(l10 - gu * u10 - gv * v10), clamp255(l01 - gu * u01 - gv * v01), clamp255(l11 - gu * u11 - gv * v11), fx, fy);
    outc[o + 2] = lerp2(clamp255(l00 + bu * u00), clamp255(l10 + bu * u10), clamp255(l01 + bu * u01), clamp255(l11 + bu * u11), fx, fy);
  }
}

/** One crop row whose taps all lie inside the frame (no bounds checks): bilinear Y, U and V, converted once. */
function interiorRow(data: Uint8Array, W: number, cw: number, uOff: number, vOff: number, k: YuvCoefficients, outc: Uint8ClampedArray, o: number, size: number, sx: number, sy: number, a: number, d: number): void {
  const { y0: Y0, yk, rv, gu, gv, bu } = k;
  for (let u = 0; u < size; u++, sx += a, sy += d, o += 3) {
    const x0 = Math.floor(sx);
    const y0 = Math.floor(sy);
    const fx = sx - x0;
    const fy = sy - y0;
    const i00 = y0 * W + x0;
    const yy = lerp2(data[i00]!, data[i00 + 1]!, data[i00 + W]!, data[i00 + W + 1]!, fx, fy);
    // The four taps' chroma samples (a tap pair can share one when it lies inside a 2×2 block).
    const ca = x0 >> 1, cb = (x0 + 1) >> 1, ra = (y0 >> 1) * cw, rb = ((y0 + 1) >> 1) * cw;
    const uu = lerp2(data[uOff + ra + ca]!, data[uOff + ra + cb]!, data[uOff + rb + ca]!, data[uOff + rb + cb]!, fx, fy) - 128;
    const vv = lerp2(data[vOff + ra + ca]!, data[vOff + ra + cb]!, data[vOff + rb + ca]!, data[vOff + rb + cb]!, fx, fy) - 128;
    const l = yk * (yy - Y0);
    outc[o] = l + rv * vv;
    outc[o + 1] = l - gu * uu - gv * vv;
    outc[o + 2] = l + bu * uu;
  }
}

/**
 * One crop row whose taps all lie inside the frame, as interiorRow computes it (the same
 * arithmetic in the same order, so the same bytes), loading the twelve tap samples only when the taps move.
 */
function interiorRowReusingTaps(data: Uint8Array, W: number, cw: number, uOff: number, vOff: number, k: YuvCoefficients, outc: Uint8ClampedArray, o: number, size: number, sx: number, sy: number, a: number, d: number): void {
  const { y0: Y0, yk, rv, gu, gv, bu } = k;
  let last = -1;
  let p00 = 0, p10 = 0, p01 = 0, p11 = 0, u00 = 0, u10 = 0, u01 = 0, u11 = 0, v00 = 0, v10 = 0, v01 = 0, v11 = 0;
  for (let u = 0; u < size; u++, sx += a, sy += d, o += 3) {
    const x0 = Math.floor(sx);
    const y0 = Math.floor(sy);
    const fx = sx - x0;
    const fy = sy - y0;
    const i00 = y0 * W + x0;
    if (i00 !== last) {
      last = i00;
      p00 = data[i00]!; p10 = data[i00 + 1]!; p01 = data[i00 + W]!; p11 = data[i00 + W + 1]!;
      const ca = x0 >> 1, cb = (x0 + 1) >> 1, ra = (y0 >> 1) * cw, rb = ((y0 + 1) >> 1) * cw;
      u00 = data[uOff + ra + ca]!; u10 = data[uOff + ra + cb]!; u01 = data[uOff + rb + ca]!; u11 = data[uOff + rb + cb]!;
      v00 = data[vOff + ra + ca]!; v10 = data[vOff + ra + cb]!; v01 = data[vOff + rb + ca]!; v11 = data[vOff + rb + cb]!;
    }
    const yy = lerp2(p00, p10, p01, p11, fx, fy);
    const uu = lerp2(u00, u10, u01, u11, fx, fy) - 128;
    const vv = lerp2(v00, v10, v01, v11, fx, fy) - 128;
    const l = yk * (yy - Y0);
    outc[o] = l + rv * vv;
    outc[o + 1] = l - gu * uu - gv * vv;
    outc[o + 2] = l + bu * uu;
  }
}

/** Bilinear blend of four taps (top-left, top-right, bottom-left, bottom-right), unrounded. */
function lerp2(p00: number, p10: number, p01: number, p11: number, fx: number, fy: number): number {
  const top = p00 + (p10 - p00) * fx;
  const bottom = p01 + (p11 - p01) * fx;
  return top + (bottom - top) * fy;
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}
