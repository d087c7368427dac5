import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRrdbOnnx } from '../src/models/realesrgan/index.ts';
import { TiledUpsampler } from '../src/restore/tiledUpsampler.ts';
import type { VideoFrame } from '../src/types.ts';
import { i420Layout } from '../src/util/yuv.ts';
import { decodeFrames } from './helpers/media.ts';

const X2 = fileURLToPath(new URL('../../shared/fixtures/realesrgan-small/realesrgan_x2plus_small.pth', import.meta.url));
const CLIP = fileURLToPath(new URL('../../shared/footage/short_hamilton_clip.mp4', import.meta.url));

/** An even-aligned w × h I420 crop of a frame. */
function crop(f: VideoFrame, x0: number, y0: number, w: number, h: number): VideoFrame {
  const src = i420Layout(f.width, f.height);
  const dst = i420Layout(w, h);
  const data = new Uint8Array(dst.size);
  for (let y = 0; y < h; y++) data.set(f.data.subarray((y0 + y) * f.width + x0, (y0 + y) * f.width + x0 + w), y * w);
  for (let y = 0; y < dst.ch; y++) {
    for (const [so, d] of [[src.uOff, dst.uOff], [src.vOff, dst.vOff]] as const) {
      const from = so + ((y0 >> 1) + y) * src.cw + (x0 >> 1);
      data.set(f.data.subarray(from, from + dst.cw), d + y * dst.cw);
    }
  }
  return { ...f, width: w, height: h, data };
}
function diffStats(a: Uint8Array, b: Uint8Array, n: number): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / n };
}

describe('tiled whole-frame upscaling with RRDBNet x2 (fixture weights, real frame)', () => {
  let bytes: Uint8Array;
  let frame: VideoFrame;
  let whole: VideoFrame;
  const open: TiledUpsampler[] = [];
  const make = async (tile: number, pad: number, batch: number): Promise<TiledUpsampler> => {
    const u = await TiledUpsampler.create(bytes, { tile, pad, batch, intraOpThreads: 2 });
    open.push(u);
    return u;
  };
  beforeAll(async () => {
    bytes = (await buildRrdbOnnx(X2)).bytes;
    for await (const f of decodeFrames(CLIP)) {
      frame = crop(f, 200, 60, 150, 110); // odd chroma-free edge cases: 150 = 3·48 + 6, 110 = 2·48 + 14
      break;
    }
    whole = await (await make(256, 16, 1)).upscale(frame);
  });
  afterAll(async () => {
    for (const u of open) await u.close();
  });

  it('writes an I420 frame at twice the size, with index, pts and colour kept', () => {
    expect([whole.width, whole.height, whole.data.length]).toEqual([300, 220, i420Layout(300, 220).size]);
    expect([whole.index, whole.pts]).toEqual([frame.index, frame.pts]);
  });

  it('48-pixel tiles with 16 pixels of context match one whole-frame window (no seams); without context the seams show', async () => {
    const lumaN = 300 * 220;
    const tiled = await (await make(48, 16, 4)).upscale(frame);
    const t = diffStats(tiled.data, whole.data, lumaN);
    const bare = await (await make(48, 0, 4)).upscale(frame);
    const b = diffStats(bare.data, whole.data, lumaN);
    console.info(`tiled vs whole, luma: pad 16 max ${t.max} mean ${t.mean.toFixed(4)}; pad 0 max ${b.max} mean ${b.mean.toFixed(4)}`);
    expect(t.max).toBeLessThanOrEqual(2);
    expect(t.mean).toBeLessThan(0.05);
    expect(b.max).toBeGreaterThan(2 * Math.max(1, t.max));
    expect(tiled.data.length).toBe(whole.data.length);
  });

  it('tiles batch like faces: batch 4 gives the same bytes as batch 1', async () => {
    const a = await (await make(48, 16, 1)).upscale(frame);
    const b = await (await make(48, 16, 4)).upscale(frame);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
  });
});
