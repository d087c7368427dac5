import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferArch } from '../src/models/codeformer/arch.ts';
import { buildCodeFormerOnnx, parseKind, recogniseKind } from '../src/models/codeformer/index.ts';
import { isFaceRestoreError } from '../src/errors.ts';
import { OrtModel, type TensorData } from '../src/runtime/ort.ts';
import { maxDiff, readKeyShapes } from './helpers/compare.ts';

const dir = (fx: string, name: string): string => fileURLToPath(new URL(`../../shared/fixtures/${fx}/${name}`, import.meta.url));
const PLANE = 3 * 512 * 512;
const INP = 'codeformer-inpainting-small';
const COL = 'codeformer-colorization-small';

function bytes(fx: string, name: string): Buffer {
  return readFileSync(dir(fx, name));
}
function f32(fx: string, name: string): Float32Array {
  const b = bytes(fx, name);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
function i32(fx: string, name: string): Int32Array {
  const b = bytes(fx, name);
  return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
const readKeys = (fx: string, file: string): Map<string, number[]> => readKeyShapes(dir(fx, file));
function repeat(x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * x.length);
  for (let i = 0; i < n; i++) out.set(x, i * x.length);
  return out;
}
const feedX = (x: Float32Array, n: number): Record<string, TensorData> => ({ x: { type: 'float32', dims: [n, 3, 512, 512], data: x } });

describe('kind recognition from names and shapes', () => {
  it('full-size key sets: codeformer.pth is restoration, the inpainting and colorization sets are theirs', () => {
    expect(recogniseKind(inferArch(readKeys('codeformer-small', 'keys-official.txt')))).toBe('restoration');
    const inp = inferArch(readKeys(INP, 'keys-official.txt'));
    expect([inp.codebookSize, inp.fuse.map((f) => f.size), inp.params]).toEqual([512, [32, 64, 128], 92_652_867]);
    expect(recogniseKind(inp)).toBe('inpainting');
    const col = inferArch(readKeys(COL, 'keys-official.txt'));
    expect([col.codebookSize, col.fuse.map((f) => f.size), col.params]).toEqual([1024, [32, 64, 128], 93_046_083]);
    expect(recogniseKind(col)).toBe('colorization');
  });

  it('a full-size set that fits no CodeFormer is refused, naming the first tensor at fault', () => {
    const shapes = readKeys(INP, 'keys-official.txt');
    shapes.set('fuse_convs_dict.64.scale.0.weight', [256, 256, 1, 1]);
    expect(() => inferArch(shapes)).toThrow(/fuse_convs_dict\.64\.scale\.0\.weight has shape \[256, 256, 1, 1\], expected \[256, 256, 3, 3\]/);
  });

  it('--model-kind values: auto or a kind; anything else is E_CONFIG', () => {
    expect(parseKind('auto')).toBeUndefined();
    expect(parseKind('inpainting')).toBe('inpainting');
    try {
      parseKind('gfpgan');
      expect.unreachable();
    } catch (e) {
      expect(isFaceRestoreError(e, 'E_CONFIG')).toBe(true);
    }
  });
});

describe('inpainting fixture: net(x, w=1, adain=False)', () => {
  let model: OrtModel;
  let one: Record<string, TensorData>;
  let two: Record<string, TensorData>;
  const x = f32(INP, 'x.bin');
  beforeAll(async () => {
    model = await OrtModel.create(await buildCodeFormerOnnx(dir(INP, 'codeformer_inpainting_small.pth'), { extraOutputs: true }), { intraOpThreads: 2, name: 'inpainting-small' });
    one = await model.run(feedX(x, 1));
    two = await model.run(feedX(repeat(x, 2), 2));
  });
  afterAll(async () => {
    await model?.close();
  });

  it('recognised without an override: x is the only input (w is fixed)', () => {
    expect(model.inputs.map((i) => i.name)).toEqual(['x']);
  });

  it('codes equal top_idx.bin; the script composite, logits and lq_feat match PyTorch to ≤ 1e-4 (raw out ≤ 1.5e-4)', () => {
    const top = i32(INP, 'top_idx.bin');
    expect(Array.from(one.top_idx!.data as BigInt64Array, Number)).toEqual(Array.from(top));
    const out = one.out!.data as Float32Array;
    const dOut = maxDiff(out, f32(INP, 'out.bin'));
    const dLogits = maxDiff(one.logits!.data as Float32Array, f32(INP, 'logits.bin'));
    const dLq = maxDiff(one.lq_feat!.data as Float32Array, f32(INP, 'lq_feat.bin'));
    const mask = bytes(INP, 'mask.bin');
    const composite = new Float32Array(PLANE);
    for (let c = 0; c < 3; c++) for (let i = 0; i < 512 * 512; i++) composite[c * 512 * 512 + i] = mask[i] ? out[c * 512 * 512 + i]! : x[c * 512 * 512 + i]!;
    const dComp = maxDiff(composite, f32(INP, 'composite.bin'));
    console.info(`inpainting parity: out ${dOut.toExponential(2)}, composite ${dComp.toExponential(2)}, logits ${dLogits.toExponential(2)}, lq_feat ${dLq.toExponential(2)}`);
    // The script's result is the composite (≤ 1e-4, measured 3.6e-5). The raw output outside the hole, which
    // the script discards, reaches |7.5| and differs by up to 1.2e-4 (1.6e-5 of its range): bound 1.5e-4.
    // Against a float64 reference (bench/codeformer-f64.ts) this graph is 3.7e-5 off and PyTorch's float32
    // output itself 1.0e-4: the excess over 1e-4 is PyTorch's rounding, not the graph's.
    for (const d of [dComp, dLogits, dLq]) expect(d).toBeLessThanOrEqual(1e-4);
    expect(dOut).toBeLessThanOrEqual(1.5e-4);
  });

  it('a batch of 2 equals 2 runs of 1', () => {
    const a = one.out!.data as Float32Array;
    const b = two.out!.data as Float32Array;
    expect(maxDiff(b, a, 0)).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(b, a, PLANE)).toBeLessThanOrEqual(1e-5);
  });

  it('forced to the restoration kind (AdaIN on) it no longer matches: the kind is what fixes the 7.5 error', async () => {
    const wrong = await OrtModel.create(await buildCodeFormerOnnx(dir(INP, 'codeformer_inpainting_small.pth'), { kind: 'restoration' }), { intraOpThreads: 2, name: 'inpainting-as-restoration' });
    try {
      const r = await wrong.run({ ...feedX(x, 1), w: { type: 'float32', dims: [1], data: Float32Array.of(1) } });
      expect(maxDiff(r.out!.data as Float32Array, f32(INP, 'out.bin'))).toBeGreaterThan(0.5);
    } finally {
      await wrong.close();
    }
  });
});

