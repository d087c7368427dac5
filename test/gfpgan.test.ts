import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OFFICIAL_GFPGAN, archFromConfig, buildGfpganGraph, buildRandomGfpgan, gfpganShapes, inferGfpganArch, loadGfpganCheckpoint, type LoadedGfpgan } from '../src/models/gfpgan/index.ts';
import { OrtModel, type TensorData } from '../src/runtime/ort.ts';
import { createRestorer } from '../src/restore/createRestorer.ts';
import { runFacerestore } from './helpers/cli.ts';
import { maxDiff, readF32, readKeyShapes } from './helpers/compare.ts';
import { checkpointRefusal } from './helpers/refusal.ts';
import { shared } from './helpers/paths.ts';

const fx = (name: string): string => fileURLToPath(new URL(`../../shared/fixtures/gfpgan-small/${name}`, import.meta.url));
const f32 = (name: string): Float32Array => readF32(fx(name));
const readKeys = (file: string): Map<string, number[]> => readKeyShapes(fx(file));
const refusal = (shapes: Map<string, number[]>): string => checkpointRefusal(inferGfpganArch, shapes, 'GFPGAN');

describe('GFPGANv1Clean architecture inference', () => {
  it('accepts the official full-size key set (285 tensors, 87,143,276 numbers) from names and shapes alone', () => {
    const shapes = readKeys('keys-official.txt');
    expect(shapes.size).toBe(285);
    const a = inferGfpganArch(shapes);
    expect(a).toMatchObject({ outSize: 512, numStyleFeat: 512, numMlp: 8, sftHalf: true, differentW: true, numLatent: 16, numNoise: 15, params: 87_143_276 });
    expect(a.decCh).toEqual([512, 512, 512, 512, 512, 256, 128, 64]);
    expect(a.unetCh).toEqual([256, 256, 256, 256, 256, 128, 64, 32]);
    // The generated layout is the official one: same names, order and shapes.
    expect([...gfpganShapes(archFromConfig(OFFICIAL_GFPGAN))]).toEqual([...shapes]);
  });

  it('reads the small fixture as style width 32, narrow 0.125 (1,732,848 numbers)', () => {
    const a = inferGfpganArch(readKeys('keys.txt'));
    expect(a).toMatchObject({ numStyleFeat: 32, params: 1_732_848, sftHalf: true, differentW: true });
    expect(a.decCh).toEqual([64, 64, 64, 64, 64, 32, 16, 8]);
    expect([...gfpganShapes(archFromConfig({ ...OFFICIAL_GFPGAN, numStyleFeat: 32, narrow: 0.125 }))]).toEqual([...readKeys('keys.txt')]);
  });

  it('recognises sft_half off and one shared style row from the shapes', () => {
    const a = inferGfpganArch(gfpganShapes(archFromConfig({ ...OFFICIAL_GFPGAN, numStyleFeat: 32, narrow: 0.125, sftHalf: false, differentW: false })));
    expect([a.sftHalf, a.differentW]).toEqual([false, false]);
  });

  it('refuses key sets that fit no GFPGANv1Clean, naming the first tensor at fault', () => {
    const bad = readKeys('keys-official.txt');
    bad.set('stylegan_decoder.style_convs.9.modulated_conv.weight', [1, 256, 512, 3, 3]);
    expect(refusal(bad)).toContain('tensor stylegan_decoder.style_convs.9.modulated_conv.weight has shape [1, 256, 512, 3, 3], expected [1, 256, 256, 3, 3]');
    const missing = readKeys('keys-official.txt');
    missing.delete('stylegan_decoder.noises.noise7');
    expect(refusal(missing)).toContain('missing tensor stylegan_decoder.noises.noise7');
    const linear = readKeys('keys-official.txt');
    linear.set('final_linear.weight', [8192, 2048]);
    expect(refusal(linear)).toContain('tensor final_linear.weight has shape [8192, 2048], expected [8192, 4096]');
    const codeformer = new Map([['position_emb', [256, 512]], ...readKeys('keys-official.txt')]);
    expect(refusal(codeformer)).toContain('unexpected tensor position_emb [256, 512] (not part of GFPGANv1Clean)');
    const rrdb = readKeyShapes(fileURLToPath(new URL('../../shared/fixtures/realesrgan-small/keys-official-x4plus.txt', import.meta.url)));
    expect(refusal(rrdb)).toContain('unexpected tensor conv_first.weight');
    // 256×256 (6 down blocks): a valid GFPGAN, but not for the product's 512 crops.
    expect(refusal(gfpganShapes(archFromConfig({ ...OFFICIAL_GFPGAN, outSize: 256, numStyleFeat: 32, narrow: 0.125 })))).toContain('down blocks make a 256×256 network');
  });
});

