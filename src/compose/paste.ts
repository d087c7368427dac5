import type { Affine, Box, VideoFrame } from '../types.ts';
import { CROP_SIZE } from '../types.ts';
import { cropFootprint, similarityScale } from './align.ts';

/** Soft-mask geometry in frame pixels, derived from the face size (CodeFormer's paste-back recipe). */
export interface MaskGeometry {
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
export function maskGeometry(faceSide: number): MaskGeometry {
  const wEdge = faceSide / 20;
  return { inner0: 2 + wEdge, inner1: 2 + 3 * wEdge };
}

/** Mask weight for a point `dist` frame pixels inside the crop's edge: 0, a smoothstep ramp, then 1. Monotone in dist. */
export function maskWeight(dist: number, g: MaskGeometry): number {
  if (dist <= g.inner0) return 0;
  if (dist >= g.inner1) return 1;
  const t = (dist - g.inner0) / (g.inner1 - g.inner0);
  return t * t * (3 - 2 * t);
}

/**
 * Blends a restored crop back into the frame in place, through the inverse of `toCrop`, with the soft
 * mask. Only pixels inside the crop's footprint with a positive mask weight are written; every other
 * pixel of the frame stays bit-identical. Returns the rectangle that may have changed.
 */
export function pasteCrop(frame: VideoFrame, restored: Uint8Array, toCrop: Affine, size = CROP_SIZE): Box {
  const rect = cropFootprint(toCrop, frame.width, frame.height, size);
  const k = similarityScale(toCrop);
  const g = maskGeometry(size / k);
  const [a, b, c, d, e, f] = toCrop;
  const { width: W, data } = frame;
  const last = size - 1;
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    const py = y + 0.5;
    for (let x = rect.x; x < rect.x + rect.width; x++) {
      const px = x + 0.5;
      const cu = a * px + b * py + c;
      const cv = d * px + e * py + f;
      const dist = Math.min(cu, cv, size - cu, size - cv) / k;
      const m = maskWeight(dist, g);
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
      const o = (y * W + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const top = restored[i00 + ch]! + (restored[i00 + 3 + ch]! - restored[i00 + ch]!) * fx;
        const bottom = restored[i01 + ch]! + (restored[i01 + 3 + ch]! - restored[i01 + ch]!) * fx;
        const r = top + (bottom - top) * fy;
        const orig = data[o + ch]!;
        data[o + ch] = Math.round(orig + (r - orig) * m);
      }
    }
  }
  return rect;
}
