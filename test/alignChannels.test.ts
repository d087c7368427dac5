import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlazeFaceDetector, blazeFaceGraph, defaultBlazeFaceModel, frontBlazeFaceModel } from '../src/detect/blazeface.ts';
import { letterboxUnitTensor } from '../src/detect/letterbox.ts';
import { alignConvChannels } from '../src/models/alignChannels.ts';
import { GraphBuilder } from '../src/models/graphBuilder.ts';
import { decodeModel } from '../src/models/onnxProto.ts';
import { OrtModel } from '../src/runtime/ort.ts';
import type { VideoFrame } from '../src/types.ts';
import { decodeFrames, stillFrame } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';

const STILLS = ['obama.jpg', 'obama-240p.jpg', 'two_people.jpg', 'obama_and_biden.jpg'];

// Both blocks MLAS uses (16: AVX-512, 8: AVX2), whichever this machine has: the rewrite must be exact for each.
describe.each([
  ['back-256', defaultBlazeFaceModel, 2, 16],
  ['front-128', frontBlazeFaceModel, 11, 16],
  ['back-256', defaultBlazeFaceModel, 2, 8],
  ['front-128', frontBlazeFaceModel, 11, 8],
] as const)('BlazeFace %s with its channels aligned for NCHWc blocks of %i', (_name, file, concats, block) => {
  let original: OrtModel;
  let aligned: OrtModel;
  let rewritten: ReturnType<typeof alignConvChannels>;
  const frames: VideoFrame[] = [];
  beforeAll(async () => {
    const bytes = new Uint8Array(await readFile(file()));
    rewritten = alignConvChannels(bytes, block);
    original = await OrtModel.create(bytes, { intraOpThreads: 1 });
    aligned = await OrtModel.create(rewritten.bytes, { intraOpThreads: 1 });
    for (const s of STILLS) frames.push(await stillFrame(shared(`stills/${s}`)));
    let i = 0;
    for await (const f of decodeFrames(shared('footage/short_hamilton_clip.mp4'))) {
      if (i++ % 60 === 0) frames.push(f);
      if (i > 240) break;
    }
  }, 60_000);
  afterAll(async () => {
    await original?.close();
    await aligned?.close();
  });

  it('is rewritten: every channel-pad Concat replaced, no ConstantOfShape left, every padded Conv a multiple of the block', () => {
    expect(rewritten.reason).toBeUndefined();
    expect(rewritten.concatsReplaced).toBe(concats);
    // The back model's 24-channel layers are already a multiple of 8.
    if (block === 16) expect(rewritten.paddedTensors).toBeGreaterThan(0);
    const g = decodeModel(rewritten.bytes).graph;
    const ops = g.node.map((n: { opType: string }) => n.opType);
    expect(ops).not.toContain('Concat');
    expect(ops).not.toContain('ConstantOfShape');
    const dims = new Map(g.initializer.map((t: { name: string; dims: number[] }) => [t.name, t.dims]));
    const heads = new Set(g.node.filter((n: { opType: string }) => n.opType === 'Transpose').flatMap((n: { input: string[] }) => n.input));
    for (const n of g.node.filter((n: { opType: string }) => n.opType === 'Conv')) {
      const [co, ci] = dims.get(n.input[1]) as number[];
      // Input channels: 3 for the first Conv (the image), otherwise blocked; output: the heads keep theirs.
      if (ci !== 3 && ci !== 1) expect(ci! % block, n.name).toBe(0);
      if (!heads.has(n.output[0])) expect(co! % block, n.name).toBe(0);
    }
  });

  it('computes the same outputs as the original graph on real stills and footage (each value within 2e-4 × (1 + |value|))', async () => {
    const S = original.inputs[0]!.shape[1] as number;
    let worst = 0;
    let scale = 0;
    for (const f of frames) {
      const { data } = letterboxUnitTensor(f, S, S, true);
      const feed = { [original.inputs[0]!.name]: { type: 'float32' as const, dims: [1, S, S, 3], data } };
      const a = await original.run(feed);
      const b = await aligned.run(feed);
      for (const o of original.outputs) {
        const x = a[o.name]!.data as Float32Array;
        const y = b[o.name]!.data as Float32Array;
        expect(y.length).toBe(x.length);
        for (let i = 0; i < x.length; i++) {
          // Relative to the value: the score logits of empty regions reach −3·10⁴, where one float32 step is 0.002.
          worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / (1 + Math.abs(x[i]!)));
          scale = Math.max(scale, Math.abs(x[i]!));
        }
      }
    }
    expect(scale).toBeGreaterThan(100);
    // Not bit-identical (the blocked kernels sum in another order), as ORT's own kernels differ between thread counts.
    expect(worst).toBeLessThanOrEqual(2e-4);
  });

  it('finds the same faces at the same places as the detector on the original graph', async () => {
    const plain = await BlazeFaceDetector.create({ modelPath: file(), alignChannels: false, intraOpThreads: 1 });
    const fast = await BlazeFaceDetector.create({ modelPath: file(), intraOpThreads: 1 });
    try {
      let faces = 0;
      for (const f of frames) {
        const a = await plain.detect(f);
        const b = await fast.detect(f);
        expect(b).toHaveLength(a.length);
        for (let i = 0; i < a.length; i++) {
          expect(b[i]!.score).toBeCloseTo(a[i]!.score, 4);
          for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(b[i]!.box[k] - a[i]!.box[k])).toBeLessThan(1e-3);
          for (let p = 0; p < 5; p++) for (const c of [0, 1]) expect(Math.abs(b[i]!.points[p]![c]! - a[i]!.points[p]![c]!)).toBeLessThan(1e-3);
        }
        faces += a.length;
      }
      expect(faces).toBeGreaterThan(5);
    } finally {
      await plain.close();
      await fast.close();
    }
  });
});

describe('alignConvChannels on graphs it does not recognise', () => {
  it('returns the graph unchanged, with the reason, when a padded activation meets an op that needs its real channels', () => {
    const b = new GraphBuilder();
    const x = b.op('Transpose', [b.input('x', 'float32', [1, 8, 8, 3])], { perm: [0, 3, 1, 2] });
    const w = b.weight('w', new Float32Array(24 * 3).fill(0.5), [24, 3, 1, 1]);
    const y = b.op('Relu', [b.op('Conv', [x, w], { kernel_shape: [1, 1] })]);
    // An Add with a per-channel constant: the constant has 24 channels, the padded activation 32.
    const z = b.op('Add', [y, b.weight('c', new Float32Array(24).fill(1), [1, 24, 1, 1])]);
    b.output('z', z, [1, 24, 8, 8]);
    const bytes = b.encode({ graphName: 'g' });
    const r = alignConvChannels(bytes);
    expect(r.bytes).toBe(bytes);
    expect(r.reason).toMatch(/Add .*channels differ/);
  });

  it('leaves a file that is not an ONNX model to ONNX Runtime to refuse (E_MODEL_INVALID), and a missing one is E_MODEL_MISSING', async () => {
    const bad = await BlazeFaceDetector.create({ modelPath: shared('stills/obama.jpg') }).catch((e) => e);
    expect(bad.code).toBe('E_MODEL_INVALID');
    const missing = await blazeFaceGraph('/nonexistent/model.onnx').catch((e) => e);
    expect(missing.code).toBe('E_MODEL_MISSING');
  });
});
