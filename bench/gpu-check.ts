/**
 * The measuring half of scripts/gpu-check.sh: for each GPU provider that loads here, parity of the CodeFormer
 * fixture graph against PyTorch's outputs (fp32 and fp16) and faces/s of a CodeFormer graph per batch size and
 * precision. Writes one JSON object to --out and prints it.
 *
 *   node bench/gpu-check.ts [--providers cuda,webgpu] [--batches 1,8,32] [--precisions fp32,fp16]
 *     [--model official|small] [--fixture DIR] [--parity] [--warp 1920x1080x8] [--budget-s 420] [--reps 3] [--warmup 1]
 *     [--out gpu-check.json]
 *
 * `--model official` is the official-size network with seeded random weights (`facerestore models random`;
 * speed does not depend on the weights' values); `small` is the fixture's reduced network (for dry runs on a
 * software Vulkan adapter, where it still takes minutes a face: its GroupNorms need 32 channels, so no smaller
 * CodeFormer exists). `--warp WxHxN` also times the warp pre-graph (compose/graphWarp.ts: an I420 frame and N faces in, the
 * restorer's input out) per provider against the CPU warp (`none` to skip). Every measurement is one warm-up run (shader compilation, allocation)
 * and then up to `reps` timed runs; once `budget-s` has passed, the remaining measurements are recorded as
 * skipped, so the script ends in bounded time.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { buildCodeFormerOnnx } from '../src/models/codeformer/index.ts';
import { buildRandomCodeFormer } from '../src/models/codeformer/random.ts';
import { GraphWarper } from '../src/compose/graphWarp.ts';
import { warpToCrop } from '../src/compose/warp.ts';
import type { Affine } from '../src/types.ts';
import { probeProvider, type ProbeResult } from '../src/runtime/devices.ts';
import { OrtModel, bundledBackends, type TensorData } from '../src/runtime/ort.ts';
import type { Provider } from '../src/types.ts';

const { values } = parseArgs({
  options: {
    providers: { type: 'string', default: 'cuda,webgpu' },
    batches: { type: 'string', default: '1,8,32' },
    precisions: { type: 'string', default: 'fp32,fp16' },
    model: { type: 'string', default: 'official' },
    fixture: { type: 'string', default: new URL('../../shared/fixtures/codeformer-small', import.meta.url).pathname },
    parity: { type: 'boolean', default: true },
    'no-parity': { type: 'boolean', default: false },
    'budget-s': { type: 'string', default: '420' },
    reps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    out: { type: 'string', default: 'gpu-check.json' },
    warp: { type: 'string', default: '1920x1080x8' },
  },
});
const providers = values.providers.split(',').filter(Boolean) as Provider[];
const batches = values.batches.split(',').map(Number);
const precisions = values.precisions.split(',').filter(Boolean) as Array<'fp32' | 'fp16'>;
const reps = Number(values.reps);
const warmup = Number(values.warmup);
const deadline = Date.now() + Number(values['budget-s']) * 1000;
const fixture = (f: string) => `${values.fixture}/${f}`;
const haveFixture = existsSync(fixture('codeformer_small.pth'));

function f32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
function feeds(x: Float32Array, w: number[]): Record<string, TensorData> {
  return { x: { type: 'float32', dims: [w.length, 3, 512, 512], data: x }, w: { type: 'float32', dims: [w.length], data: Float32Array.from(w) } };
}
const log = (m: string) => process.stderr.write(`[gpu-check] ${m}\n`);

interface Parity { precision: string; maxAbsDiff: Record<string, number>; seconds: number }
interface Speed { precision: string; batch: number; facesPerSecond?: number; secondsPerRun?: number[]; skipped?: string; error?: string }

async function parity(provider: Provider, precision: 'fp32' | 'fp16'): Promise<Parity | { precision: string; skipped: string }> {
  if (!haveFixture) return { precision, skipped: `no fixture at ${values.fixture}` };
  if (Date.now() > deadline) return { precision, skipped: 'time budget spent' };
  const model = await OrtModel.create(await buildCodeFormerOnnx(fixture('codeformer_small.pth'), { fp16: precision === 'fp16' }), { device: provider, name: `codeformer-small ${precision}` });
  try {
    const x = f32(fixture('x.bin'));
    const ws = [0, 0.5, 1];
    const batch = new Float32Array(ws.length * x.length);
    ws.forEach((_, i) => batch.set(x, i * x.length));
    const t0 = performance.now();
    const out = (await model.run(feeds(batch, ws))).out!.data as Float32Array;
    const seconds = (performance.now() - t0) / 1000;
    const maxAbsDiff: Record<string, number> = {};
    ws.forEach((w, i) => {
      const ref = f32(fixture(`out_w${w.toFixed(1)}.bin`));
      let m = 0;
      for (let k = 0; k < ref.length; k++) m = Math.max(m, Math.abs(out[i * x.length + k]! - ref[k]!));
      maxAbsDiff[`w${w}`] = Number.isNaN(m) ? Infinity : m;
    });
    return { precision, maxAbsDiff, seconds };
  } finally {
    await model.close();
  }
}

async function speed(provider: Provider, precision: 'fp32' | 'fp16'): Promise<Speed[]> {
  const rows: Speed[] = [];
  const fp16 = precision === 'fp16';
  const bytes = values.model === 'small'
    ? await buildCodeFormerOnnx(fixture('codeformer_small.pth'), { fp16 })
    : buildRandomCodeFormer({ fp16 });
  const model = await OrtModel.create(bytes, { device: provider, name: `codeformer-${values.model} ${precision}` });
  try {
    for (const batch of batches) {
      if (Date.now() > deadline) { rows.push({ precision, batch, skipped: 'time budget spent' }); continue; }
      const x = Float32Array.from({ length: batch * 3 * 512 * 512 }, (_, i) => Math.sin(i * 1e-3));
      const f = feeds(x, Array.from({ length: batch }, (_, i) => (i % 3) / 2));
      try {
        for (let k = 0; k < warmup; k++) await model.run(f);
        const times: number[] = [];
        for (let r = 0; r < reps && (r === 0 || Date.now() < deadline); r++) {
          const t0 = performance.now();
          await model.run(f);
          times.push((performance.now() - t0) / 1000);
        }
        const median = [...times].sort((a, b) => a - b)[times.length >> 1]!;
        rows.push({ precision, batch, facesPerSecond: batch / median, secondsPerRun: times });
        log(`${provider} ${precision} batch ${batch}: ${(batch / median).toPrecision(3)} faces/s`);
      } catch (e) {
        rows.push({ precision, batch, error: (e as Error).message.split('\n')[0] });
      }
    }
  } finally {
    await model.close();
  }
  return rows;
}

interface WarpTiming { width: number; height: number; faces: number; graphMsPerFrame?: number[]; cpuWarpMsPerFrame?: number[]; skipped?: string; error?: string }

/** The warp pre-graph on `provider` against warpToCrop on the CPU, for one synthetic I420 frame with `faces` faces. */
async function warpTiming(provider: Provider, spec: string): Promise<WarpTiming | undefined> {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(spec);
  if (!m) return undefined;
  const [width, height, faces] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const cw = (width + 1) >> 1, ch = (height + 1) >> 1;
  const frame = { index: 0, pts: 0, width, height, data: Uint8Array.from({ length: width * height + 2 * cw * ch }, (_, i) => (i * 2654435761) >>> 24) };
  // Faces of about 200 px side spread over the frame (scale 512/200), slightly rotated.
  const mats: Affine[] = Array.from({ length: faces }, (_, i) => {
    const s = 512 / 200, a = 0.1 * (i % 3 - 1), cx = ((i + 0.5) / faces) * width, cy = height / 2;
    const c = s * Math.cos(a), d = s * Math.sin(a);
    return [c, -d, 256 - (c * cx - d * cy), d, c, 256 - (d * cx + c * cy)];
  });
  const warper = await GraphWarper.create({ device: provider, strictDevice: provider !== 'cpu' });
  try {
    const time = async (f: () => unknown) => { const t0 = performance.now(); await f(); return Math.round((performance.now() - t0) * 10) / 10; };
    await warper.warp({ layout: 'i420', frame }, mats); // warm-up: session, shaders
    const graphMsPerFrame: number[] = [], cpuWarpMsPerFrame: number[] = [];
    for (let r = 0; r < Math.max(1, reps); r++) {
      graphMsPerFrame.push(await time(() => warper.warp({ layout: 'i420', frame }, mats)));
      cpuWarpMsPerFrame.push(await time(() => mats.map((t) => warpToCrop(frame, t))));
    }
    log(`${provider} warp pre-graph ${width}x${height}, ${faces} faces: ${graphMsPerFrame.join('/')} ms (CPU warp ${cpuWarpMsPerFrame.join('/')} ms)`);
    return { width, height, faces, graphMsPerFrame, cpuWarpMsPerFrame };
  } catch (e) {
    return { width, height, faces, error: (e as Error).message.split('\n')[0] };
  } finally {
    await warper.close();
  }
}