const PLANE = 3 * 512 * 512;
/** x with its columns mirrored: a second, different face for batch checks. */
function mirrored(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < 3 * 512; r++) for (let c = 0; c < 512; c++) out[r * 512 + c] = x[r * 512 + 511 - c]!;
  return out;
}
function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const feeds = (x: Float32Array, w: number[]): Record<string, TensorData> => ({
  x: { type: 'float32', dims: [w.length, 3, 512, 512], data: x },
  w: { type: 'float32', dims: [w.length], data: Float32Array.from(w) },
});
const clip1 = (a: Float32Array): Float32Array => a.map((v) => Math.min(1, Math.max(-1, v)));

describe('GFPGAN graph: parity with PyTorch (gfpgan_small.pth)', () => {
  let loaded: LoadedGfpgan;
  let model: OrtModel;
  const x = f32('x.bin');
  beforeAll(async () => {
    loaded = await loadGfpganCheckpoint(fx('gfpgan_small.pth'));
    expect(loaded.stateDictKey).toBe('params_ema');
    model = await OrtModel.create(buildGfpganGraph(loaded.arch, loaded.weights, { extraOutputs: true }), { intraOpThreads: 2, name: 'gfpgan-small' });
  });
  afterAll(async () => {
    await model?.close();
  });

  it('with the checkpoint noise buffers: latent and image match latent.bin / out_fixed_noise.bin to ≤ 1e-4; out at w = 0.5 is clip(image)', async () => {
    const r = await model.run(feeds(x, [0.5]));
    expect(r.image!.dims).toEqual([1, 3, 512, 512]);
    const dl = maxDiff(r.latent!.data as Float32Array, f32('latent.bin'));
    const ref = f32('out_fixed_noise.bin');
    const di = maxDiff(r.image!.data as Float32Array, ref);
    const dout = maxDiff(r.out!.data as Float32Array, clip1(ref));
    console.info(`GFPGAN parity (checkpoint noise): latent ${dl.toExponential(2)}, image ${di.toExponential(2)}, out (clipped, w 0.5) ${dout.toExponential(2)}`);
    expect(dl).toBeLessThanOrEqual(1e-4);
    expect(di).toBeLessThanOrEqual(1e-4);
    expect(dout).toBeLessThanOrEqual(1e-4);
  });

  it('with the noise maps as inputs: the recorded random draw (noise.bin) reproduces out.bin to ≤ 1e-4', async () => {
    const m = await OrtModel.create(buildGfpganGraph(loaded.arch, loaded.weights, { extraOutputs: true, noise: 'inputs' }), { intraOpThreads: 2, name: 'gfpgan-small-noise' });
    try {
      const noise = f32('noise.bin');
      const f = feeds(x, [0.5]);
      let off = 0;
      for (let i = 0; i < loaded.arch.numNoise; i++) {
        const r = 2 ** ((i + 5) >> 1);
        f[`noise${i}`] = { type: 'float32', dims: [1, 1, r, r], data: noise.slice(off, off + r * r) };
        off += r * r;
      }
      expect(off).toBe(noise.length);
      const y = await m.run(f);
      const d = maxDiff(y.image!.data as Float32Array, f32('out.bin'));
      console.info(`GFPGAN parity (recorded noise): image ${d.toExponential(2)}`);
      expect(d).toBeLessThanOrEqual(1e-4);
      // The noise is really used: the two references differ by far more than the tolerance.
      expect(maxDiff(y.image!.data as Float32Array, f32('out_fixed_noise.bin'))).toBeGreaterThan(0.1);
    } finally {
      await m.close();
    }
  });

  it('a batch of 2 equals 2 runs of 1; per-face w within one batch: w ≤ 0.5 the network output, 0.75 half way to the input, 1 the input', async () => {
    const y = mirrored(x);
    const one = (await model.run(feeds(x, [0.5]))).out!.data as Float32Array;
    const oneY = (await model.run(feeds(y, [0.5]))).out!.data as Float32Array;
    const two = (await model.run(feeds(concat(x, y), [0.5, 0.5]))).out!.data as Float32Array;
    expect(maxDiff(two, one, 0)).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(two, oneY, PLANE)).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(two.subarray(0, PLANE), two.subarray(PLANE))).toBeGreaterThan(0.1);

    const ws = [0, 0.25, 0.75, 1];
    const four = (await model.run(feeds(concat(x, x, x, x), ws))).out!.data as Float32Array;
    const at = (k: number): Float32Array => four.subarray(k * PLANE, (k + 1) * PLANE);
    expect(maxDiff(at(0), one)).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(at(1), one)).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(at(2), one.map((v, i) => 0.5 * v + 0.5 * x[i]!))).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(at(3), x)).toBeLessThanOrEqual(1e-6);
    // The faces of that batch really differ: the network output is far from the input.
    expect(maxDiff(at(0), at(3))).toBeGreaterThan(0.5);
  });

  it('the official grouped form (per-sample weights, groups = batch, fixed batch 2) gives the same output', async () => {
    const m = await OrtModel.create(buildGfpganGraph(loaded.arch, loaded.weights, { modulation: 'grouped', groupedBatch: 2 }), { intraOpThreads: 2, name: 'gfpgan-small-grouped' });
    try {
      const y = mirrored(x);
      const a = (await model.run(feeds(concat(x, y), [0.5, 0.5]))).out!.data as Float32Array;
      const b = (await m.run(feeds(concat(x, y), [0.5, 0.5]))).out!.data as Float32Array;
      expect(maxDiff(b, a)).toBeLessThanOrEqual(1e-4);
      expect(maxDiff(b.subarray(0, PLANE), clip1(f32('out_fixed_noise.bin')))).toBeLessThanOrEqual(1e-4);
    } finally {
      await m.close();
    }
  });
});

