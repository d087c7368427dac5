/**
 * CPU speed of the official-size RRDBNet x2 (RealESRGAN_x2plus widths: 64 features, 23 blocks, growth 32)
 * with seeded random weights (cost does not depend on the values), upscaling whole 640×360 frames to
 * 1280×720 through the product's TiledUpsampler (the --upscale 2 path).
 *
 *   node bench/realesrgan.ts [--frames 1] [--tile 384] [--pad 16] [--batch 1] [--threads 2] [--scale 2]
 *
 * Prints one JSON object: seconds per 1280×720 output frame (each frame timed; a 64×64 warm-up run first),
 * the tile layout, ONNX Runtime threads, the convolution work per frame (including the padded context that
 * tiling recomputes), and the load average, since on a shared machine wall time includes other processes.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { buildRandomRrdb } from '../src/models/realesrgan/index.ts';
import { TiledUpsampler } from '../src/restore/tiledUpsampler.ts';
import { i420Layout } from '../src/util/yuv.ts';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '1' },
    tile: { type: 'string', default: '384' },
    pad: { type: 'string', default: '16' },
    batch: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    scale: { type: 'string', default: '2' },
  },
});
const scale = Number(values.scale) as 2 | 4;
const threads = Number(values.threads);
const inW = 1280 / scale;
const inH = 720 / scale;

const { arch, bytes } = buildRandomRrdb({ scale, seed: 1 });
const up = await TiledUpsampler.create(bytes, { tile: Number(values.tile), pad: Number(values.pad), batch: Number(values.batch), intraOpThreads: threads });
try {
  // A mid-gray frame with a gradient (content does not change the cost).
  const lay = i420Layout(inW, inH);
  const data = new Uint8Array(lay.size).fill(128);
  for (let y = 0; y < inH; y++) for (let x = 0; x < inW; x++) data[y * inW + x] = 16 + ((x + y) % 220);
  const frame = { index: 0, pts: 0, width: inW, height: inH, data };
  await up.upscale({ ...frame, width: 64, height: 64, data: new Uint8Array(i420Layout(64, 64).size).fill(128) });
  const { tiles, winW, winH } = up.tilesFor(inW, inH);
  // Conv multiply-adds ×2 per input window pixel: body at (1/unshuffle)² of the pixels, upsampling convs at ×1/×4 of the input... per window.
  const F = arch.numFeat;
  const G = arch.numGrowCh;
  const u = arch.unshuffle;
  const body = arch.numBlock * 3 * (([0, 1, 2, 3].reduce((a, c) => a + G * (F + c * G), 0)) + F * (F + 4 * G)) + F * F; // per latent pixel, ×9 taps
  const lat = (winW / u) * (winH / u);
  const perWindow = 2 * 9 * (lat * (3 * u * u * F + body) + F * F * lat * 4 + F * F * lat * 16 * 2 + 3 * F * lat * 16);
  const seconds: number[] = [];
  for (let i = 0; i < Number(values.frames); i++) {
    const t0 = performance.now();
    const out = await up.upscale({ ...frame, index: i });
    seconds.push((performance.now() - t0) / 1000);
    if (out.width !== 1280 || out.height !== 720) throw new Error(`unexpected output ${out.width}×${out.height}`);
  }
  console.log(JSON.stringify({
    model: `RRDBNet x${scale} official size (num_feat ${F}, num_block ${arch.numBlock}, num_grow_ch ${G}; ${(arch.params / 1e6).toFixed(2)} M params), seeded random weights`,
    input: `${inW}×${inH}`, output: '1280×720',
    tiles: tiles.length, window: `${winW}×${winH}`, tile: up.tile, pad: up.pad, batch: up.batch,
    ortIntraOpThreads: threads,
    secondsPerFrame: seconds.map((s) => Number(s.toFixed(2))),
    gflopPerFrame: Number(((perWindow * tiles.length) / 1e9).toFixed(0)),
    loadAverage1m: Number(os.loadavg()[0]!.toFixed(2)), cpus: os.cpus().length,
  }, null, 1));
} finally {
  await up.close();
}
