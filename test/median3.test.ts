import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Median3x3, median3x3 } from '../src/restore/median3.ts';
import { median3x3 as bruteMedian } from './helpers/median3Reference.ts';

/** Deterministic noise with some structure (so ties and plateaus occur too). */
function image(w: number, h: number, ch: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length: w * h * ch }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return i % 7 === 0 ? 128 : s >>> 24;
  });
}

describe('median3x3', () => {
  it('equals the sorted-window definition, edges included, for odd sizes and 1 or 3 channels', () => {
    for (const [w, h, ch] of [[1, 1, 1], [1, 5, 3], [6, 1, 1], [2, 2, 3], [7, 5, 3], [33, 17, 1]] as const) {
      const src = image(w, h, ch, w * 31 + h);
      expect(median3x3(src, w, h, ch), `${w}×${h}×${ch}`).toEqual(bruteMedian(src, w, h, ch));
    }
  });

  it('takes the SIMD path from 16 bytes a row on, with the same bytes: row ends that are not a multiple of 16, 1 to 4 channels, one row', () => {
    for (const [w, h, ch] of [[16, 1, 1], [17, 3, 1], [6, 4, 3], [11, 9, 3], [40, 7, 4], [5, 6, 4], [129, 3, 3]] as const) {
      const src = image(w, h, ch, w * 7 + h * 3 + ch);
      expect(median3x3(src, w, h, ch), `${w}×${h}×${ch}`).toEqual(bruteMedian(src, w, h, ch));
    }
  });

  it('gives the definition’s bytes on a 512 crop, reused for several images', () => {
    const m = new Median3x3(512, 512, 3);
    const out = new Uint8Array(512 * 512 * 3);
    for (const seed of [1, 2, 3]) {
      const src = image(512, 512, 3, seed);
      expect(Buffer.from(m.apply(src, out)).equals(Buffer.from(bruteMedian(src, 512, 512, 3))), `seed ${seed}`).toBe(true);
    }
  });

  it('gives libvips’ median (what the classic restorer used before) on a 512 crop', async () => {
    const src = image(512, 512, 3, 7);
    const ref = await sharp(src, { raw: { width: 512, height: 512, channels: 3 } }).median(3).raw().toBuffer();
    expect(Buffer.from(median3x3(src, 512, 512, 3)).equals(ref)).toBe(true);
  });

  it('refuses a wrong size or an in-place output', () => {
    expect(() => median3x3(new Uint8Array(10), 2, 2, 3)).toThrow(/12 bytes/);
    const a = new Uint8Array(12);
    expect(() => median3x3(a, 2, 2, 3, a)).toThrow(/separate output/);
    expect(() => new Median3x3(0, 2, 3)).toThrow(/positive integer/);
  });
});
