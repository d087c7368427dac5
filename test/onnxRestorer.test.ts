import { describe, expect, it } from 'vitest';
import { isFaceRestoreError } from '../src/errors.ts';
import { OnnxRestorer } from '../src/restore/onnxRestorer.ts';
import { CROP_BYTES } from '../src/restore/restorer.ts';
import { GraphBuilder } from '../src/models/graphBuilder.ts';
import { tinyRestorerExpected, tinyRestorerModel } from './helpers/tinyModels.ts';

function randomCrop(seed: number): Uint8Array {
  const c = new Uint8Array(CROP_BYTES);
  let s = seed >>> 0;
  for (let i = 0; i < c.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    c[i] = s >>> 24;
  }
  return c;
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('OnnxRestorer on generated models', () => {
  const crops = [randomCrop(1), randomCrop(2), randomCrop(3)];
  const weights = [0, 0.5, 1];

  it('dynamic batch with per-face w: one batch of N equals the closed form and N runs of 1', async () => {
    const r = await OnnxRestorer.create(tinyRestorerModel(), { batch: 8 });
    try {
      expect(r.maxBatch).toBe(8);
      expect(r.binding.perFaceWeight).toBe(true);
      const batched = await r.restore(crops, weights);
      const single = [];
      for (let i = 0; i < crops.length; i++) single.push(...(await r.restore([crops[i]!], [weights[i]!])));
      for (let i = 0; i < crops.length; i++) {
        expect(maxDiff(batched[i]!, tinyRestorerExpected(crops[i]!, weights[i]!))).toBeLessThanOrEqual(1);
        expect(Buffer.compare(Buffer.from(batched[i]!), Buffer.from(single[i]!))).toBe(0);
      }
      // The weights really differ per face: w = 0 keeps the crop, w = 1 halves its signal.
      expect(maxDiff(batched[0]!, crops[0]!)).toBeLessThanOrEqual(1);
      expect(maxDiff(batched[2]!, crops[2]!)).toBeGreaterThan(50);
    } finally {
      await r.close();
    }
  });

  it('fixed batch 1 with input/weight names and float64 weight runs face by face', async () => {
    const r = await OnnxRestorer.create(tinyRestorerModel({ imageName: 'input', weightName: 'weight', weightType: 'float64', weightShape: 'one', batch: 1 }), { batch: 8 });
    try {
      expect(r.maxBatch).toBe(1);
      const out = await r.restore(crops, weights);
      out.forEach((o, i) => expect(maxDiff(o, tinyRestorerExpected(crops[i]!, weights[i]!))).toBeLessThanOrEqual(1));
    } finally {
      await r.close();
    }
  });

  it('a scalar weight with dynamic batch groups faces by weight', async () => {
    const r = await OnnxRestorer.create(tinyRestorerModel({ weightShape: 'scalar' }), { batch: 4 });
    try {
      expect(r.binding.perFaceWeight).toBe(false);
      const ws = [0.2, 0.9, 0.2];
      const out = await r.restore(crops, ws);
      out.forEach((o, i) => expect(maxDiff(o, tinyRestorerExpected(crops[i]!, ws[i]!))).toBeLessThanOrEqual(1));
    } finally {
      await r.close();
    }
  });

  it('a model without a weight input (GFPGAN-like) ignores w and says so in its name', async () => {
    const r = await OnnxRestorer.create(tinyRestorerModel({ weightName: null, imageName: 'input' }));
    try {
      expect(r.name).toMatch(/w ignored/);
      const out = await r.restore([crops[0]!], [0.3]);
      expect(maxDiff(out[0]!, tinyRestorerExpected(crops[0]!, null))).toBeLessThanOrEqual(1);
    } finally {
      await r.close();
    }
  });

  it('refuses a model whose inputs do not fit, naming the model and its shapes', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['N', 3, 256, 256]);
    g.output('out', g.op('Identity', [x]), ['N', 3, 256, 256]);
    const err = await OnnxRestorer.create(g.encode({ graphName: 'wrong' })).catch((e) => e);
    expect(isFaceRestoreError(err, 'E_MODEL_CONTRACT')).toBe(true);
    expect(err.message).toMatch(/x: float32\[N,3,256,256\]/);
    expect(err.message).toMatch(/in-memory model/);
  });

  it('refuses missing and corrupt model files with distinct codes', async () => {
    expect((await OnnxRestorer.create('/nonexistent/model.onnx').catch((e) => e)).code).toBe('E_MODEL_MISSING');
    expect((await OnnxRestorer.create(new Uint8Array([1, 2, 3, 4, 5])).catch((e) => e)).code).toBe('E_MODEL_INVALID');
  });

  it('misuse of restore() is a TypeError', async () => {
    const r = await OnnxRestorer.create(tinyRestorerModel());
    try {
      await expect(r.restore([crops[0]!], [])).rejects.toThrow(TypeError);
      await expect(r.restore([new Uint8Array(10)], [0.5])).rejects.toThrow(/Expected 786432 bytes/);
      await expect(r.restore([crops[0]!], [2])).rejects.toThrow(/\[0, 1\]/);
    } finally {
      await r.close();
      await r.close();
    }
  });
});

describe('OnnxRestorer under concurrent calls', () => {
  it('overlapping restore() calls each get their own results (shared output buffers are not overwritten)', async () => {
    const r = await OnnxRestorer.create(tinyRestorerModel(), { batch: 2 });
    try {
      const crops = [randomCrop(11), randomCrop(12), randomCrop(13), randomCrop(14)];
      const ws = [[0, 1], [1, 0], [0.5, 0.25], [0.75, 0]];
      const results = await Promise.all(ws.map((w, i) => r.restore([crops[i]!, crops[(i + 1) % 4]!], w)));
      results.forEach((res, i) => {
        expect(maxDiff(res[0]!, tinyRestorerExpected(crops[i]!, ws[i]![0]!))).toBeLessThanOrEqual(1);
        expect(maxDiff(res[1]!, tinyRestorerExpected(crops[(i + 1) % 4]!, ws[i]![1]!))).toBeLessThanOrEqual(1);
      });
    } finally {
      await r.close();
    }
  });
});
