/**
 * CPU speed of the official-size CodeFormer graph this product builds, with seeded random weights (the
 * network's cost does not depend on the weights' values).
 *
 *   node bench/codeformer.ts [--batches 1,4] [--reps 3] [--threads 2] [--fp16]
 *
 * Prints one JSON object: seconds per face at each batch size (best and median of `reps` timed runs after
 * one warm-up run), the ONNX Runtime settings, and the graph's convolution work, which bounds the speed.
 * On a shared machine wall time includes other processes' use of the cores: the load average and the
 * process's CPU seconds per face (all threads, spin-waiting included) are printed to judge that.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { inferArch, type Block, type CodeFormerArch } from '../src/models/codeformer/arch.ts';
import { buildRandomCodeFormer, officialShapes } from '../src/models/codeformer/random.ts';
import { OrtModel } from '../src/runtime/ort.ts';

const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '1,4' },
    reps: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    fp16: { type: 'boolean', default: false },
  },
});
const batches = values.batches.split(',').map(Number);
const reps = Number(values.reps);
const threads = Number(values.threads);

/** Multiply-adds ×2 of every convolution in the built graph (sub-pixel upsampling: 4 taps per output). */
function convFlops(arch: CodeFormerArch): number {
  let total = 0;
  const conv = (cin: number, cout: number, taps: number, side: number): void => void (total += 2 * cin * cout * taps * side * side);
  const walk = (blocks: Block[], res: number[]): void => {
    blocks.forEach((b, i) => {
      const r = res[i]!;
      if (b.kind === 'conv') conv(b.inCh, b.outCh, 9, r);
      if (b.kind === 'down') conv(b.ch, b.ch, 9, r);
      if (b.kind === 'up') conv(b.ch, b.ch, 4, r);
      if (b.kind === 'attn') conv(b.ch, 4 * b.ch, 1, r);
      if (b.kind === 'res') {
        conv(b.inCh, b.outCh, 9, r);
        conv(b.outCh, b.outCh, 9, r);
        if (b.inCh !== b.outCh) conv(b.inCh, b.outCh, 1, r);
      }
    });
  };
  walk(arch.encoder, arch.encoderRes);
  walk(arch.generator, arch.generatorRes);
  for (const f of arch.fuse) {
    const r = f.size;
    conv(2 * f.ch, f.ch, 9, r); // encode_enc conv1 (over the two halves)
    conv(f.ch, f.ch, 9, r); // encode_enc conv2
    conv(2 * f.ch, f.ch, 1, r); // encode_enc conv_out
    conv(f.ch, f.ch, 9 * 4, r); // scale.0, scale.2, shift.0, shift.2
  }
  return total;
}

const arch = inferArch(officialShapes());
const loadBefore = os.loadavg()[0]!;
let t = performance.now();
const bytes = buildRandomCodeFormer({ seed: 1, fp16: values.fp16 });
const buildSeconds = (performance.now() - t) / 1000;
t = performance.now();
const model = await OrtModel.create(bytes, { intraOpThreads: threads, name: 'codeformer-official-random' });
const loadSeconds = (performance.now() - t) / 1000;

const results: Array<Record<string, number>> = [];
try {
  for (const n of batches) {
    const x = new Float32Array(n * 3 * 512 * 512);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.001) * 0.9;
    const feeds = {
      x: { type: 'float32' as const, dims: [n, 3, 512, 512], data: x },
      w: { type: 'float32' as const, dims: [n], data: new Float32Array(n).fill(0.5) },
    };
    t = performance.now();
    await model.run(feeds);
    const warmup = (performance.now() - t) / 1000;
    const times: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < reps; r++) {
      const c = process.cpuUsage();
      t = performance.now();
      await model.run(feeds);
      times.push((performance.now() - t) / 1000 / n);
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / 1e6 / n);
    }
    cpu.sort((a, b) => a - b);
    times.sort((a, b) => a - b);
    results.push({
      batch: n,
      secondsPerFaceBest: round(times[0]!),
      secondsPerFaceMedian: round(times[times.length >> 1]!),
      warmupSecondsPerFace: round(warmup / n),
      cpuSecondsPerFaceBest: round(cpu[0]!),
    });
  }
} finally {
  await model.close();
}

const flops = convFlops(arch);
const best = Math.min(...results.map((r) => r.secondsPerFaceBest!));
console.log(
  JSON.stringify(
    {
      model: `CodeFormer official size (${(arch.params / 1e6).toFixed(1)} M parameters), seeded random weights, ${values.fp16 ? 'float16' : 'float32'}`,
      device: 'cpu',
      cpu: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}`,
      ort: { intraOpThreads: threads, graphOptimizationLevel: 'all', executionProvider: 'cpu' },
      modelBytes: bytes.length,
      buildSeconds: round(buildSeconds),
      loadSeconds: round(loadSeconds),
      results,
      convGflopPerFace: round(flops / 1e9),
      convGflopPerSecondAtBest: round(flops / 1e9 / best),
      loadAverage1m: { before: round(loadBefore), after: round(os.loadavg()[0]!) },
    },
    null,
    2,
  ),
);

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
