import { readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { FaceRestoreError, reviveError } from '../../errors.ts';
import { toPortableOptions } from '../../engine/options.ts';
import type { JobStatus } from '../jobs/JobQueue.ts';
import { outputPathFor, planJob, type PlannedJob } from '../jobs/planJob.ts';
import { DEFAULT_QUEUE } from '../jobs/queueNames.ts';
import { checkRedisUrl } from '../jobs/redisUrl.ts';
import { displayName, formatSeconds, formatStatusTable, isFinished } from '../jobs/statusView.ts';
import type { CliContext } from './context.ts';
import { addLogFlags, loggerFromFlags } from './logFlags.ts';
import { numberIn, oneOf } from './parse.ts';
import { addPipelineFlags, pipelineOptionsFromFlags } from './pipelineFlags.ts';

/** File extensions taken from a folder given to `jobs submit`. */
const VIDEO_EXTENSIONS = new Set(['.mp4', '.m4v', '.mov', '.mkv', '.avi', '.ts', '.mts', '.m2ts', '.webm', '.flv', '.wmv', '.mpg', '.mpeg', '.3gp', '.asf', '.dav', '.h264', '.264']);

/** Exit code when some job of a submission or watch failed (E_JOB's). */
const EXIT_JOB_FAILED = 9;

/**
 * The queue module, loaded when a jobs command runs: it brings BullMQ and ioredis (about 0.15 s of CPU at every
 * start, measured), which no other command needs.
 */
function loadQueue(): Promise<typeof import('../jobs/JobQueue.ts')> {
  return import('../jobs/JobQueue.ts');
}

function redisUrl(flags: Record<string, unknown>, ctx: CliContext): string {
  const url = (flags.redis as string | undefined) ?? ctx.env.redisUrl;
  checkRedisUrl(url);
  return url;
}

function addQueueFlags(cmd: Command, logs?: CliContext): Command {
  if (logs) addLogFlags(cmd, logs);
  return cmd.option('--redis <url>', 'Redis URL (default: FACERESTORE_REDIS_URL, REDIS_URL or redis://127.0.0.1:6379)').option('--queue <name>', 'queue name', DEFAULT_QUEUE);
}

/** Files named on the command line, folders expanded to their video files (not recursive, hidden files skipped). */
async function expandInputs(args: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const a of args) {
    const s = await stat(a).catch(() => undefined);
    if (s?.isDirectory()) {
      const names = (await readdir(a, { withFileTypes: true }))
        .filter((d) => d.isFile() && !d.name.startsWith('.') && VIDEO_EXTENSIONS.has(path.extname(d.name).toLowerCase()))
        .map((d) => path.resolve(a, d.name))
        .sort();
      if (names.length === 0) throw new FaceRestoreError('E_USAGE', `folder ${a} holds no video files (${[...VIDEO_EXTENSIONS].join(' ')})`);
      files.push(...names);
    } else files.push(path.resolve(a));
  }
  return [...new Set(files)];
}