describe('GFPGAN as a restorer: detected from the checkpoint, per-face w in one batch, restore and models build', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-gfpgan-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('createRestorer on gfpgan_small.pth builds the GFPGAN graph; one batch of 3 crops with w 0.5, 0.75, 1: restored, half way, the input', async () => {
    const infos: string[] = [];
    const restorer = await createRestorer({ kind: 'onnx', model: fx('gfpgan_small.pth'), cacheDir: tmp, batch: 4, intraOpThreads: 2, onInfo: (m) => infos.push(m) });
    try {
      expect(infos.join('\n')).toMatch(/GFPGAN graph: float32 on cpu/);
      expect(restorer!.name).toMatch(/^onnx:gfpgan-[0-9a-f]{16}-v1\.onnx \(cpu, batch 4\)$/);
      const crop = new Uint8Array((await sharp(fx('input.png')).removeAlpha().raw().toBuffer()).buffer.slice(0));
      const [full, half, input] = await restorer!.restore([crop, crop, crop], [0.5, 0.75, 1]);
      const stats = (a: Uint8Array, b: Uint8Array) => {
        let max = 0;
        for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
        return max;
      };
      expect(stats(input!, crop)).toBeLessThanOrEqual(1);
      expect(stats(full!, crop)).toBeGreaterThan(100);
      // w 0.75: the mean of the restored crop and the input, to the rounding of both.
      let worst = 0;
      for (let i = 0; i < crop.length; i++) worst = Math.max(worst, Math.abs(half![i]! - (full![i]! + crop[i]!) / 2));
      expect(worst).toBeLessThanOrEqual(1.5);
      // The restored crop is PyTorch's (checkpoint noise) clipped and rounded.
      const ref = f32('out_fixed_noise.bin');
      let off = 0;
      for (let p = 0; p < 512 * 512; p++) for (let c = 0; c < 3; c++) off = Math.max(off, Math.abs(full![p * 3 + c]! - Math.round(Math.min(255, Math.max(0, (ref[c * 512 * 512 + p]! + 1) * 127.5)))));
      expect(off).toBeLessThanOrEqual(1);
    } finally {
      await restorer?.close();
    }
  });

  it('restore --model gfpgan_small.pth on a group photo (two men, a girl): every face through the network, far pixels untouched', async () => {
    const src = shared('stills/obama_and_biden.jpg');
    const out = path.join(tmp, 'gfpgan.png');
    const r = await runFacerestore(['restore', src, '-o', out, '--model', fx('gfpgan_small.pth'), '--json'], { FACERESTORE_CACHE_DIR: path.join(tmp, 'cache') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/GFPGAN graph: float32/);
    expect(r.stderr).toMatch(/restorer: onnx:gfpgan-/);
    const s = JSON.parse(r.stdout) as { detected: number; restored: number; boxes: Array<{ x: number; y: number; width: number; height: number }> };
    expect(s).toMatchObject({ detected: 3, restored: 3 });
    const a = await sharp(src).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const b = await sharp(out).removeAlpha().raw().toBuffer();
    const W = a.info.width;
    const region = (x: number, y: number, box: (typeof s.boxes)[number], pad: number) => x >= box.x - pad && x < box.x + box.width + pad && y >= box.y - pad && y < box.y + box.height + pad;
    const maxIn = (where: (x: number, y: number) => boolean) => {
      let m = 0, n = 0;
      for (let p = 0; p < a.data.length / 3; p++) {
        if (!where(p % W, Math.floor(p / W))) continue;
        n++;
        for (let c = 0; c < 3; c++) m = Math.max(m, Math.abs(a.data[p * 3 + c]! - b[p * 3 + c]!));
      }
      return { m, n };
    };
    for (const box of s.boxes) expect(maxIn((x, y) => region(x, y, box, -Math.round(box.width / 4))).m).toBeGreaterThan(40);
    const pad = Math.max(...s.boxes.map((f) => Math.max(f.width, f.height)));
    const far = maxIn((x, y) => !s.boxes.some((box) => region(x, y, box, pad)));
    expect(far.m).toBe(0);
    expect(far.n).toBeGreaterThan(a.data.length / 3 / 4);
  });

  it('models build writes the GFPGAN graph (it matches PyTorch); --fp16 and --model-kind are refused for GFPGAN with E_CONFIG', async () => {
    const out = path.join(tmp, 'g.onnx');
    const r = await runFacerestore(['models', 'build', fx('gfpgan_small.pth'), '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(out);
    expect(r.stderr).toContain('(GFPGAN)');
    const m = await OrtModel.create(out, { intraOpThreads: 2 });
    try {
      expect(m.inputs.map((i) => `${i.name}:${i.shape.join(',')}`)).toEqual(['x:N,3,512,512', 'w:N']);
      const y = await m.run(feeds(f32('x.bin'), [0]));
      expect(maxDiff(y.out!.data as Float32Array, clip1(f32('out_fixed_noise.bin')))).toBeLessThanOrEqual(1e-4);
    } finally {
      await m.close();
    }
    const fp16 = await runFacerestore(['models', 'build', fx('gfpgan_small.pth'), '-o', path.join(tmp, 'h.onnx'), '--fp16']);
    expect(fp16.code).toBe(2);
    expect(fp16.stderr).toMatch(/--fp16 is not available for GFPGAN/);
    const kind = await runFacerestore(['models', 'build', fx('gfpgan_small.pth'), '-o', path.join(tmp, 'h.onnx'), '--model-kind', 'inpainting']);
    expect(kind.code).toBe(2);
    expect(kind.stderr).toMatch(/--model-kind inpainting applies to CodeFormer checkpoints/);
  });

  it('seeded random GFPGAN graphs (the bench\'s models): same seed same output, another seed another; models random --arch gfpgan refuses --fp16', async () => {
    const config = { numStyleFeat: 32, narrow: 0.125 };
    const run = async (seed: number): Promise<Float32Array> => {
      const { arch, bytes } = buildRandomGfpgan({ config, seed });
      expect(arch.params).toBe(1_732_848);
      const m = await OrtModel.create(bytes, { intraOpThreads: 2 });
      try {
        return new Float32Array((await m.run(feeds(f32('x.bin'), [0]))).out!.data as Float32Array);
      } finally {
        await m.close();
      }
    };
    const a = await run(1);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(maxDiff(await run(1), a)).toBe(0);
    expect(maxDiff(await run(2), a)).toBeGreaterThan(0.01);
    const r = await runFacerestore(['models', 'random', '--arch', 'gfpgan', '--fp16', '-o', path.join(tmp, 'r.onnx')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--fp16 is not available for GFPGAN graphs/);
  });
});
