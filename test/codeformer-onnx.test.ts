import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPH_VERSION, OFFICIAL_CHECKPOINT, buildCodeFormerOnnx, buildRandomCodeFormer, loadOrBuildCached, verifyCheckpoint } from '../src/models/codeformer/index.ts';
import { decodeModel } from '../src/models/onnxProto.ts';
import { OFFICIAL_CONFIG } from '../src/models/codeformer/random.ts';
import { OrtModel, type TensorData } from '../src/runtime/ort.ts';
import { maxDiff } from './helpers/compare.ts';

const fixture = (name: string): string => fileURLToPath(new URL(`../../shared/fixtures/codeformer-small/${name}`, import.meta.url));
const SMALL = fixture('codeformer_small.pth');
const PLANE = 3 * 512 * 512;

function f32(name: string): Float32Array {
  const b = readFileSync(fixture(name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
function i32(name: string): Int32Array {
  const b = readFileSync(fixture(name));
  return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
function feeds(x: Float32Array, w: number[]): Record<string, TensorData> {
  return {
    x: { type: 'float32', dims: [w.length, 3, 512, 512], data: x },
    w: { type: 'float32', dims: [w.length], data: Float32Array.from(w) },
  };
}
function repeat(x: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * x.length);
  for (let i = 0; i < n; i++) out.set(x, i * x.length);
  return out;
}

const W = [0, 0.5, 1];
const REF = ['out_w0.0.bin', 'out_w0.5.bin', 'out_w1.0.bin'];

describe('parity with the official PyTorch forward (codeformer-small fixture)', () => {
  let model: OrtModel;
  let batched: Record<string, TensorData>;
  const x = f32('x.bin');

  beforeAll(async () => {
    model = await OrtModel.create(await buildCodeFormerOnnx(SMALL, { extraOutputs: true }), { intraOpThreads: 2, name: 'codeformer-small' });
    batched = await model.run(feeds(repeat(x, 3), W));
  });
  afterAll(async () => {
    await model?.close();
  });

  it('one batch of 3 with w = 0, 0.5, 1 matches out_w*.bin to ≤ 1e-4', () => {
    expect(batched.out!.dims).toEqual([3, 3, 512, 512]);
    const out = batched.out!.data as Float32Array;
    for (let i = 0; i < 3; i++) {
      const d = maxDiff(out, f32(REF[i]!), i * PLANE);
      expect(d, `w = ${W[i]}: max abs diff ${d}`).toBeLessThanOrEqual(1e-4);
    }
    // The weights really act per face: the three outputs differ.
    expect(maxDiff(out.subarray(0, PLANE), out.subarray(2 * PLANE))).toBeGreaterThan(0.01);
  });

  it('intermediate outputs: code indices equal top_idx.bin; logits and lq_feat match', () => {
    const top = i32('top_idx.bin');
    const idx = batched.top_idx!.data as BigInt64Array;
    const logits = f32('logits.bin');
    const lq = f32('lq_feat.bin');
    expect(batched.logits!.dims).toEqual([3, 256, 64]);
    expect(batched.lq_feat!.dims).toEqual([3, 256, 16, 16]);
    for (let n = 0; n < 3; n++) {
      expect(Array.from(idx.subarray(n * 256, (n + 1) * 256), Number)).toEqual([...top]);
      expect(maxDiff(batched.logits!.data as Float32Array, logits, n * logits.length)).toBeLessThanOrEqual(1e-4);
      expect(maxDiff(batched.lq_feat!.data as Float32Array, lq, n * lq.length)).toBeLessThanOrEqual(1e-4);
    }
  });

  it('a batch of 3 equals three runs of batch 1', async () => {
    for (let i = 0; i < 3; i++) {
      const single = await model.run(feeds(x, [W[i]!]));
      expect(maxDiff(batched.out!.data as Float32Array, single.out!.data as Float32Array, i * PLANE)).toBe(0);
    }
  });

  it('a batch where every w is 0 skips the fuse blocks and still matches out_w0.0.bin', async () => {
    const r = await model.run(feeds(repeat(x, 2), [0, 0]));
    const ref = f32('out_w0.0.bin');
    for (let i = 0; i < 2; i++) expect(maxDiff(r.out!.data as Float32Array, ref, i * PLANE)).toBeLessThanOrEqual(1e-4);
  });

  it('the literal op forms (Resize + Conv, GroupNormalization-21, separate scale/shift convs, no If) agree too', async () => {
    const literal = await OrtModel.create(
      await buildCodeFormerOnnx(SMALL, { upsample: 'resize', groupNorm: 'groupnorm', mergeFuseBranches: false, skipFuseWhenWZero: false }),
      { intraOpThreads: 2 },
    );
    try {
      const r = await literal.run(feeds(x, [1]));
      expect(maxDiff(r.out!.data as Float32Array, f32('out_w1.0.bin'))).toBeLessThanOrEqual(1e-4);
    } finally {
      await literal.close();
    }
  });
});

describe('graph interface and variants', () => {
  it('declares x float32 [N,3,512,512], w float32 [N] and out float32 [N,3,512,512] at opset 21', async () => {
    const m = decodeModel(await buildCodeFormerOnnx(SMALL));
    expect(m.opsetImport.map((o: any) => [o.domain ?? '', o.version])).toEqual([['', 21]]);
    const io = (v: any): unknown => [v.name, v.type.tensorType.elemType, v.type.tensorType.shape.dim.map((d: any) => d.dimValue ?? d.dimParam)];
    expect(m.graph.input.map(io)).toEqual([['x', 1, ['N', 3, 512, 512]], ['w', 1, ['N']]]);
    expect(m.graph.output.map(io)).toEqual([['out', 1, ['N', 3, 512, 512]]]);
  });

  it('fp16: float16 conv weights, float32 interface, runs on CPU close to the reference', async () => {
    const bytes = await buildCodeFormerOnnx(SMALL, { fp16: true, extraOutputs: true });
    const m = decodeModel(bytes);
    const inits = m.graph.initializer as Array<{ name: string; dataType: number }>;
    expect(inits.find((t) => t.name === 'encoder.blocks.1.conv1.weight')!.dataType).toBe(10);
    expect(inits.find((t) => t.name === 'ft_layers.0.linear1.weight.T')!.dataType).toBe(1); // transformer stays float32
    expect(m.graph.input.map((v: any) => v.type.tensorType.elemType)).toEqual([1, 1]);
    const model = await OrtModel.create(bytes, { intraOpThreads: 2 });
    try {
      const r = await model.run(feeds(f32('x.bin'), [0.5]));
      const d = maxDiff(r.out!.data as Float32Array, f32('out_w0.5.bin'));
      expect(d).toBeLessThan(0.1); // outputs span about ±6; half precision keeps ~3 decimal digits
      const top = i32('top_idx.bin');
      const idx = r.top_idx!.data as BigInt64Array;
      let same = 0;
      for (let i = 0; i < 256; i++) if (Number(idx[i]) === top[i]) same++;
      expect(same).toBeGreaterThanOrEqual(240);
    } finally {
      await model.close();
    }
  });

  it('random small model: dynamic batch, finite output, deterministic per seed', async () => {
    const config = { ...OFFICIAL_CONFIG, nf: 32, chMult: [1, 1, 1, 1, 1, 2], dimEmbd: 64, nLayers: 1, codebookSize: 32 };
    const a = buildRandomCodeFormer({ officialShape: false, config, seed: 3 });
    expect(Buffer.compare(Buffer.from(a), Buffer.from(buildRandomCodeFormer({ officialShape: false, config, seed: 3 })))).toBe(0);
    const model = await OrtModel.create(a, { intraOpThreads: 2 });
    try {
      const x = new Float32Array(2 * PLANE).map((_, i) => Math.sin(i * 0.01));
      const r = await model.run(feeds(x, [0.3, 0.9]));
      expect(r.out!.dims).toEqual([2, 3, 512, 512]);
      expect((r.out!.data as Float32Array).every(Number.isFinite)).toBe(true);
    } finally {
      await model.close();
    }
  });

  it('random official-size model: ~390 MB encodes, and ONNX Runtime loads it', async () => {
    const bytes = buildRandomCodeFormer({ seed: 1 });
    expect(bytes.length).toBeGreaterThan(370e6);
    const model = await OrtModel.create(bytes, { intraOpThreads: 2 });
    try {
      expect(model.inputs.map((i) => [i.name, i.type])).toEqual([['x', 'float32'], ['w', 'float32']]);
      expect(model.outputs.map((o) => o.name)).toEqual(['out']);
    } finally {
      await model.close();
    }
  });
});

describe('checkpoint verification and model cache', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cf-cache-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('verifyCheckpoint: sha256 and size; only the official file is official', async () => {
    const v = await verifyCheckpoint(SMALL);
    expect(v.bytes).toBe(7613540);
    expect(v.sha256).toBe(createHash('sha256').update(readFileSync(SMALL)).digest('hex'));
    expect(v.official).toBe(false);
    expect(OFFICIAL_CHECKPOINT).toEqual({ bytes: 376637898, sha256: '1009e537e0c2a07d4cabce6355f53cb66767cd4b4297ec7a4a64ca4b8a5684b7' });
    await expect(verifyCheckpoint(path.join(dir, 'none.pth'))).rejects.toMatchObject({ code: 'E_MODEL_MISSING' });
  });

  it('loadOrBuildCached builds once per checkpoint sha256 and precision, atomically', async () => {
    const builds: string[] = [];
    const onBuild = ({ target }: { target: string }): void => void builds.push(target);
    const first = await loadOrBuildCached(SMALL, { cacheDir: path.join(dir, 'models'), onBuild });
    const again = await loadOrBuildCached(SMALL, { cacheDir: path.join(dir, 'models'), onBuild });
    expect(again).toBe(first);
    expect(builds).toEqual([first]);
    const { sha256 } = await verifyCheckpoint(SMALL);
    expect(path.basename(first)).toBe(`codeformer-${sha256.slice(0, 16)}-fp32-v${GRAPH_VERSION}.onnx`);
    expect(Buffer.compare(await readFile(first), Buffer.from(await buildCodeFormerOnnx(SMALL)))).toBe(0);
    const half = await loadOrBuildCached(SMALL, { cacheDir: path.join(dir, 'models'), fp16: true, onBuild });
    expect(half).not.toBe(first);
    expect((await readdir(path.join(dir, 'models'))).sort()).toEqual([path.basename(first), path.basename(half)].sort());
  });
});
