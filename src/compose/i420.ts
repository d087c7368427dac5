import { i420Layout } from '../util/yuv.ts';

/**
 * Whole-frame I420 helpers for live frames (YUV 4:2:0 planar, what WebRTC decoders hand over). The frame
 * path itself never converts a whole frame: warp and paste work on the planes (warp.ts, paste.ts).
 */

/** Checks an I420 buffer's size; throws TypeError on mismatch. */
export function checkI420(data: Uint8Array, width: number, height: number): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new TypeError(`Expected positive integer dimensions but received ${width}×${height}`);
  const want = i420Layout(width, height).size;
  if (data.length < want) throw new TypeError(`Expected ${want} bytes for a ${width}×${height} I420 frame but received ${data.length}`);
}

/**
 * Paints the pass-through indicator: a solid red square (side ≈ 3 % of the height, at least 8 px) in the
 * top-right corner, so a viewer sees which frames went out unrestored.
 */
export function drawPassthroughMarker(dst: Uint8Array, width: number, height: number): void {
  checkI420(dst, width, height);
  const side = Math.max(8, Math.round(height * 0.03)) & ~1;
  const x0 = (width - side - side / 2) & ~1;
  const y0 = (side / 2) & ~1;
  const { cw, ch, uOff, vOff } = i420Layout(width, height);
  for (let y = y0; y < Math.min(height, y0 + side); y++) dst.fill(81, y * width + x0, y * width + Math.min(width, x0 + side));
  for (let cy = y0 >> 1; cy < Math.min(ch, (y0 + side) >> 1); cy++) {
    dst.fill(90, uOff + cy * cw + (x0 >> 1), uOff + cy * cw + Math.min(cw, (x0 + side) >> 1));
    dst.fill(240, vOff + cy * cw + (x0 >> 1), vOff + cy * cw + Math.min(cw, (x0 + side) >> 1));
  }
}
