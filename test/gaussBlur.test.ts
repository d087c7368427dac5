import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { GaussBlur, gaussMask, requantised } from '../src/restore/gaussBlur.ts';
import { shared } from './helpers/paths.ts';

const N = 512;
let face: Uint8Array;

beforeAll(async () => {
  face = new Uint8Array(await sharp(shared('stills/obama.jpg')).resize(N, N, { fit: 'cover' }).removeAlpha().raw().toBuffer());
});

/** sharp's blur of a raw image: what GaussBlur must reproduce byte for byte. */
const sharpBlur = async (src: Uint8Array, w: number, h: number, ch: 1 | 3 | 4, sigma: number) =>
  new Uint8Array(await sharp(src, { raw: { width: w, height: h, channels: ch } }).blur(sigma).raw().toBuffer());

/** Deterministic noise. */
function noise(length: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24);
}

describe('GaussBlur', () => {
  it('gives sharp’s bytes on a real 512 crop for the sigmas it accepts (0.8 to 3)', async () => {
    for (const sigma of [0.8, 1, 1.5, 2, 2.5, 3]) {
      const g = GaussBlur.create(N, N, 3, sigma);
      expect(g, `sigma ${sigma}`).toBeDefined();
      const out = g!.apply(face);
      expect(Buffer.from(out).equals(Buffer.from(await sharpBlur(face, N, N, 3, sigma))), `sigma ${sigma}`).toBe(true);
      expect(out).not.toEqual(face);
    }
  });

  it('gives sharp’s bytes on noise, white (the largest sums) and odd sizes', async () => {
    // RGB only: for one band sharp returns sRGB, for four it premultiplies alpha around the blur.
    for (const [w, h, ch] of [[6, 5, 3], [7, 9, 3], [16, 2, 3], [100, 40, 3]] as const) {
      const g = GaussBlur.create(w, h, ch, 2.5)!;
      for (const src of [noise(w * h * ch, w + h), new Uint8Array(w * h * ch).fill(255)]) {
        expect(Buffer.from(g.apply(src)).equals(Buffer.from(await sharpBlur(src, w, h, ch, 2.5))), `${w}×${h}×${ch}`).toBe(true);
      }
    }
  });

  it('declines what it would not reproduce: wide masks whose sums overflow 16 bits, rows under 16 bytes', () => {
    expect(GaussBlur.create(N, N, 3, 4)).toBeUndefined();
    expect(GaussBlur.create(5, 5, 3, 2.5)).toBeUndefined();
    expect(() => GaussBlur.create(0, 5, 3, 2.5)).toThrow(/positive integer/);
    expect(() => GaussBlur.create(N, N, 3, 2.5)!.apply(new Uint8Array(10))).toThrow(/786432 bytes/);
  });

  it('builds libvips’ masks: integer taps, then 8-bit mantissas over 2^exp', () => {
    expect(gaussMask(2.5, 0.2)).toEqual({ taps: [6, 10, 15, 18, 20, 18, 15, 10, 6], scale: 118 });
    expect(requantised(gaussMask(2.5, 0.2))).toEqual({ mant: [13, 22, 33, 39, 43, 39, 33, 22, 13], exp: 8 });
  });
});
