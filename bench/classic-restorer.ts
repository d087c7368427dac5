/**
 * Speed of the classic restorer on real face crops: `before` is the tests' plain oracle
 * (test/helpers/classicReference.ts: the median by its definition, sorting nine values per sample, blur and
 * resize in sharp, all on the calling thread; far slower than any release, so it is a floor, not the previous
 * release, which measured 59.9 faces/s at batch 16), `after` is ClassicRestorer.create (a pool of worker
 * threads, median and blur in WebAssembly SIMD).
 *
 *   node bench/classic-restorer.ts [--batches 1,4,16] [--reps 4] [--threads N] [--stages]
 *
 * Prints one JSON object. For each variant and batch size: faces per second (wall), CPU milliseconds per
 * face (the whole process: main thread, pool workers and libuv's threads, from process.cpuUsage), and the
 * main thread's busy milliseconds per face (event-loop utilisation: what the restorer leaves of the main
 * thread to decoding, encoding and WebRTC). On a shared machine wall time depends on other processes: the
 * load average is printed, and CPU time per face is the figure to compare. `--stages` adds the
 * single-thread CPU time of each step on one crop.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { ClassicRestorer } from '../src/restore/classicRestorer.ts';
import { GaussBlur } from '../src/restore/gaussBlur.ts';
import { Median3x3 } from '../src/restore/median3.ts';
import { classicReference } from '../test/helpers/classicReference.ts';
import { median3x3 as scalarMedian } from '../test/helpers/median3Reference.ts';
import { shared } from '../test/helpers/paths.ts';

const { values } = parseArgs({
  options: {
    batches: { type: 'string', default: '1,4,16' },
    reps: { type: 'string', default: '4' },
    threads: { type: 'string' },
    stages: { type: 'boolean', default: false },
  },
});
const batches = values.batches.split(',').map(Number);
const reps = Number(values.reps);
const threads = values.threads === undefined ? os.availableParallelism() : Number(values.threads);
const N = 512;

const faces = await Promise.all(
  ['stills/obama.jpg', 'stills/obama-240p.jpg', 'stills/two_people.jpg', 'stills/obama_and_biden.jpg'].map(async (f) =>
    new Uint8Array(await sharp(shared(f)).resize(N, N, { fit: 'cover' }).removeAlpha().raw().toBuffer()),
  ),
);

type Restore = (crops: Uint8Array[], weights: number[]) => Promise<Uint8Array[]>;

interface Row {
  batch: number;
  faces: number;
  facesPerSecond: number;
  cpuMsPerFace: number;
  mainThreadBusyMsPerFace: number;
}

async function measure(restore: Restore): Promise<Row[]> {
  const rows: Row[] = [];
  for (const batch of batches) {
    const crops = Array.from({ length: batch }, (_, i) => faces[i % faces.length]!);
    const weights = Array.from({ length: batch }, (_, i) => (i % 3) / 2);
    await restore(crops, weights); // warm-up: JIT, pool slots, libvips caches
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) await restore(crops, weights);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const n = batch * reps;
    rows.push({
      batch,
      faces: n,
      facesPerSecond: round(n / seconds),
      cpuMsPerFace: round((cpu.user + cpu.system) / 1000 / n),
      mainThreadBusyMsPerFace: round(elu.active / n),
    });
  }
  return rows;
}

const round = (v: number): number => Math.round(v * 10) / 10;

/** Single-thread CPU ms of one call, best of `k` after a warm-up. */
async function cpuMs(f: () => unknown, k = 20): Promise<number> {
  await f();
  let best = Infinity;
  for (let i = 0; i < k; i++) {
    const c0 = process.cpuUsage();
    await f();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1000);
  }
  return round(best);
}

const loadBefore = os.loadavg()[0]!;
const before = await measure((crops, weights) => Promise.all(crops.map((c, i) => classicReference(c, weights[i]!))));
const pooled = await ClassicRestorer.create({ threads });
const after = await measure((crops, weights) => pooled.restore(crops, weights));
await pooled.close();
const inline = new ClassicRestorer();
const afterCallingThread = await measure((crops, weights) => inline.restore(crops, weights));

let stages: Record<string, number> | undefined;
if (values.stages) {
  const raw = { raw: { width: N, height: N, channels: 3 as const } };
  const face = faces[0]!;
  const median = new Median3x3(N, N, 3);
  const blur = GaussBlur.create(N, N, 3, 2.5)!;
  const d = median.apply(face);
  stages = {
    medianScalarJs: await cpuMs(() => scalarMedian(face, N, N, 3)),
    medianSimd: await cpuMs(() => median.apply(face)),
    blurSharp: await cpuMs(() => sharp(d, raw).blur(2.5).raw().toBuffer()),
    blurSimd: await cpuMs(() => blur.apply(d)),
    resizeSharp: await cpuMs(() => sharp(d, raw).resize(24, 24, { kernel: 'cubic' }).raw().toBuffer()),
    sharpCallOverhead: await cpuMs(() => sharp(d, raw).raw().toBuffer()),
    wholeCropBefore: await cpuMs(() => classicReference(face, 0.5)),
    wholeCropAfter: await cpuMs(() => inline.restore([face], [0.5])),
  };
}
await inline.close();

console.log(JSON.stringify({
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, availableParallelism: os.availableParallelism(), loadAverage1m: [round(loadBefore), round(os.loadavg()[0]!)] },
  threads,
  reps,
  before,
  after,
  afterCallingThread,
  ...(stages ? { stagesCpuMs: stages } : {}),
}, null, 2));