/** `facerestore jobs …`: the queue-based batch mode (BullMQ on Redis). */
export function registerJobs(program: Command, ctx: CliContext): void {
  const jobs = program.command('jobs').description('batch restoration through a Redis queue: submit files, run workers on any machines, watch progress');

  const submit = addQueueFlags(
    jobs
      .command('submit')
      .description('queue one job per input file (folders: their video files); each job is split into segments that any worker can take')
      .argument('<inputs...>', 'video files or folders')
      .requiredOption('--out <folder>', 'output folder (outputs are <name>.mp4; segments wait in its hidden .facerestore-work folder)')
      .option('--segment-seconds <s>', 'target segment length (cut at a keyframe near it when one is close)', numberIn(0.5, 3600), 20)
      .option('--warmup-seconds <s>', 'frames decoded and tracked (not restored or written) before each segment', numberIn(0, 60), 1)
      .option('--attempts <n>', 'tries per segment and per join before the job fails', numberIn(1, 100, true), 3)
      .option('--backoff-ms <ms>', 'delay before the first retry (doubles each time)', numberIn(0, 3_600_000, true), 5000)
      .option('--codec <name>', 'ffmpeg video encoder', 'libx264')
      .option('--crf <n>', 'encoder quality (lower is better; 0 is lossless with x264)', numberIn(0, 63, true), 18)
      .option('--preset <name>', 'encoder preset', 'medium')
      .option('--no-deterministic', 'allow multi-threaded encoding (outputs of retried segments may then differ in bytes)')
      .option('--json', 'print what was queued as JSON'),
  );
  addPipelineFlags(submit).action(async (inputs: string[], flags: Record<string, unknown>) => {
    const url = redisUrl(flags, ctx);
    const outDir = path.resolve(flags.out as string);
    const files = await expandInputs(inputs);
    const outputs = new Map<string, string>();
    for (const f of files) {
      const out = outputPathFor(f, outDir);
      if (out === f) throw new FaceRestoreError('E_USAGE', `the output for ${f} would overwrite it: choose another --out folder`);
      const other = outputs.get(out);
      if (other) throw new FaceRestoreError('E_USAGE', `${other} and ${f} would both be written to ${out}: submit them with different --out folders`);
      outputs.set(out, f);
    }
    // What to do travels with the job; machine-local settings (tool paths, cache folder) are each worker's own.
    // Model files are inputs like the video: absolute, so every worker finds them at the same path.
    const flagged = pipelineOptionsFromFlags(flags, ctx.env.cacheDir, ctx.env);
    const pipeline = toPortableOptions({
      ...flagged,
      model: flagged.model === undefined ? undefined : path.resolve(flagged.model),
      detectorModel: flagged.detectorModel === undefined ? undefined : path.resolve(flagged.detectorModel),
    });
    const common = {
      outDir,
      pipeline,
      encode: { codec: flags.codec as string, crf: flags.crf as number, preset: flags.preset as string, deterministic: flags.deterministic !== false },
      segmentSeconds: flags.segmentSeconds as number,
      warmupSeconds: flags.warmupSeconds as number,
      ffprobePath: ctx.env.ffprobePath,
    };
    const { JobQueue, describeError } = await loadQueue();
    const queue = await JobQueue.create({ redisUrl: url, queueName: flags.queue as string });
    try {
      const planned: PlannedJob[] = [];
      for (const f of files) planned.push(await planJob(f, common));
      const outcomes = await queue.submit(planned, { attempts: flags.attempts as number, backoffMs: flags.backoffMs as number });
      if (flags.json) ctx.stdout(JSON.stringify(outcomes, null, 2) + '\n');
      for (const o of outcomes) {
        const what = o.error
          ? `queued to fail: ${describeError(o.error)}`
          : o.outcome === 'added'
            ? `queued (${o.segments} segment${o.segments === 1 ? '' : 's'}) → ${o.output}`
            : o.outcome === 'resumed'
              ? `resumed after Redis lost it (${o.segments - (o.reused ?? 0)} of ${o.segments} segments queued again; ${o.reused ?? 0} finished are reused) → ${o.output}`
              : o.outcome === 'resubmitted'
              ? `queued again (${o.segments} segments; finished segments are reused) → ${o.output}`
              : o.outcome === 'done'
                ? `already done → ${o.output}`
                : `already queued (${o.state})`;
        (flags.json ? ctx.stderr : ctx.stdout)(`${o.id}  ${path.basename(o.input)}: ${what}\n`);
      }
      if (outcomes.some((o) => o.error)) ctx.exitCode = EXIT_JOB_FAILED;
    } finally {
      await queue.close();
    }
  });

  addQueueFlags(
    jobs
      .command('worker')
      .description('take and run jobs until stopped (SIGTERM/SIGINT: running segments go back to the queue); start one per machine or container')
      .option('--concurrency <n>', 'jobs run at once by this process (one detector + restorer set each)', numberIn(1, 64, true), 1)
      .option('--name <name>', 'worker name shown in status', `${os.hostname()}:${process.pid}`)
      .option('--lock-seconds <s>', "a job's lock; a dead worker's job is taken over after it runs out", numberIn(1, 3600), 30)
      .option('--stalled-seconds <s>', 'how often to look for jobs of dead workers', numberIn(0.5, 3600), 30)
      .option('--max-stalled <n>', 'take-overs allowed per job before it fails', numberIn(0, 1000, true), 5)
      .option('--device <device>', "override every job's device on this machine: cpu | webgpu | cuda | auto", oneOf('cpu', 'webgpu', 'cuda', 'auto'))
      .option('--threads <n>', 'override ONNX Runtime intra-op threads on this machine', numberIn(1, 256, true))
      .option('--metrics-port <n>', 'serve GET /metrics (Prometheus) and GET /healthz on this TCP port (0: any free port; off by default)', numberIn(0, 65535, true))
      .option('--metrics-host <address>', 'address of the metrics port', '127.0.0.1'),
    ctx,
  ).action(async (flags: Record<string, unknown>) => {
    const url = redisUrl(flags, ctx);
    const log = loggerFromFlags(flags, { service: 'jobs-worker', worker: flags.name });
    const { JobWorker } = await import('../jobs/JobWorker.ts');
    const worker = await JobWorker.create({
      redisUrl: url,
      queueName: flags.queue as string,
      concurrency: flags.concurrency as number,
      name: flags.name as string,
      lockMs: (flags.lockSeconds as number) * 1000,
      stalledIntervalMs: (flags.stalledSeconds as number) * 1000,
      maxStalledCount: flags.maxStalled as number,
      cacheDir: ctx.env.cacheDir,
      ffmpegPath: ctx.env.ffmpegPath,
      ffprobePath: ctx.env.ffprobePath,
      overrides: { device: flags.device as 'cpu' | 'webgpu' | 'cuda' | 'auto' | undefined, threads: flags.threads as number | undefined },
      log,
    });
    const { startMetricsServer } = await import('../../util/metricsServer.ts');
    const metrics = flags.metricsPort === undefined ? undefined : await startMetricsServer({ port: flags.metricsPort as number, host: flags.metricsHost as string, metrics: worker.metrics, health: () => worker.health() });
    if (metrics) log.info({ url: `${metrics.url}/metrics` }, 'metrics port open');
    await new Promise<void>((resolve) => {
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        if (++signals > 1) {
          log.warn({ signal: sig }, 'second signal: exiting now');
          process.exit(130);
        }
        log.info({ signal: sig }, 'stopping: running jobs go back to the queue');
        worker.shutdown().then(resolve, (e: Error) => {
          log.error({ err: e.message }, 'shutdown failed');
          resolve();
        });
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    await metrics?.close();
    log.info({}, 'worker stopped');
  });

  addQueueFlags(
    jobs
      .command('status')
      .description('show jobs: state, segments done/total, frames, frames/s, ETA, and why a job failed')
      .argument('[id]', 'one job (default: all)')
      .option('--json', 'JSON (the same as the HTTP endpoint of `jobs serve`)')
      .option('--out <folder>', 'also report jobs submitted into this output folder that Redis no longer has (`lost`: exit 9; submit them again to resume)')
      .option('--watch', 'keep updating until every shown job has finished (exit 9 when one failed)')
      .option('--interval <s>', 'seconds between updates with --watch', numberIn(0.2, 3600), 1),
  ).action(async (id: string | undefined, flags: Record<string, unknown>) => {
    const { JobQueue } = await loadQueue();
    const queue = await JobQueue.create({ redisUrl: redisUrl(flags, ctx), queueName: flags.queue as string });
    try {
      const outDir = flags.out === undefined ? undefined : path.resolve(flags.out as string);
      const fetch = async (): Promise<JobStatus[]> => {
        const lost = outDir ? await queue.lost(outDir) : [];
        if (!id) return [...lost, ...(await queue.list())];
        const s = (await queue.status(id)) ?? lost.find((l) => l.id === id);
        if (!s) throw new FaceRestoreError('E_JOB', `no job ${id} in queue ${flags.queue as string}${outDir ? ` and no submit record of it in ${outDir}` : ' (pass --out <folder> to look for it among jobs Redis lost)'}`);
        return [s];
      };
      if (!flags.watch) {
        const list = await fetch();
        ctx.stdout(flags.json ? JSON.stringify(id ? list[0] : { jobs: list }, null, 2) + '\n' : formatStatusTable(list));
        if (list.some((s) => s.state === 'lost')) ctx.exitCode = EXIT_JOB_FAILED;
        return;
      }
      const bars = !flags.json && process.stderr.isTTY ? new LiveBars() : undefined;
      let previous = '';
      for (;;) {
        const list = await fetch();
        if (flags.json) ctx.stdout(JSON.stringify(id ? list[0] : { jobs: list }) + '\n');
        else if (bars) bars.update(list);
        else {
          const table = formatStatusTable(list);
          if (table !== previous) ctx.stdout(table + '\n');
          previous = table;
        }
        if (list.every(isFinished)) {
          bars?.stop();
          if (bars) ctx.stdout(formatStatusTable(list));
          const failed = list.filter((s) => s.state === 'failed' || s.state === 'lost');
          // One watched job: its own error's exit code (3 bad input, 4 model, …); several: "a job failed".
          if (failed.length > 0) ctx.exitCode = id && failed[0]!.error ? reviveError(failed[0]!.error).exitCode : EXIT_JOB_FAILED;
          return;
        }
        await new Promise((r) => setTimeout(r, (flags.interval as number) * 1000));
      }
    } finally {
      await queue.close();
    }
  });

  addQueueFlags(
    jobs
      .command('serve')
      .description('serve job status as JSON over HTTP: GET /jobs, GET /jobs/<id> (read-only), GET /metrics (queue depth), GET /healthz (Redis)')
      .option('--port <n>', 'TCP port', numberIn(0, 65535, true), 8787)
      .option('--host <address>', 'address to listen on', '127.0.0.1'),
    ctx,
  ).action(async (flags: Record<string, unknown>) => {
    const log = loggerFromFlags(flags, { service: 'jobs-serve' });
    const { JobQueue } = await loadQueue();
    const queue = await JobQueue.create({ redisUrl: redisUrl(flags, ctx), queueName: flags.queue as string });
    const { startStatusServer } = await import('../jobs/statusServer.ts');
    const server = await startStatusServer(queue, { port: flags.port as number, host: flags.host as string });
    ctx.stderr(`facerestore: job status on ${server.url}/jobs\n`);
    log.info({ url: server.url, queue: flags.queue }, 'job status server ready');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await server.close();
    await queue.close();
  });
}

/** One progress bar per job on a terminal (frames done of total, segments, frames/s, ETA). */
class LiveBars {
  readonly #multi = new cliProgress.MultiBar(
    { stream: process.stderr, format: '{name} |{bar}| {value}/{total} frames | {segments} seg | {fps} fps | ETA {eta} | {state}', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  readonly #bars = new Map<string, cliProgress.SingleBar>();

  update(list: readonly JobStatus[]): void {
    for (const s of list) {
      const total = Math.max(1, s.frames.total ?? s.frames.done, s.frames.done);
      const payload = {
        name: displayName(s).slice(0, 24).padEnd(24),
        segments: `${s.segments.done}/${s.segments.total}`,
        fps: s.fps === null ? '-' : s.fps.toFixed(1),
        eta: formatSeconds(s.etaSeconds),
        state: s.reason ? `${s.state}: ${s.reason}` : s.state,
      };
      let bar = this.#bars.get(s.id);
      if (!bar) {
        bar = this.#multi.create(total, s.frames.done, payload);
        this.#bars.set(s.id, bar);
      }
      bar.setTotal(total);
      bar.update(s.frames.done, payload);
    }
  }

  stop(): void {
    this.#multi.stop();
  }
}
