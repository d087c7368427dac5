/**
 * The straightforward paste-back (src/compose/paste.ts before its row intervals and inlining): every pixel of
 * the crop's footprint goes through the per-pixel test. Kept as the reference the fast paste must equal byte
 * for byte (test/compose-fast.test.ts).
 */
import type { Affine, Box, VideoFrame } from '../../src/types.ts';
import { CROP_SIZE } from '../../src/types.ts';
import { i420Layout, yuvCoefficients } from '../../src/util/yuv.ts';
import { cropFootprint, similarityScale } from '../../src/compose/align.ts';

/** Soft-mask geometry in frame pixels, derived from the face size (CodeFormer's paste-back recipe). */
interface MaskGeometry {
  /** Distance from the crop's edge (frame px) below which the mask is 0. */
  inner0: number;
  /** Distance from the crop's edge (frame px) from which the mask is 1. */
  inner1: number;
}

/**
 * CodeFormer's recipe, expressed as distances: the warped crop's support is eroded by 2 px, then
 * w_edge = sqrt(mask area)/20, eroded by 2·w_edge and blurred over ≈ 2·w_edge. So the mask rises from
 * 0 at 2 + w_edge to 1 at 2 + 3·w_edge pixels inside the crop's edge. `faceSide` is the crop's side in
 * frame pixels (CROP_SIZE / scale).
 */
function maskGeometry(faceSide: number): MaskGeometry {
  const wEdge = faceSide / 20;
  return { inner0: 2 + wEdge, inner1: 2 + 3 * wEdge };
}

/** Mask weight for a point `dist` frame pixels inside the crop's edge: 0, a smoothstep ramp, then 1. Monotone in dist. */
function maskWeight(dist: number, g: MaskGeometry): number {
  if (dist <= g.inner0) return 0;
  if (dist >= g.inner1) return 1;
  const t = (dist - g.inner0) / (g.inner1 - g.inner0);
  return t * t * (3 - 2 * t);
}

/**
 * Blends a restored RGB24 crop back into the I420 frame in place, through the inverse of `toCrop`, with the
 * soft mask. Blending happens in YCbCr: the colour conversion is affine, so Y + m·(Y(restored) − Y) is the
 * luma of the RGB blend, and each chroma sample moves by the mean over its 2×2 luma pixels of m·(C(restored)
 * − C), which is the 2×2 mean of the RGB blend converted back (ffmpeg's nearest chroma upsampling). Only
 * samples with a positive mask weight somewhere under them are written; every other byte of the frame —
 * all of it outside the crop's footprint — stays bit-identical to the decoder's. Returns the footprint.
 */
export function referencePasteCrop(frame: VideoFrame, restored: Uint8Array, toCrop: Affine, size = CROP_SIZE, frameWeights?: Float32Array, cropWeight?: { side: number; at: (u: number, v: number) => number }): Box {
  // frameWeights (optional, one per frame pixel, e.g. a feathered inpainting mask) multiply the soft mask;
  // so does cropWeight (a weight at crop coordinates of a side² crop at the same alignment, e.g. the face hull).
  const cwAt = cropWeight?.at;
  const cwScale = cropWeight ? cropWeight.side / size : 0;
  const { width: W, height: H, data } = frame;
  const rect = cropFootprint(toCrop, W, H, size);
  if (rect.width === 0 || rect.height === 0) return rect;
  const k = similarityScale(toCrop);
  const g = maskGeometry(size / k);
  const [a, b, c, d, e, f] = toCrop;
  const { cw, uOff, vOff } = i420Layout(W, H);
  const co = yuvCoefficients(frame.colour);
  const { kr, kg, kb, ky, ku, kv } = co;
  const Y0 = co.y0;
  const out = new Uint8ClampedArray(data.buffer, data.byteOffset, data.length);
  const last = size - 1;
  const cx0 = rect.x >> 1;
  const cx1 = (rect.x + rect.width + 1) >> 1;
  // Per chroma column of the current chroma row: Σ m, Σ m·U(restored), Σ m·V(restored).
  const accM = new Float64Array(cx1 - cx0);
  const accU = new Float64Array(cx1 - cx0);
  const accV = new Float64Array(cx1 - cx0);
  const yEnd = rect.y + rect.height;
  const xEnd = rect.x + rect.width;
  for (let cy = rect.y >> 1; cy < (yEnd + 1) >> 1; cy++) {
    accM.fill(0);
    accU.fill(0);
    accV.fill(0);
    for (let y = Math.max(2 * cy, rect.y); y < Math.min(2 * cy + 2, yEnd); y++) {
      const py = y + 0.5;
      for (let x = rect.x; x < xEnd; x++) {
        const px = x + 0.5;
        const cu = a * px + b * py + c;
        const cv = d * px + e * py + f;
        const dist = Math.min(cu, cv, size - cu, size - cv) / k;
        let m = maskWeight(dist, g) * (frameWeights ? frameWeights[y * W + x]! : 1);
        if (m > 0 && cwAt) m *= cwAt(cu * cwScale, cv * cwScale);
        if (m <= 0) continue;
        // Bilinear sample of the restored crop at (cu, cv), integer-centred.
        const sx = Math.min(Math.max(cu - 0.5, 0), last);
        const sy = Math.min(Math.max(cv - 0.5, 0), last);
        const x0 = Math.min(Math.floor(sx), last - 1);
        const y0 = Math.min(Math.floor(sy), last - 1);
        const fx = sx - x0;
        const fy = sy - y0;
        const i00 = (y0 * size + x0) * 3;
        const i01 = i00 + size * 3;
        const r = bilerp(restored, i00, i01, fx, fy);
        const gg = bilerp(restored, i00 + 1, i01 + 1, fx, fy);
        const bb = bilerp(restored, i00 + 2, i01 + 2, fx, fy);
        const l = kr * r + kg * gg + kb * bb;
        const o = y * W + x;
        const yOld = data[o]!;
        out[o] = yOld + (Y0 + ky * l - yOld) * m;
        const j = (x >> 1) - cx0;
        accM[j]! += m;
        accU[j]! += m * (128 + ku * (bb - l));
        accV[j]! += m * (128 + kv * (r - l));
      }
    }
    const rows = 2 * cy + 1 < H ? 2 : 1;
    for (let j = 0; j < accM.length; j++) {
      const m = accM[j]!;
      if (m <= 0) continue;
      const cx = cx0 + j;
      const n = rows * (2 * cx + 1 < W ? 2 : 1);
      const ci = cy * cw + cx;
      const u = data[uOff + ci]!;
      const v = data[vOff + ci]!;
      out[uOff + ci] = u + (accU[j]! - u * m) / n;
      out[vOff + ci] = v + (accV[j]! - v * m) / n;
    }
  }
  return rect;
}

/** Bilinear sample of one channel of an RGB24 crop: taps at i00, i00 + 3 (row above) and i01, i01 + 3. */
function bilerp(p: Uint8Array, i00: number, i01: number, fx: number, fy: number): number {
  const top = p[i00]! + (p[i00 + 3]! - p[i00]!) * fx;
  const bottom = p[i01]! + (p[i01 + 3]! - p[i01]!) * fx;
  return top + (bottom - top) * fy;
}
