/**
 * How far PyTorch's float32 output and this product's graph each are from the exact result, on the
 * CodeFormer inpainting fixture: dumps the checkpoint's architecture and weights, runs the float64 numpy
 * reference (bench/codeformer_f64_reference.py; needs python3 with numpy), runs the graph on ONNX Runtime
 * (CPU, 1 thread), and prints max / mean absolute differences, over the whole output and inside the hole.
 *
 *   node bench/codeformer-f64.ts [--fixture ../shared/fixtures/codeformer-inpainting-small]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildCodeFormerGraph, type GraphOptions } from '../src/models/codeformer/graph.ts';
import { loadCodeFormerCheckpoint, recogniseKind } from '../src/models/codeformer/index.ts';
import { OrtModel } from '../src/runtime/ort.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { fixture: { type: 'string', default: path.join(here, '../../shared/fixtures/codeformer-inpainting-small') } } });
const fx = values.fixture;
const read = (file: string): Buffer => readFileSync(path.join(fx, file));
const f32 = (b: Buffer): Float32Array => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

const loaded = await loadCodeFormerCheckpoint(path.join(fx, 'codeformer_inpainting_small.pth'));
if (recogniseKind(loaded.arch) !== 'inpainting') throw new Error('the float64 reference computes the inpainting call (w = 1, no AdaIN) only');
const dump = mkdtempSync(path.join(os.tmpdir(), 'cf-f64-'));
try {
  mkdirSync(path.join(dump, 'w'));
  writeFileSync(path.join(dump, 'arch.json'), JSON.stringify(loaded.arch));
  for (const [name, v] of loaded.weights) writeFileSync(path.join(dump, 'w', `${name}.bin`), Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  const log = execFileSync('python3', [path.join(here, 'codeformer_f64_reference.py'), dump, fx], { encoding: 'utf8' });
  const e = readFileSync(path.join(dump, 'out64.bin'));
  const exact = new Float64Array(e.buffer.slice(e.byteOffset, e.byteOffset + e.byteLength));
  const torch = f32(read('out.bin'));
  const x = f32(read('x.bin'));
  const mask = read('mask.bin');
  const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let max = 0, hole = 0, sum = 0;
    for (let i = 0; i < b.length; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      sum += d;
      max = Math.max(max, d);
      if (mask[i % (512 * 512)]) hole = Math.max(hole, d);
    }
    return { max: Number(max.toExponential(2)), maxInHole: Number(hole.toExponential(2)), mean: Number((sum / b.length).toExponential(2)) };
  };
  const graphs: Record<string, GraphOptions> = { default: {}, 'upsample resize': { upsample: 'resize' }, 'groupNorm instancenorm': { groupNorm: 'instancenorm' } };
  const ours: Record<string, unknown> = {};
  for (const [name, opts] of Object.entries(graphs)) {
    const m = await OrtModel.create(buildCodeFormerGraph(loaded.arch, loaded.weights, { kind: 'inpainting', ...opts }), { intraOpThreads: 1, name });
    try {
      const out = (await m.run({ x: { type: 'float32', dims: [1, 3, 512, 512], data: x } })).out!.data as Float32Array;
      ours[name] = { vsFloat64: diff(out, exact), vsTorch: diff(out, torch) };
    } finally {
      await m.close();
    }
  }
  console.log(JSON.stringify({ fixture: fx, reference: log.trim().split('\n'), torchVsFloat64: diff(torch, exact), graph: ours }, null, 2));
} finally {
  rmSync(dump, { recursive: true, force: true });
}
