import { seededRandom } from '../src/models/seededRandom.ts';
import { describe, expect, it } from 'vitest';
import { alignmentFor } from '../src/compose/align.ts';
import { warpToCrop } from '../src/compose/warp.ts';
import type { Affine, FivePoints, Point, VideoFrame } from '../src/types.ts';
import { i420Layout, type YuvColour } from '../src/util/yuv.ts';
import { referenceWarpToCrop } from './helpers/warpReference.ts';

const rng = seededRandom;

function face(cx: number, cy: number, iod: number, angle: number): FivePoints {
  const c = Math.cos(angle), s = Math.sin(angle);
  const at = (x: number, y: number): Point => [cx + (c * x - s * y) * iod, cy + (s * x + c * y) * iod];
  return [at(-0.5, -0.4), at(0.5, -0.4), at(0, 0.1), at(-0.4, 0.6), at(0.4, 0.6)];
}

describe('warpToCrop equals the straightforward reference byte for byte', () => {
  const r = rng(1203);
  const sizes: Array<[number, number]> = [[640, 480], [1280, 720], [321, 243], [97, 131]];
  const colours: Array<YuvColour | undefined> = [undefined, { matrix: 'bt709', range: 'limited' }, { matrix: 'bt601', range: 'full' }];
  for (let i = 0; i < 36; i++) {
    const [w, h] = sizes[i % 4]!;
    // Faces from 10 px between the eyes (the crop magnifies 12×: tap reuse) to half the frame (it shrinks), any
    // angle, anywhere (partly outside the frame: the edge rows); crops of 512, 256 and the landmark net's 112.
    const iod = i % 3 === 0 ? 10 + r() * 60 : 10 + r() * 0.45 * Math.min(w, h);
    const angle = i % 5 === 0 ? 0 : (r() - 0.5) * 2 * Math.PI;
    const points = face(-0.1 * w + r() * 1.2 * w, -0.1 * h + r() * 1.2 * h, iod, angle);
    const size = [512, 256, 112][i % 3]!;
    const colour = colours[i % 3];
    it(`#${i} ${w}×${h} iod ${iod.toFixed(0)} angle ${angle.toFixed(2)} crop ${size} ${colour ? `${colour.matrix} ${colour.range}` : 'default colour'}`, () => {
      const data = new Uint8Array(i420Layout(w, h).size);
      // Smooth content with noise (a real picture's mix), so neighbouring taps differ and bilinear weights matter.
      for (let k = 0; k < data.length; k++) data[k] = (128 + 100 * Math.sin(k * 0.013) + 27 * (r() - 0.5)) & 255;
      const frame: VideoFrame = colour ? { index: 0, pts: 0, width: w, height: h, data, colour } : { index: 0, pts: 0, width: w, height: h, data };
      const toCrop = alignmentFor(points).map((v) => v * (size / 512)) as unknown as Affine;
      const fast = warpToCrop(frame, toCrop, size);
      const ref = referenceWarpToCrop(frame, toCrop, size);
      expect(fast.length).toBe(size * size * 3);
      let differ = 0;
      for (let k = 0; k < fast.length; k++) if (fast[k] !== ref[k]) differ++;
      expect(differ).toBe(0);
      // The crop has content (else equality would prove little).
      expect(new Set(fast).size).toBeGreaterThan(20);
    });
  }
});
