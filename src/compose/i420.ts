import type { Box } from '../types.ts';

/**
 * I420 (YUV 4:2:0 planar, what WebRTC decoders hand over) ↔ packed RGB24, BT.601 limited range in
 * 16.16 fixed point. Only the rectangles that paste-back changed are converted back, so every other pixel
 * of a restored frame is the decoder's own bytes.
 */

/** Bytes of an I420 frame (chroma planes are ⌈w/2⌉ × ⌈h/2⌉). */
export function i420Size(width: number, height: number): number {
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  return width * height + 2 * cw * ch;
}

/** Checks an I420 buffer's size; throws TypeError on mismatch. */
export function checkI420(data: Uint8Array, width: number, height: number): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new TypeError(`Expected positive integer dimensions but received ${width}×${height}`);
  const want = i420Size(width, height);
  if (data.length < want) throw new TypeError(`Expected ${want} bytes for a ${width}×${height} I420 frame but received ${data.length}`);
}

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Writes the RGB of one BT.601 limited-range Y, U, V sample (bytes) at rgb[o], rgb[o + 1], rgb[o + 2]. */
function putRgb(rgb: Uint8Array, o: number, y: number, u: number, v: number): void {
  const c = 76309 * (y - 16);
  const cu = u - 128;
  const cv = v - 128;
  rgb[o] = clamp((c + 104597 * cv + 32768) >> 16);
  rgb[o + 1] = clamp((c - 25675 * cu - 53279 * cv + 32768) >> 16);
  rgb[o + 2] = clamp((c + 132201 * cu + 32768) >> 16);
}

/** Converts a whole I420 frame to RGB24 (into `out` when given). */
export function i420ToRgb(src: Uint8Array, width: number, height: number, out?: Uint8Array): Uint8Array {
  const rgb = out ?? new Uint8Array(width * height * 3);
  i420ToRgbRegion(src, width, height, rgb, { x: 0, y: 0, width, height });
  return rgb;
}

/**
 * Converts every `step`-th pixel of every `step`-th row of an I420 frame to RGB24: a ⌊width/step⌋ ×
 * ⌊height/step⌋ picture, for looking at a frame (finding faces) without paying for all its pixels.
 */
export function i420ToRgbSubsampled(src: Uint8Array, width: number, height: number, step: number, out?: Uint8Array): { width: number; height: number; data: Uint8Array } {
  checkI420(src, width, height);
  if (!(Number.isInteger(step) && step >= 1)) throw new TypeError(`Expected a positive integer step but received ${step}`);
  const w = Math.max(1, Math.floor(width / step));
  const h = Math.max(1, Math.floor(height / step));
  const rgb = out && out.length === w * h * 3 ? out : new Uint8Array(w * h * 3);
  const cw = (width + 1) >> 1;
  const uOff = width * height;
  const vOff = uOff + cw * ((height + 1) >> 1);
  let o = 0;
  for (let j = 0; j < h; j++) {
    const y = j * step;
    const yRow = y * width;
    const cRow = (y >> 1) * cw;
    for (let i = 0; i < w; i++, o += 3) {
      const x = i * step;
      putRgb(rgb, o, src[yRow + x]!, src[uOff + cRow + (x >> 1)]!, src[vOff + cRow + (x >> 1)]!);
    }
  }
  return { width: w, height: h, data: rgb };
}

/** Converts the pixels of `box` (clipped to the frame) from I420 into the full-frame RGB24 buffer `rgb`. */
export function i420ToRgbRegion(src: Uint8Array, width: number, height: number, rgb: Uint8Array, box: Box): void {
  checkI420(src, width, height);
  if (rgb.length < width * height * 3) throw new TypeError(`Expected ${width * height * 3} bytes for the RGB frame but received ${rgb.length}`);
  const x0 = Math.max(0, Math.floor(box.x));
  const y0 = Math.max(0, Math.floor(box.y));
  const x1 = Math.min(width, Math.ceil(box.x + box.width));
  const y1 = Math.min(height, Math.ceil(box.y + box.height));
  const cw = (width + 1) >> 1;
  const uOff = width * height;
  const vOff = uOff + cw * ((height + 1) >> 1);
  for (let y = y0; y < y1; y++) {
    const yRow = y * width;
    const cRow = (y >> 1) * cw;
    let o = (yRow + x0) * 3;
    for (let x = x0; x < x1; x++, o += 3) {
      putRgb(rgb, o, src[yRow + x]!, src[uOff + cRow + (x >> 1)]!, src[vOff + cRow + (x >> 1)]!);
    }
  }
}

/**
 * Writes the RGB24 pixels inside `box` back into the I420 frame `dst` (the box is widened to even
 * coordinates so chroma samples are whole; chroma is the mean of each 2×2 block).
 */
export function rgbToI420Region(rgb: Uint8Array, width: number, height: number, dst: Uint8Array, box: Box): void {
  checkI420(dst, width, height);
  const x0 = Math.max(0, Math.floor(box.x) & ~1);
  const y0 = Math.max(0, Math.floor(box.y) & ~1);
  const x1 = Math.min(width, Math.ceil(box.x + box.width));
  const y1 = Math.min(height, Math.ceil(box.y + box.height));
  if (x1 <= x0 || y1 <= y0) return;
  const cw = (width + 1) >> 1;
  const uOff = width * height;
  const vOff = uOff + cw * ((height + 1) >> 1);
  for (let y = y0; y < y1; y++) {
    let i = (y * width + x0) * 3;
    for (let x = x0; x < x1; x++, i += 3) {
      dst[y * width + x] = clamp((16829 * rgb[i]! + 33039 * rgb[i + 1]! + 6416 * rgb[i + 2]! + 32768 + (16 << 16)) >> 16);
    }
  }
  for (let cy = y0 >> 1; cy < (y1 + 1) >> 1; cy++) {
    for (let cx = x0 >> 1; cx < (x1 + 1) >> 1; cx++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let n = 0;
      for (let dy = 0; dy < 2; dy++) {
        const y = 2 * cy + dy;
        if (y >= height) continue;
        for (let dx = 0; dx < 2; dx++) {
          const x = 2 * cx + dx;
          if (x >= width) continue;
          const i = (y * width + x) * 3;
          r += rgb[i]!;
          g += rgb[i + 1]!;
          b += rgb[i + 2]!;
          n++;
        }
      }
      r /= n;
      g /= n;
      b /= n;
      dst[uOff + cy * cw + cx] = clamp(Math.round(-0.148 * r - 0.291 * g + 0.439 * b + 128));
      dst[vOff + cy * cw + cx] = clamp(Math.round(0.439 * r - 0.368 * g - 0.071 * b + 128));
    }
  }
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
  const cw = (width + 1) >> 1;
  const uOff = width * height;
  const vOff = uOff + cw * ((height + 1) >> 1);
  for (let y = y0; y < Math.min(height, y0 + side); y++) dst.fill(81, y * width + x0, y * width + Math.min(width, x0 + side));
  for (let cy = y0 >> 1; cy < Math.min((height + 1) >> 1, (y0 + side) >> 1); cy++) {
    dst.fill(90, uOff + cy * cw + (x0 >> 1), uOff + cy * cw + Math.min(cw, (x0 + side) >> 1));
    dst.fill(240, vOff + cy * cw + (x0 >> 1), vOff + cy * cw + Math.min(cw, (x0 + side) >> 1));
  }
}
