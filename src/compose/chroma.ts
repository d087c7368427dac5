import type { VideoFrame } from '../types.ts';
import { i420Layout } from '../util/yuv.ts';

/**
 * Whether a frame is grayscale (infrared CCTV, old film, a desaturated edit): at least `fraction` of its
 * chroma samples lie within `tolerance` of neutral 128 (codec noise keeps a gray video's chroma a level or
 * two off). Defaults 4 and 0.995. Decided per frame, from the planes (no conversion).
 */
export function isGrayscale(frame: VideoFrame, tolerance = 4, fraction = 0.995): boolean {
  const { uOff, size } = i420Layout(frame.width, frame.height);
  const d = frame.data;
  const allowed = Math.floor((size - uOff) * (1 - fraction));
  let off = 0;
  for (let i = uOff; i < size; i++) {
    const v = d[i]! - 128;
    if (v > tolerance || v < -tolerance) if (++off > allowed) return false;
  }
  return true;
}

/**
 * The crop as the colorization script sees a grayscale photo: every pixel R = G = B = its luma
 * (0.299, 0.587, 0.114, as PIL's `convert('L')`), so colour footage can be recoloured too.
 */
export function grayCrop(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    const l = Math.round(0.299 * rgb[i]! + 0.587 * rgb[i + 1]! + 0.114 * rgb[i + 2]!);
    out[i] = l;
    out[i + 1] = l;
    out[i + 2] = l;
  }
  return out;
}
