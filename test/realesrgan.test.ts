import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OFFICIAL_RRDB, buildRrdbOnnx, inferRrdbArch, rrdbShapes } from '../src/models/realesrgan/index.ts';
import { OrtModel, type TensorData } from '../src/runtime/ort.ts';
import { maxDiff, readF32, readKeyShapes } from './helpers/compare.ts';
import { checkpointRefusal } from './helpers/refusal.ts';

const fx = (name: string): string => fileURLToPath(new URL(`../../shared/fixtures/realesrgan-small/${name}`, import.meta.url));
const f32 = (name: string): Float32Array => readF32(fx(name));
const readKeys = (file: string): Map<string, number[]> => readKeyShapes(fx(file));
const refusal = (shapes: Map<string, number[]>): string => checkpointRefusal(inferRrdbArch, shapes, 'RRDBNet');

describe('RRDBNet architecture inference', () => {
  it('accepts both official full-size key sets (702 tensors) from names and shapes alone', () => {
    for (const [file, scale, params] of [['keys-official-x2plus.txt', 2, 16_703_171], ['keys-official-x4plus.txt', 4, 16_697_987]] as const) {
      const shapes = readKeys(file);
      expect(shapes.size).toBe(702);
      const a = inferRrdbArch(shapes);
      expect({ scale: a.scale, numFeat: a.numFeat, numBlock: a.numBlock, numGrowCh: a.numGrowCh, params: a.params }).toEqual({ scale, numFeat: 64, numBlock: 23, numGrowCh: 32, params });
      // The generated layout is the official one: same names, order and shapes.
      expect([...rrdbShapes({ ...OFFICIAL_RRDB, scale })]).toEqual([...shapes]);
    }
  });

  it('reads the small fixtures as 16 features, 2 blocks, growth 8', () => {
    for (const file of ['keys-x2plus.txt', 'keys-x4plus.txt']) {
      const a = inferRrdbArch(readKeys(file));
      expect([a.numFeat, a.numBlock, a.numGrowCh]).toEqual([16, 2, 8]);
    }
  });

  it('refuses key sets that fit no RRDBNet, naming the first tensor at fault', () => {
    const bad = readKeys('keys-official-x4plus.txt');
    bad.set('body.7.rdb2.conv3.weight', [32, 96, 3, 3]);
    expect(refusal(bad)).toContain('tensor body.7.rdb2.conv3.weight has shape [32, 96, 3, 3], expected [32, 128, 3, 3]');
    const missing = readKeys('keys-official-x2plus.txt');
    missing.delete('conv_up2.bias');
    expect(refusal(missing)).toContain('missing tensor conv_up2.bias');
    const scale3 = readKeys('keys-official-x2plus.txt');
    scale3.set('conv_first.weight', [64, 27, 3, 3]);
    expect(refusal(scale3)).toContain('conv_first.weight has 27 input channels');
    const codeformer = new Map([['position_emb', [256, 512]], ...readKeys('keys-official-x4plus.txt')]);
    expect(refusal(codeformer)).toContain('unexpected tensor position_emb [256, 512] (not part of RRDBNet)');
  });
});

for (const variant of ['x2plus', 'x4plus'] as const) {
  const scale = variant === 'x2plus' ? 2 : 4;
  describe(`parity with PyTorch (realesrgan_${variant}_small.pth)`, () => {
    let model: OrtModel;
    const x = f32('x.bin');
    const feed = (data: Float32Array, n: number): Record<string, TensorData> => ({ x: { type: 'float32', dims: [n, 3, 64, 64], data } });
    beforeAll(async () => {
      const { arch, bytes } = await buildRrdbOnnx(fx(`realesrgan_${variant}_small.pth`));
      expect(arch.scale).toBe(scale);
      model = await OrtModel.create(bytes, { intraOpThreads: 2, name: `rrdbnet-${variant}` });
    });
    afterAll(async () => {
      await model?.close();
    });

    it(`out [1,3,${64 * scale},${64 * scale}] matches out_${variant}.bin to ≤ 1e-4; a batch of 2 equals 2 runs of 1`, async () => {
      const one = await model.run(feed(x, 1));
      expect(one.out!.dims).toEqual([1, 3, 64 * scale, 64 * scale]);
      const d = maxDiff(one.out!.data as Float32Array, f32(`out_${variant}.bin`));
      console.info(`RRDBNet ${variant} parity: max abs diff ${d.toExponential(2)}`);
      expect(d).toBeLessThanOrEqual(1e-4);
      // Second item: the same image flipped, so the batch items differ.
      const flipped = new Float32Array(x.length);
      for (let c = 0; c < 3; c++) for (let y = 0; y < 64; y++) for (let xx = 0; xx < 64; xx++) flipped[(c * 64 + y) * 64 + xx] = x[(c * 64 + y) * 64 + 63 - xx]!;
      const both = new Float32Array(2 * x.length);
      both.set(x);
      both.set(flipped, x.length);
      const two = (await model.run(feed(both, 2))).out!.data as Float32Array;
      const second = (await model.run(feed(flipped, 1))).out!.data as Float32Array;
      const n = 3 * (64 * scale) ** 2;
      expect(maxDiff(two, one.out!.data as Float32Array, 0)).toBeLessThanOrEqual(1e-5);
      expect(maxDiff(two, second, n)).toBeLessThanOrEqual(1e-5);
      expect(maxDiff(two.subarray(0, n), two.subarray(n))).toBeGreaterThan(0.01);
    });
  });
}

describe('facerestore models build on an RRDBNet checkpoint', () => {
  it('writes the upsampler graph (x2: 64×64 in → 128×128 out) and it matches PyTorch', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { runFacerestore } = await import('./helpers/cli.ts');
    const dir = await mkdtemp(path.join(tmpdir(), 'rrdb-cli-'));
    try {
      const out = path.join(dir, 'x2.onnx');
      const r = await runFacerestore(['models', 'build', fx('realesrgan_x2plus_small.pth'), '-o', out]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('(RRDBNet)');
      const m = await OrtModel.create(out, { intraOpThreads: 2 });
      try {
        const y = await m.run({ x: { type: 'float32', dims: [1, 3, 64, 64], data: f32('x.bin') } });
        expect(maxDiff(y.out!.data as Float32Array, f32('out_x2plus.bin'))).toBeLessThanOrEqual(1e-4);
      } finally {
        await m.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