const report: Record<string, unknown> = {
  date: new Date().toISOString(),
  host: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), loadavg: os.loadavg() },
  settings: { providers, batches, precisions, model: values.model, warp: values.warp, reps, warmup, budgetS: Number(values['budget-s']), parity: values.parity && !values['no-parity'] },
  bundledBackends: bundledBackends(),
  providers: {} as Record<string, unknown>,
};
for (const provider of providers) {
  const probe: ProbeResult = await probeProvider(provider);
  const entry: Record<string, unknown> = { loads: probe.ok, reason: probe.reason, fp16: probe.fp16, fp16Reason: probe.fp16Reason };
  (report.providers as Record<string, unknown>)[provider] = entry;
  log(`${provider}: ${probe.ok ? `loads (fp16 ${probe.fp16 ? 'yes' : `no: ${probe.fp16Reason}`})` : `does not load: ${probe.reason}`}`);
  if (!probe.ok) continue;
  const usable = precisions.filter((p) => p === 'fp32' || probe.fp16);
  entry.parity = [];
  if (values.parity && !values['no-parity']) for (const p of usable) (entry.parity as unknown[]).push(await parity(provider, p));
  // The warp first: seconds even on lavapipe, so the time budget never skips it.
  entry.warp = await warpTiming(provider, values.warp);
  entry.speed = [];
  for (const p of usable) (entry.speed as Speed[]).push(...(await speed(provider, p)));
}
writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
