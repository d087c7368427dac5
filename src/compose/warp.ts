import type { Affine, VideoFrame } from '../types.ts';
import { CROP_SIZE } from '../types.ts';
import { invertAffine } from './align.ts';

/** Colour outside the frame in a crop (facexlib's border value, what CodeFormer saw in training). */
export const CROP_BORDER_RGB = [132, 133, 135] as const;

/**
 * Warps the face into a CROP_SIZE² RGB24 crop with bilinear sampling. Reads only the source pixels the
 * crop needs (the face's region), never the whole frame. Coordinates are continuous with pixel centres
 * at +0.5, matching the detectors' points.
 */
export function warpToCrop(frame: VideoFrame, toCrop: Affine, size = CROP_SIZE): Uint8Array {
  const inv = invertAffine(toCrop);
  const out = new Uint8Array(size * size * 3);
  const { width: W, height: H, data } = frame;
  const [a, b, c, d, e, f] = inv;
  for (let v = 0; v < size; v++) {
    const cy = v + 0.5;
    // Source position of crop pixel (u, v)'s centre, shifted to integer-centred sampling coordinates.
    let sx = a * 0.5 + b * cy + c - 0.5;
    let sy = d * 0.5 + e * cy + f - 0.5;
    let o = v * size * 3;
    // Rows whose every tap lies inside the frame (the usual case: a face away from the edges) skip the
    // bounds checks; sampling positions are linear in u, so the row's two ends decide.
    const ex = sx + a * (size - 1);
    const ey = sy + d * (size - 1);
    if (Math.min(sx, ex) >= 0 && Math.max(sx, ex) < W - 1 && Math.min(sy, ey) >= 0 && Math.max(sy, ey) < H - 1) {
      for (let u = 0; u < size; u++, sx += a, sy += d, o += 3) {
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const fx = sx - x0;
        const fy = sy - y0;
        const i00 = (y0 * W + x0) * 3;
        const i01 = i00 + W * 3;
        out[o] = lerp2(data[i00]!, data[i00 + 3]!, data[i01]!, data[i01 + 3]!, fx, fy);
        out[o + 1] = lerp2(data[i00 + 1]!, data[i00 + 4]!, data[i01 + 1]!, data[i01 + 4]!, fx, fy);
        out[o + 2] = lerp2(data[i00 + 2]!, data[i00 + 5]!, data[i01 + 2]!, data[i01 + 5]!, fx, fy);
      }
      continue;
    }
    for (let u = 0; u < size; u++, sx += a, sy += d, o += 3) {
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H) {
        out[o] = CROP_BORDER_RGB[0];
        out[o + 1] = CROP_BORDER_RGB[1];
        out[o + 2] = CROP_BORDER_RGB[2];
        continue;
      }
      const fx = sx - x0;
      const fy = sy - y0;
      // Taps outside the frame take the border colour, so the crop edge fades exactly like cv2's constant border.
      const xa = x0, xb = x0 + 1, ya = y0, yb = y0 + 1;
      const inXa = xa >= 0 && xa < W, inXb = xb >= 0 && xb < W, inYa = ya >= 0 && ya < H, inYb = yb >= 0 && yb < H;
      for (let ch = 0; ch < 3; ch++) {
        const border = CROP_BORDER_RGB[ch]!;
        const p00 = inXa && inYa ? data[(ya * W + xa) * 3 + ch]! : border;
        const p10 = inXb && inYa ? data[(ya * W + xb) * 3 + ch]! : border;
        const p01 = inXa && inYb ? data[(yb * W + xa) * 3 + ch]! : border;
        const p11 = inXb && inYb ? data[(yb * W + xb) * 3 + ch]! : border;
        const top = p00 + (p10 - p00) * fx;
        const bottom = p01 + (p11 - p01) * fx;
        out[o + ch] = Math.round(top + (bottom - top) * fy);
      }
    }
  }
  return out;
}

/** Bilinear blend of four taps (top-left, top-right, bottom-left, bottom-right), rounded. */
function lerp2(p00: number, p10: number, p01: number, p11: number, fx: number, fy: number): number {
  const top = p00 + (p10 - p00) * fx;
  const bottom = p01 + (p11 - p01) * fx;
  return Math.round(top + (bottom - top) * fy);
}
