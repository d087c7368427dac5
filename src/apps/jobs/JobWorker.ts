import { rm, rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { FaceRestoreError, reviveError, serializeError, type ErrorCode, type SerializedError } from '../../errors.ts';
import type { PortableOptionsInput } from '../../engine/options.ts';
import { ComponentPool } from './ComponentPool.ts';
import { JobStore, type FailureKey } from './JobStore.ts';
import { joinSegments } from './joinSegments.ts';
import {
  jobSpecSchema,
  parseJobData,
  segmentJobData,
  segmentJobSchema,
  type JobSpec,
  type JoinRecord,
  type SegmentJobData,
  type SegmentRecord,
} from './jobData.ts';
import { silentJobLogger, type JobLogger } from './logger.ts';
import { BATCH_BUCKETS, LATENCY_BUCKETS, MetricsRegistry } from '../../util/metrics.ts';
import { DEFAULT_QUEUE, QUEUE_PREFIX } from './queueNames.ts';
import { createRedis } from './redis.ts';
import { redactRedisUrl } from './redisUrl.ts';
import { fileHasSize, hashFile, runSegment, type SegmentProgress } from './runSegment.ts';
import { finishedSegmentOnDisk, writeSegmentRecordFile } from './submitRecord.ts';

/** Options of JobWorker.create. */
export interface JobWorkerOptions {
  redisUrl: string;
  queueName?: string;
  /** Jobs this process works on at once (each segment job runs on its own component set). Default 1. */
  concurrency?: number;
  /** Lock held on a running job, renewed every half of it; a dead worker's job is taken over after it runs out. Default 30 s. */
  lockMs?: number;
  /** How often this worker looks for jobs whose worker died. Default 30 s. */
  stalledIntervalMs?: number;
  /** How many times a job may be taken over from a dead worker before it fails. Default 5. */
  maxStalledCount?: number;
  /** Worker name, recorded on the jobs it runs. Default `<host>:<pid>`. */
  name?: string;
  cacheDir?: string;
  ffmpegPath?: string;
  ffprobePath?: string;
  /** Portable settings this machine imposes on every job (e.g. `device: 'cuda'`, `threads`). */
  overrides?: Partial<Pick<PortableOptionsInput, 'device' | 'threads'>>;
  log?: JobLogger;
  /**
   * close()/shutdown() with Redis unreachable: BullMQ's graceful close waits for Redis forever, so after
   * Redis has been unreachable this long while closing, the connections are dropped instead (running jobs
   * are abandoned; their locks run out and another worker takes them over). Default 2000 ms.
   */
  closeGraceMs?: number;
}

/**
 * Errors whose retry cannot succeed: the job fails at once with the reason (BullMQ UnrecoverableError).
 * A decode error is one: the same bytes fail the same way on every attempt.
 */
const PERMANENT: ReadonlySet<ErrorCode> = new Set(['E_USAGE', 'E_CONFIG', 'E_PROBE', 'E_DECODE', 'E_NO_VIDEO', 'E_MODEL_MISSING', 'E_MODEL_INVALID', 'E_MODEL_CONTRACT', 'E_CHECKPOINT', 'E_JOB']);

/** Errors of a lost or refused Redis connection (retried by ioredis and BullMQ). */
function isConnectionError(e: Error): boolean {
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|Connection is closed|connect ETIMEDOUT/i.test(e.message);
}

/**
 * The error BullMQ records for a failed attempt. Its text (code and message) is for people and BullMQ's
 * own tools only; the typed error goes into the job's failure records. Permanent ones are unrecoverable.
 */
function queueError(s: SerializedError): Error {
  const message = `${s.code}: ${s.message}`;
  return PERMANENT.has(s.code) ? new UnrecoverableError(message) : new Error(message);
}

/** A deliberate refusal to run a segment of a job that has already failed (not a failure of its own). */
class NotRun extends UnrecoverableError {}

/**
 * A queue worker: takes segment jobs (restore one segment into its own file) and join jobs (join a
 * file's segments and its audio into the output) from the shared queue. Any number of these, on any
 * machines that see the same files at the same paths, can serve one Redis.
 *
 * Exactly-once output: every file is written under a temporary name and renamed into place only when
 * complete and checked; a segment's Redis record is written only after its file is in place, and a join's
 * only after the output is; the job's work folder is removed only after that. A worker killed at any
 * point leaves either nothing, a temporary file in the work folder, or a finished file whose job a
 * later worker (after BullMQ's stalled-job check returns it to the queue) finds done and skips. Encoding
 * is deterministic, so any redone step produces identical bytes.
 */
export class JobWorker {
  readonly name: string;
  readonly queueName: string;
  readonly #o: JobWorkerOptions;
  readonly #log: JobLogger;
  readonly #redis: ReturnType<typeof createRedis>;
  readonly #queue: Queue;
  readonly #store: JobStore;
  readonly #pool: ComponentPool;
  #worker: Worker | undefined;
  /** This worker's metrics (its own registry); `jobs worker --metrics-port` serves them. */
  readonly metrics = new MetricsRegistry();
  readonly #m = {
    frames: this.metrics.counter({ name: 'facerestore_frames_total', help: 'Video frames restored and written into segments.' }),
    faces: this.metrics.counter({ name: 'facerestore_faces_restored_total', help: 'Faces passed through the face restorer.' }),
    segments: this.metrics.counter({ name: 'facerestore_segments_total', help: 'Segments written by this worker.' }),
    jobs: this.metrics.counter({ name: 'facerestore_jobs_finished_total', help: 'Job attempts this worker finished, by kind (segment, join) and result (completed, failed).', labelNames: ['kind', 'result'] }),
    errors: this.metrics.counter({ name: 'facerestore_errors_total', help: 'Failed job attempts by error code.', labelNames: ['code'] }),
    active: this.metrics.gauge({ name: 'facerestore_worker_active_jobs', help: 'Jobs this worker is running now, by kind (segment, join).', labelNames: ['kind'] }),
    queue: this.metrics.gauge({ name: 'facerestore_queue_jobs', help: 'Jobs in the queue by BullMQ state (segments and joins; autoscale on state="waiting").', labelNames: ['state'] }),
    latency: this.metrics.histogram({ name: 'facerestore_restore_seconds', help: 'Wall time of one face-restorer call.', buckets: LATENCY_BUCKETS }),
    batch: this.metrics.histogram({ name: 'facerestore_restore_batch_faces', help: 'Faces in one face-restorer call.', buckets: BATCH_BUCKETS }),
    load: this.metrics.histogram({ name: 'facerestore_model_load_seconds', help: 'Time to load one component set (detector, restorer and the optional models).', buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] }),
  };
  #stopping = false;
  #lastConnWarn = 0;
  #connWarnsHidden = 0;
  #closing: Promise<void> | undefined;

  private constructor(o: JobWorkerOptions) {
    this.#o = o;
    this.name = o.name ?? `${os.hostname()}:${process.pid}`;
    this.queueName = o.queueName ?? DEFAULT_QUEUE;
    this.#log = o.log ?? silentJobLogger;
    this.#redis = createRedis(o.redisUrl, `facerestore-worker ${this.name}`, (e) => this.#connectionProblem(e));
    this.#queue = new Queue(this.queueName, { connection: this.#redis, prefix: QUEUE_PREFIX });
    this.#queue.on('error', (e: Error) => this.#connectionProblem(e));
    this.#store = new JobStore(this.#redis, `${QUEUE_PREFIX}:${this.queueName}`);
    this.#pool = new ComponentPool(
      o.concurrency ?? 1,
      { cacheDir: o.cacheDir, ffmpegPath: o.ffmpegPath ?? 'ffmpeg', ffprobePath: o.ffprobePath ?? 'ffprobe' },
      {
        onWarning: (m) => this.#log.warn({}, m),
        onInfo: (m) => this.#log.info({}, m),
        onRestore: (faces, seconds) => {
          this.#m.faces.inc(undefined, faces);
          this.#m.latency.observe(seconds);
          this.#m.batch.observe(faces);
        },
        onLoaded: (seconds) => this.#m.load.observe(seconds),
      },
    );
    for (const kind of ['segment', 'join']) this.#m.active.set(0, { kind });
    this.metrics.onCollect(async () => {
      for (const [state, n] of Object.entries(await this.#queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'waiting-children', 'prioritized'))) this.#m.queue.set(n, { state });
    });
  }

  /** Connects and starts taking jobs. */
  static async create(o: JobWorkerOptions): Promise<JobWorker> {
    const w = new JobWorker(o);
    try {
      w.#worker = new Worker(w.queueName, (job, token, signal) => w.#process(job, token, signal), {
        connection: w.#redis,
        prefix: QUEUE_PREFIX,
        name: w.name,
        concurrency: o.concurrency ?? 1,
        lockDuration: o.lockMs ?? 30_000,
        stalledInterval: o.stalledIntervalMs ?? 30_000,
        maxStalledCount: o.maxStalledCount ?? 5,
        autorun: false,
      });
      const log = w.#log;
      w.#worker.on('completed', (job) => log.info({ job: job.id, kind: job.name }, `${job.name} done`));
      w.#worker.on('failed', (job, err) => {
        if (job) log.warn({ job: job.id, kind: job.name, attempt: job.attemptsMade, of: job.opts.attempts ?? 1, reason: err.message }, `${job.name} failed`);
      });
      w.#worker.on('stalled', (jobId) => log.warn({ job: jobId }, 'took back a job whose worker stopped renewing its lock'));
      w.#worker.on('error', (err) => (isConnectionError(err) ? w.#connectionProblem(err) : log.error({ err: err.message }, 'worker error')));
      void w.#worker.run().catch((e: Error) => log.error({ err: e.message }, 'worker loop ended'));
      await w.#worker.waitUntilReady();
      log.info({ queue: w.queueName, concurrency: o.concurrency ?? 1, redis: redactRedisUrl(o.redisUrl) }, 'worker ready');
      return w;
    } catch (e) {
      await w.close();
      throw e;
    }
  }

  /** Logs Redis connection trouble at most every 10 s (ioredis and BullMQ retry on their own meanwhile). */
  #connectionProblem(e: Error): void {
    const now = Date.now();
    if (now - this.#lastConnWarn < 10_000) {
      this.#connWarnsHidden++;
      return;
    }
    this.#log.warn({ err: e.message, repeats: this.#connWarnsHidden }, 'redis connection problem (reconnecting; running jobs wait for it)');
    this.#lastConnWarn = now;
    this.#connWarnsHidden = 0;
  }

  /**
   * Graceful stop (SIGTERM): takes no new jobs, stops the running ones and puts them back in the queue
   * at once (no lock to wait out, no attempt used up), then closes. Idempotent.
   */
  async shutdown(): Promise<void> {
    if (!this.#stopping && this.#worker) {
      this.#stopping = true;
      const closing = this.#worker.close();
      this.#worker.cancelAllJobs('worker shutting down');
      if (!(await this.#untilRedisGone(closing))) this.#dropConnections();
    }
    await this.close();
  }

  /** Closes everything this worker opened; bounded when Redis is unreachable (`closeGraceMs`). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopping = true;
      const graceful = (async () => {
        await this.#worker?.close().catch(() => undefined);
        await this.#queue.close().catch(() => undefined);
      })();
      if (!(await this.#untilRedisGone(graceful))) {
        this.#dropConnections();
        // Dropped connections fail BullMQ's pending commands, so its close settles; bounded once more all the same.
        await this.#untilRedisGone(graceful);
      }
      await this.#pool.close();
      this.#redis.disconnect();
    })();
    return this.#closing;
  }

  /**
   * Waits for `p`: true once it settled, false once Redis has been unreachable for `closeGraceMs` in a row
   * (checked every 50 ms; a Redis that is up never ends the wait, so running jobs finish as they should).
   */
  async #untilRedisGone(p: Promise<unknown>): Promise<boolean> {
    const grace = this.#o.closeGraceMs ?? 2000;
    let settled = false;
    void p.then(
      () => (settled = true),
      () => (settled = true),
    );
    let downSince: number | undefined;
    while (!settled) {
      const now = Date.now();
      if (this.#redis.status === 'ready') downSince = undefined;
      else if (downSince === undefined) downSince = now;
      else if (now - downSince >= grace) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return true;
  }

  /** Gives up on Redis: cancels running jobs and disconnects every connection of the queue and the worker. */
  #dropConnections(): void {
    this.#log.warn({ graceMs: this.#o.closeGraceMs ?? 2000, redis: this.#redis.status }, 'redis unreachable while closing: dropping the Redis connections');
    this.#worker?.cancelAllJobs('redis unreachable while closing');
    this.#redis.disconnect();
    void this.#worker?.disconnect().catch(() => undefined);
    void this.#queue.disconnect().catch(() => undefined);
  }

  /**
   * Whether this worker can work: Redis connected and the worker loop running
   * (`{ ok: false, reason }` otherwise; `jobs worker --metrics-port` serves it at /healthz).
   */
  health(): { ok: true } | { ok: false; reason: string } {
    if (this.#stopping) return { ok: false, reason: 'worker stopping' };
    if (this.#redis.status !== 'ready') return { ok: false, reason: `redis not connected (${this.#redis.status}${this.#redis.lastError ? `: ${this.#redis.lastError.message}` : ''})` };
    if (!this.#worker?.isRunning()) return { ok: false, reason: 'worker loop not running' };
    return { ok: true };
  }

  async #process(job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
    const kind = job.name === 'segment' || job.name === 'join' ? job.name : 'other';
    this.#m.active.inc({ kind });
    try {
      const out = kind === 'segment' ? await this.#segment(job, signal) : kind === 'join' ? await this.#join(job, signal) : undefined;
      if (kind === 'other') throw new FaceRestoreError('E_JOB', `unknown job kind '${job.name}'`);
      this.#m.jobs.inc({ kind, result: 'completed' });
      return out;
    } catch (e) {
      if (this.#stopping && signal?.aborted && token) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (e instanceof NotRun) throw e;
      const error = serializeError(e);
      this.#m.jobs.inc({ kind, result: 'failed' });
      this.#m.errors.inc({ code: error.code });
      await this.#recordFailure(job, error);
      throw queueError(error);
    } finally {
      this.#m.active.dec({ kind });
    }
  }

  /** Keeps the typed error of a failed attempt where `jobs status` reads it (best effort: Redis may be away). */
  async #recordFailure(job: Job, error: SerializedError): Promise<void> {
    const data = job.data as { jobId?: unknown; plan?: { index?: unknown } };
    const target: [string, FailureKey] | undefined =
      job.name === 'segment' && typeof data.jobId === 'string' && typeof data.plan?.index === 'number' ? [data.jobId, data.plan.index] : job.name === 'join' && job.id ? [job.id, 'join'] : undefined;
    if (!target) return;
    const record = { error, attempt: job.attemptsMade + 1, worker: this.name, at: Date.now() };
    await this.#store.putFailure(target[0], target[1], record).catch((e: Error) => this.#log.warn({ job: job.id, err: e.message }, 'cannot record the failure'));
  }

  async #runSegment(data: SegmentJobData, signal: AbortSignal | undefined, onProgress?: (p: SegmentProgress) => void): Promise<SegmentRecord> {
    const overrides = Object.fromEntries(Object.entries(this.#o.overrides ?? {}).filter(([, v]) => v !== undefined));
    const { components, release } = await this.#pool.acquire({ ...data.pipeline, ...overrides });
    try {
      return await runSegment({ components, data, worker: this.name, signal, onProgress });
    } finally {
      await release();
    }
  }

  async #segment(job: Job, signal: AbortSignal | undefined): Promise<SegmentRecord> {
    const data = parseJobData(segmentJobSchema, job.data, 'segment');
    const i = data.plan.index;
    const parentState = await this.#queue.getJobState(data.jobId);
    if (parentState === 'failed') throw new NotRun(`not run: job ${data.jobId} has already failed`);
    if (parentState === 'unknown') this.#jobLost(data.jobId, data.workDir, i);
    const done = await this.#finished(data.jobId, data.workDir, i);
    if (done) {
      this.#log.info({ job: data.jobId, segment: i }, 'segment already done (skipped)');
      return done;
    }
    let last = 0;
    const record = await this.#runSegment(data, signal, (p) => {
      const now = Date.now();
      if (now - last < 500 && p.frames !== p.expected) return;
      last = now;
      job.updateProgress({ ...p }).catch(() => undefined);
    });
    // On disk first: it survives Redis losing its data, and a resubmitted job reuses it.
    await writeSegmentRecordFile(data.workDir, record);
    await this.#store.putSegment(data.jobId, record);
    this.#m.frames.inc(undefined, record.frames);
    this.#m.segments.inc();
    this.#log.info({ job: data.jobId, segment: i, frames: record.frames, seconds: Number(record.seconds.toFixed(2)) }, 'segment written');
    if ((await this.#queue.getJobState(data.jobId)) === 'unknown') this.#jobLost(data.jobId, data.workDir, i);
    return record;
  }

  /**
   * The job's keys are gone from Redis (restarted empty, flushed, evicted): says so clearly, and refuses
   * to go on with a job nobody will join. The finished segments stay in the work folder for a resubmit.
   */
  #jobLost(jobId: string, workDir: string, segment: number): never {
    const message = `job ${jobId} is gone from Redis (Redis restarted empty or was flushed?): segment ${segment} stops here; finished segments are kept in ${workDir}. Run \`facerestore jobs submit\` with the same inputs and --out again to resume it (\`jobs status --out <folder>\` lists lost jobs)`;
    this.#log.error({ job: jobId, segment, workDir, code: 'E_JOB_LOST' }, message);
    throw new NotRun(message);
  }

  /** A finished segment: its Redis record, else its record on disk (after Redis lost its data), when its file is complete. */
  async #finished(jobId: string, workDir: string, index: number): Promise<SegmentRecord | undefined> {
    const r = await this.#store.getSegment(jobId, index);
    if (r && (await fileHasSize(path.join(workDir, r.file), r.bytes))) return r;
    return finishedSegmentOnDisk(workDir, index);
  }

  async #join(job: Job, signal: AbortSignal | undefined): Promise<JoinRecord> {
    const spec: JobSpec = parseJobData(jobSpecSchema, job.data, 'join');
    const id = job.id!;
    if (spec.error) throw reviveError(spec.error);
    const joined = await this.#store.getJoin(id);
    if (joined && (await fileHasSize(spec.output, joined.bytes)) && (await hashFile(spec.output)).sha256 === joined.sha256) {
      this.#log.info({ job: id }, 'output already joined (skipped)');
      await this.#cleanUp(id, spec);
      return joined;
    }
    await job.updateProgress({ phase: 'join' }).catch(() => undefined);
    const records: SegmentRecord[] = [];
    for (const plan of spec.segments) {
      let r = await this.#finished(id, spec.workDir, plan.index);
      if (!r) {
        // The segment's file is gone (work folder removed, Redis restored from an older state): make it again.
        this.#log.warn({ job: id, segment: plan.index }, 'segment file missing at join: restoring it again');
        r = await this.#runSegment(segmentJobData(id, spec, plan), signal);
        await writeSegmentRecordFile(spec.workDir, r);
        await this.#store.putSegment(id, r);
      }
      records.push(r);
    }
    const record = await joinSegments({ spec, records, worker: this.name, ffmpegPath: this.#o.ffmpegPath, ffprobePath: this.#o.ffprobePath, signal });
    await this.#store.putJoin(id, record);
    await this.#cleanUp(id, spec);
    this.#log.info({ job: id, output: spec.output, frames: record.frames }, 'output written');
    return record;
  }

  /** Removes the job's work folder (and the shared parent when it is empty), its segment records and the failures of earlier attempts. */
  async #cleanUp(id: string, spec: JobSpec): Promise<void> {
    await rm(spec.workDir, { recursive: true, force: true });
    await rmdir(path.dirname(spec.workDir)).catch(() => undefined);
    await this.#store.dropSegments(id);
    await this.#store.dropFailures(id);
  }
}
