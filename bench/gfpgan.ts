/**
 * CPU speed of the official-size GFPGAN graph (GFPGANv1Clean as v1.3 / v1.4: style width 512, channel
 * multiplier 2, 87.1 M numbers) this product builds, with seeded random weights (the cost does not depend
 * on the values), in both forms of the modulated convolution (models/gfpgan/graph.ts):
 * - `activations` (what the product builds): x·s → one shared-weight Conv for the batch → ·demod; dynamic batch;
 * - `grouped` (the official form): per-sample weights computed in the graph, Conv with groups = batch; the
 *   batch is fixed when the graph is built, so one graph per batch size.
 *
 *   node bench/gfpgan.ts [--batches 1,4] [--reps 3] [--threads 2] [--forms activations,grouped]
 *
 * Prints one JSON object: seconds per face for each form and batch (best and median of `reps` timed runs
 * after one warm-up), run interleaved (form A, form B, form A, …) so both see the same machine load; the ORT
 * settings; the load average; the process's CPU seconds per face.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { OFFICIAL_GFPGAN, archFromConfig, buildRandomGfpgan, type GfpganArch } from '../src/models/gfpgan/index.ts';
import { OrtModel } from '../src/runtime/ort.ts';

const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '1,4' },
    reps: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    forms: { type: 'string', default: 'activations,grouped' },
  },
});
const batches = values.batches.split(',').map(Number);
const reps = Number(values.reps);
const threads = Number(values.threads);
const forms = values.forms.split(',') as Array<'activations' | 'grouped'>;
const round = (v: number): number => Math.round(v * 1000) / 1000;

/** Multiply-adds ×2 of every convolution (the modulation's Gemms and the demodulation MatMuls are < 0.1 %). */
function convFlops(a: GfpganArch): number {
  let total = 0;
  const conv = (cin: number, cout: number, k: number, side: number): void => void (total += 2 * cin * cout * k * k * side * side);
  const U = a.unetCh;
  const D = a.decCh;
  const L = a.logSize - 1;
  conv(3, U[L - 1]!, 1, a.outSize);
  for (let i = 0; i < a.logSize - 2; i++) {
    const r = a.outSize >> i;
    conv(U[L - 1 - i]!, U[L - 1 - i]!, 3, r);
    conv(U[L - 1 - i]!, U[L - 2 - i]!, 3, r / 2);
    conv(U[L - 1 - i]!, U[L - 2 - i]!, 1, r / 2);
  }
  conv(U[0]!, U[0]!, 3, 4);
  for (let k = 1; k < L; k++) {
    const r = 4 << k;
    conv(U[k - 1]!, U[k - 1]!, 3, r / 2);
    conv(U[k - 1]!, U[k]!, 3, r);
    conv(U[k - 1]!, U[k]!, 1, r);
    conv(U[k]!, 2 * U[k]!, 3, r); // condition_scale.0 + condition_shift.0
    conv(U[k]!, (a.sftHalf ? 2 : 4) * U[k]!, 3, r); // their .2 convs
  }
  conv(D[0]!, D[0]!, 3, 4);
  conv(D[0]!, 3, 1, 4);
  for (let k = 1; k < L; k++) {
    const r = 4 << k;
    conv(D[k - 1]!, D[k]!, 3, r);
    conv(D[k]!, D[k]!, 3, r);
    conv(D[k]!, 3, 1, r);
  }
  return total;
}

const loadBefore = os.loadavg()[0]!;
const results: Array<Record<string, number | string>> = [];
let params = 0;
let activationBytes = 0;
for (const n of batches) {
  const models = new Map<string, OrtModel>();
  try {
    for (const form of forms) {
      const t = performance.now();
      const built = buildRandomGfpgan({ seed: 1, modulation: form, groupedBatch: n });
      params = built.arch.params;
      if (form === 'activations') activationBytes = built.bytes.length;
      models.set(form, await OrtModel.create(built.bytes, { intraOpThreads: threads, name: `gfpgan-official-random-${form}` }));
      console.error(`built and loaded ${form} (batch ${n}) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    const x = new Float32Array(n * 3 * 512 * 512);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.001) * 0.9;
    const feeds = { x: { type: 'float32' as const, dims: [n, 3, 512, 512], data: x }, w: { type: 'float32' as const, dims: [n], data: new Float32Array(n).fill(0.5) } };
    const times = new Map<string, number[]>(forms.map((f) => [f, []]));
    const cpu = new Map<string, number[]>(forms.map((f) => [f, []]));
    const warm = new Map<string, number>();
    for (const form of forms) {
      const t = performance.now();
      await models.get(form)!.run(feeds);
      warm.set(form, (performance.now() - t) / 1000 / n);
    }
    for (let r = 0; r < reps; r++) {
      for (const form of forms) {
        const c = process.cpuUsage();
        const t = performance.now();
        await models.get(form)!.run(feeds);
        times.get(form)!.push((performance.now() - t) / 1000 / n);
        const used = process.cpuUsage(c);
        cpu.get(form)!.push((used.user + used.system) / 1e6 / n);
      }
    }
    for (const form of forms) {
      const ts = times.get(form)!.sort((a, b) => a - b);
      const cs = cpu.get(form)!.sort((a, b) => a - b);
      results.push({ form, batch: n, secondsPerFaceBest: round(ts[0]!), secondsPerFaceMedian: round(ts[ts.length >> 1]!), warmupSecondsPerFace: round(warm.get(form)!), cpuSecondsPerFaceBest: round(cs[0]!) });
    }
  } finally {
    for (const m of models.values()) await m.close();
  }
}

console.log(
  JSON.stringify(
    {
      model: `GFPGANv1Clean official size (${(params / 1e6).toFixed(1)} M numbers), seeded random weights, float32, checkpoint noise`,
      device: 'cpu',
      cpu: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}`,
      ort: { intraOpThreads: threads, graphOptimizationLevel: 'all', executionProvider: 'cpu' },
      modelBytes: activationBytes,
      results,
      convGflopPerFace: round(convFlops(archFromConfig(OFFICIAL_GFPGAN)) / 1e9),
      loadAverage1m: { before: round(loadBefore), after: round(os.loadavg()[0]!) },
    },
    null,
    2,
  ),
);
