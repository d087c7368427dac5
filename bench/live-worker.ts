/**
 * The live restore worker's frame path alone (LiveFrameRestorer, what frameWorker.ts runs), in this process,
 * on real frames: no browser, no SFU, no codecs, so its cost per frame can be measured on a shared machine.
 *
 *   node bench/live-worker.ts [--sizes 640x480,1280x720] [--frames 60] [--refine-every 1,3] [--detect-every 2]
 *                             [--restorer classic] [--repeats 2]
 *
 * The frames are ../shared/footage/retalk_1.mp4 (one talking face) scaled to each size, decoded once to I420
 * (what the WebRTC decoder hands over); each frame is restored in order, one at a time, as the live worker
 * does with detection every `--detect-every` frames and the 68-point refinement on every `--refine-every`-th
 * detection. Runs of the `--refine-every` values are interleaved. For each size and value: wall ms per frame
 * by part (RestoreStats.stagesMs: detect, convert, refine, warp, restore, paste, total), and CPU ms per frame:
 * this thread's (where ORT's single-thread detector and landmark runs, the warp and the paste happen) and the
 * whole process's (adds the classic restorer's pool threads). CPU is the figure to compare on a busy machine;
 * the load average is printed. Prints one JSON document on stdout.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { LiveFrameRestorer } from '../src/apps/live/liveFrameRestorer.ts';
import { readEnvironment } from '../src/config/env.ts';
import { parsePortableOptions } from '../src/engine/options.ts';
import { i420Layout } from '../src/util/yuv.ts';
import { shared } from '../test/helpers/paths.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '640x480,1280x720' },
    frames: { type: 'string', default: '60' },
    'refine-every': { type: 'string', default: '1,3' },
    'detect-every': { type: 'string', default: '2' },
    restorer: { type: 'string', default: 'classic' },
    repeats: { type: 'string', default: '2' },
  },
});
const log = (s: string) => process.stderr.write(`[live-worker] ${s}\n`);
const env = readEnvironment();
const PARTS = ['detect', 'convert', 'refine', 'warp', 'restore', 'paste', 'total'] as const;

function threadCpuMs(): number {
  const u = (process as NodeJS.Process & { threadCpuUsage(): NodeJS.CpuUsage }).threadCpuUsage();
  return (u.user + u.system) / 1000;
}
function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function i420Frames(width: number, height: number, count: number): Uint8Array[] {
  const raw = execFileSync(env.ffmpegPath, ['-v', 'error', '-i', shared('footage/retalk_1.mp4'), '-vf', `scale=${width}:${height}`, '-frames:v', String(count), '-pix_fmt', 'yuv420p', '-f', 'rawvideo', '-'], { maxBuffer: 256 << 20 });
  const size = i420Layout(width, height).size;
  return Array.from({ length: count }, (_, i) => new Uint8Array(raw.subarray(i * size, (i + 1) * size)));
}

const round = (v: number) => Math.round(v * 100) / 100;
const sizes = args.sizes!.split(',').map((s) => s.split('x').map(Number) as [number, number]);
const refineValues = args['refine-every']!.split(',').map(Number);
const count = Number(args.frames);
const repeats = Number(args.repeats);
const loadBefore = os.loadavg();

type Run = { size: string; refineEvery: number; perFrame: Record<(typeof PARTS)[number], number>; threadCpuMs: number; processCpuMs: number; restoredFrames: number };
const runs: Run[] = [];
for (const [w, h] of sizes) {
  const frames = i420Frames(w, h, count);
  for (let rep = 0; rep < repeats; rep++) {
    for (const refineEvery of refineValues) {
      const r = await LiveFrameRestorer.create({ options: parsePortableOptions({ restorer: args.restorer }), local: { cacheDir: env.cacheDir }, detectEvery: Number(args['detect-every']), refineEvery });
      try {
        // Two frames to warm up (JIT, ORT's first runs), not counted.
        for (const [i, f] of frames.slice(0, 2).entries()) await r.restore({ index: i, pts: i / 30, width: w, height: h, data: f.slice() });
        const sum = Object.fromEntries(PARTS.map((k) => [k, 0])) as Run['perFrame'];
        let restored = 0;
        const t0 = threadCpuMs();
        const p0 = processCpuMs();
        for (const [i, f] of frames.entries()) {
          const out = await r.restore({ index: i + 2, pts: (i + 2) / 30, width: w, height: h, data: f.slice() });
          for (const k of PARTS) sum[k] += out.stagesMs[k];
          if (out.restored) restored++;
        }
        const n = frames.length;
        const run: Run = {
          size: `${w}x${h}`,
          refineEvery,
          perFrame: Object.fromEntries(PARTS.map((k) => [k, round(sum[k] / n)])) as Run['perFrame'],
          threadCpuMs: round((threadCpuMs() - t0) / n),
          processCpuMs: round((processCpuMs() - p0) / n),
          restoredFrames: restored,
        };
        log(`${run.size} refine-every ${refineEvery}: ${JSON.stringify(run.perFrame)} thread CPU ${run.threadCpuMs} ms/frame, process ${run.processCpuMs}`);
        runs.push(run);
      } finally {
        await r.close();
      }
    }
  }
}

const results = sizes.flatMap(([w, h]) =>
  refineValues.map((refineEvery) => {
    const mine = runs.filter((r) => r.size === `${w}x${h}` && r.refineEvery === refineEvery);
    const mean = (f: (r: Run) => number) => round(mine.reduce((a, r) => a + f(r), 0) / mine.length);
    return {
      size: `${w}x${h}`,
      refineEvery,
      runs: mine.length,
      framesPerRun: count,
      /** Wall ms per frame by part, means over the runs. */
      perFrameMs: Object.fromEntries(PARTS.map((k) => [k, mean((r) => r.perFrame[k])])),
      /** CPU ms per frame: this thread (detector, landmarks, warp, paste) and the whole process (with the restorer's pool). */
      threadCpuMs: mean((r) => r.threadCpuMs),
      processCpuMs: mean((r) => r.processCpuMs),
      threadCpuMsPerRun: mine.map((r) => r.threadCpuMs),
    };
  }),
);
process.stdout.write(JSON.stringify({ machine: { cpus: os.cpus().length, loadavgBefore: loadBefore.map(round), loadavgAfter: os.loadavg().map(round) }, restorer: args.restorer, detectEvery: Number(args['detect-every']), results }, null, 2) + '\n');