describe('colorization fixture: net(x, w=0, adain=True)', () => {
  let model: OrtModel;
  let one: Record<string, TensorData>;
  let two: Record<string, TensorData>;
  const x = f32(COL, 'x.bin');
  beforeAll(async () => {
    model = await OrtModel.create(await buildCodeFormerOnnx(dir(COL, 'codeformer_colorization_small.pth'), { extraOutputs: true }), { intraOpThreads: 2, name: 'colorization-small' });
    one = await model.run(feedX(x, 1));
    two = await model.run(feedX(repeat(x, 2), 2));
  });
  afterAll(async () => {
    await model?.close();
  });

  it('recognised without an override; codes, out and logits match PyTorch to ≤ 1e-4; batch of 2 = 2 runs of 1', () => {
    expect(model.inputs.map((i) => i.name)).toEqual(['x']);
    expect(Array.from(one.top_idx!.data as BigInt64Array, Number)).toEqual(Array.from(i32(COL, 'top_idx.bin')));
    const dOut = maxDiff(one.out!.data as Float32Array, f32(COL, 'out.bin'));
    const dLogits = maxDiff(one.logits!.data as Float32Array, f32(COL, 'logits.bin'));
    console.info(`colorization parity: out ${dOut.toExponential(2)}, logits ${dLogits.toExponential(2)}`);
    expect(dOut).toBeLessThanOrEqual(1e-4);
    expect(dLogits).toBeLessThanOrEqual(1e-4);
    const a = one.out!.data as Float32Array;
    const b = two.out!.data as Float32Array;
    expect(maxDiff(b, a, 0)).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(b, a, PLANE)).toBeLessThanOrEqual(1e-5);
  });
});
