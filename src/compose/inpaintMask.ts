import type { Affine, VideoFrame } from '../types.ts';
import { CROP_SIZE } from '../types.ts';
import { i420Layout } from '../util/yuv.ts';
import { warpToCrop } from './warp.ts';

/**
 * An inpainting mask in frame coordinates (1 = missing) and what the paste needs from it: `weights`, 1 on
 * the mask and within `feather` px of it, falling to 0 over the next `feather` px (a dilation then a box
 * blur), so paste-back changes only the masked region plus that band.
 */
export interface FrameMask {
  width: number;
  height: number;
  mask: Uint8Array;
  weights: Float32Array;
  /** The mask as a full-range I420 frame (Y 255 on the mask), warped into crops like the picture is. */
  asFrame: VideoFrame;
}

/** Builds a FrameMask; `feather` in frame pixels (default 4). */
export function frameMask(mask: Uint8Array, width: number, height: number, feather = 4): FrameMask {
  const r = Math.max(0, Math.round(feather));
  const dilated = boxPass(boxPass(Float32Array.from(mask), width, height, r, 'max', true), width, height, r, 'max', false);
  const weights = boxPass(boxPass(dilated, width, height, r, 'mean', true), width, height, r, 'mean', false);
  for (let i = 0; i < mask.length; i++) if (mask[i]) weights[i] = 1;
  const lay = i420Layout(width, height);
  const data = new Uint8Array(lay.size).fill(128);
  for (let i = 0; i < mask.length; i++) data[i] = mask[i] ? 255 : 0;
  return { width, height, mask, weights, asFrame: { index: 0, pts: 0, width, height, data, colour: { matrix: 'bt601', range: 'full' } } };
}

/** The mask carried into a face's aligned crop by the same warp as its pixels: 1 byte per crop pixel. */
export function maskInCrop(m: FrameMask, toCrop: Affine, size = CROP_SIZE): Uint8Array {
  const rgb = warpToCrop(m.asFrame, toCrop, size);
  const out = new Uint8Array(size * size);
  for (let i = 0; i < out.length; i++) out[i] = rgb[i * 3]! >= 128 ? 1 : 0;
  return out;
}

/** The crop as the inpainting script feeds it: masked pixels pure white (its hole marker). */
export function whiteHoles(crop: Uint8Array, mask: Uint8Array): Uint8Array {
  const out = Uint8Array.from(crop);
  for (let i = 0; i < mask.length; i++) if (mask[i]) out.fill(255, i * 3, i * 3 + 3);
  return out;
}

/** The script's composite: the network's output in the hole, the input crop elsewhere. */
export function compositeHoles(crop: Uint8Array, restored: Uint8Array, mask: Uint8Array): Uint8Array {
  const out = Uint8Array.from(crop);
  for (let i = 0; i < mask.length; i++) if (mask[i]) out.set(restored.subarray(i * 3, i * 3 + 3), i * 3);
  return out;
}

/** One separable pass (rows or columns) of a box max or mean of radius r, edges clamped. */
function boxPass(src: Float32Array, w: number, h: number, r: number, op: 'max' | 'mean', rows: boolean): Float32Array {
  if (r === 0) return Float32Array.from(src);
  const out = new Float32Array(src.length);
  const n = rows ? w : h;
  const lines = rows ? h : w;
  for (let l = 0; l < lines; l++) {
    const at = (i: number): number => (rows ? l * w + i : i * w + l);
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let j = Math.max(0, i - r); j <= Math.min(n - 1, i + r); j++) {
        const v = src[at(j)]!;
        acc = op === 'max' ? Math.max(acc, v) : acc + v;
      }
      out[at(i)] = op === 'max' ? acc : acc / (2 * r + 1);
    }
  }
  return out;
}
