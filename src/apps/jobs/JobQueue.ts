import { stat } from 'node:fs/promises';
import { FlowProducer, Queue, type Job } from 'bullmq';
import { FaceRestoreError, type SerializedError } from '../../errors.ts';
import { segmentJobData, segmentJobId, type JobSpec, type JoinRecord, type SegmentRecord } from './jobData.ts';
import { JobStore } from './JobStore.ts';
import type { PlannedJob } from './planJob.ts';
import { DEFAULT_QUEUE, QUEUE_PREFIX } from './queueNames.ts';
import { createRedis, ensureReachable } from './redis.ts';
import { dropSegmentRecords, finishedSegments, listSubmitRecords, readSubmitRecord, samePlan, writeSubmitRecord, type SubmitRecord } from './submitRecord.ts';

/** Retry policy of submitted jobs. */
export interface SubmitOptions {
  /** Tries per segment and per join before the job fails. Default 3. */
  attempts?: number;
  /** First retry delay, doubled on each further retry. Default 5000 ms. */
  backoffMs?: number;
}

/** What submitting one input did. */
export interface SubmitOutcome {
  id: string;
  input: string;
  output: string;
  /**
   * `added`: new job; `resubmitted`: a failed earlier run was replaced (finished segments are reused);
   * `resumed`: Redis had lost the job (its submit record was on disk): only unfinished segments are queued;
   * `exists`: the same job is already queued or running; `done`: it already completed.
   */
  outcome: 'added' | 'resubmitted' | 'resumed' | 'exists' | 'done';
  /** With `resumed`: segments already finished on disk (not queued again). */
  reused?: number;
  /** The queue state of an existing job. */
  state?: string;
  segments: number;
  /** Why the input cannot be processed (the job is queued anyway and fails with it). */
  error?: SerializedError;
}

/** An error as one line for people: `CODE: message`. Display only; the typed error is beside it. */
export function describeError(e: SerializedError): string {
  return `${e.code}: ${e.message}`;
}

/** Per-segment status. */
export interface SegmentStatus {
  index: number;
  state: string;
  frames: number;
  expected: number | null;
  /** Its frames per second while it runs. */
  fps: number | null;
  worker: string | null;
  attempts: number;
  /** Times a worker died (or stopped renewing its lock) while running it. */
  stalls: number;
  /** Why its last attempt failed, for people. */
  reason: string | null;
  /** The typed error of its last failed attempt (null when none was recorded, e.g. a worker died too often). */
  error: SerializedError | null;
}

/** Status of one job, as `jobs status --json` and the HTTP endpoint print it. */
export interface JobStatus {
  id: string;
  input: string;
  output: string;
  /** `queued`, `running` (segments), `joining`, `completed`, `failed`, or `lost` (submitted, but Redis no longer knows it: see `jobs status --out`). */
  state: 'queued' | 'running' | 'joining' | 'completed' | 'failed' | 'unknown' | 'lost';
  /** BullMQ state of the job's parent ('join') job. */
  queueState: string;
  /** Why it failed, for people (the failing segment's reason when a segment failed). */
  reason: string | null;
  /** The typed error it failed with (the failing segment's, the join's, or the planning error); null unless failed. */
  error: SerializedError | null;
  segments: { total: number; done: number; running: number; failed: number };
  frames: { done: number; total: number | null; exact: boolean };
  /** Frames per second: of the running segments together while it runs, else over the whole job so far. */
  fps: number | null;
  etaSeconds: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  elapsedSeconds: number | null;
  /** Workers running its segments now. */
  workers: string[];
  result: JoinRecord | null;
  segmentList: SegmentStatus[];
}

const iso = (ms: number | undefined | null) => (ms ? new Date(ms).toISOString() : null);

/**
 * The client side of the job system: submits planned jobs as BullMQ flows (a parent 'join' job whose
 * child 'segment' jobs must all complete first; a failing segment fails its parent) and reads status.
 */
export class JobQueue {
  readonly queueName: string;
  readonly #redis: ReturnType<typeof createRedis>;
  readonly #queue: Queue;
  readonly #flow: FlowProducer;
  readonly #store: JobStore;
  #closed = false;

  private constructor(redis: ReturnType<typeof createRedis>, queueName: string) {
    this.queueName = queueName;
    this.#redis = redis;
    this.#queue = new Queue(queueName, { connection: redis, prefix: QUEUE_PREFIX });
    this.#flow = new FlowProducer({ connection: redis, prefix: QUEUE_PREFIX });
    this.#store = new JobStore(redis, `${QUEUE_PREFIX}:${queueName}`);
    // Connection trouble surfaces as failed or slow commands; the emitters must not throw on it.
    this.#queue.on('error', () => undefined);
    this.#flow.on('error', () => undefined);
  }

  /** Connects (E_UNAVAILABLE when Redis does not answer within `timeoutMs`). */
  static async create(o: { redisUrl: string; queueName?: string; timeoutMs?: number }): Promise<JobQueue> {
    const redis = createRedis(o.redisUrl, 'facerestore-client');
    try {
      await ensureReachable(redis, o.redisUrl, o.timeoutMs);
    } catch (e) {
      redis.disconnect();
      throw e;
    }
    return new JobQueue(redis, o.queueName ?? DEFAULT_QUEUE);
  }

  /** Adds each planned job unless the same job (same id) is already queued, running or done. */
  async submit(jobs: readonly PlannedJob[], o: SubmitOptions = {}): Promise<SubmitOutcome[]> {
    const attempts = o.attempts ?? 3;
    const backoff = { type: 'exponential' as const, delay: o.backoffMs ?? 5000 };
    const outcomes: SubmitOutcome[] = [];
    for (const { id, spec } of jobs) {
      const base: Omit<SubmitOutcome, 'outcome'> = { id, input: spec.input, output: spec.output, segments: spec.segments.length, ...(spec.error ? { error: spec.error } : {}) };
      let outcome: SubmitOutcome['outcome'] = 'added';
      const existing = await this.#queue.getJob(id);
      if (existing) {
        const state = await existing.getState();
        const outputThere = await stat(spec.output).then(() => true, () => false);
        if (state === 'completed' && outputThere) {
          outcomes.push({ ...base, outcome: 'done', state });
          continue;
        }
        if (state !== 'completed' && state !== 'failed') {
          outcomes.push({ ...base, outcome: 'exists', state });
          continue;
        }
        try {
          await existing.remove({ removeChildren: true });
        } catch (e) {
          throw new FaceRestoreError('E_JOB', `cannot replace the ${state} job ${id} (a segment of it may still be running; try again later): ${(e as Error).message}`);
        }
        await this.#store.dropFailures(id);
        outcome = 'resubmitted';
      }
      let queued = spec.segments;
      if (!existing && !spec.error) {
        // Not in Redis, but submitted before (Redis lost its data): queue only what is not finished on disk.
        const before = await readSubmitRecord(spec.workDir);
        if (before && (before.id !== id || !samePlan(before.spec, spec))) {
          // Planned differently (another version of the product): nothing of it may be reused.
          await dropSegmentRecords(spec.workDir);
        } else if (before) {
          const done = await finishedSegments(spec);
          queued = spec.segments.filter((s) => !done.has(s.index));
          outcome = 'resumed';
          base.reused = done.size;
        }
      }
      if (queued.length === 0) {
        await this.#queue.add('join', spec, { jobId: id, attempts: spec.segments.length === 0 ? 1 : attempts, backoff });
      } else {
        await this.#flow.add({
          name: 'join',
          queueName: this.queueName,
          data: spec,
          opts: { jobId: id, attempts, backoff },
          children: queued.map((plan) => ({
            name: 'segment',
            queueName: this.queueName,
            data: segmentJobData(id, spec, plan),
            opts: { jobId: segmentJobId(id, plan.index), attempts, backoff, failParentOnFailure: true },
          })),
        });
      }
      // The durable record of what was submitted (planning errors have no work folder: nothing to resume).
      if (!spec.error && spec.segments.length > 0) await writeSubmitRecord({ v: 1, id, queue: this.queueName, at: Date.now(), spec });
      outcomes.push({ ...base, outcome });
    }
    return outcomes;
  }

  /** Status of job `id`, or undefined when there is no such job. */
  async status(id: string): Promise<JobStatus | undefined> {
    const job = await this.#queue.getJob(id);
    if (!job || job.name !== 'join') return undefined;
    return this.#statusOf(job);
  }

  /** Status of the newest jobs (at most `limit`; segment jobs share the listing, so very old jobs may not show). */
  async list(limit = 200): Promise<JobStatus[]> {
    const jobs = await this.#queue.getJobs(['active', 'waiting', 'waiting-children', 'prioritized', 'delayed', 'completed', 'failed'], 0, 4999);
    const parents = jobs.filter((j): j is Job => !!j && j.name === 'join').sort((a, b) => b.timestamp - a.timestamp).slice(0, limit);
    return Promise.all(parents.map((j) => this.#statusOf(j)));
  }

  /**
   * Jobs submitted into `outDir` (their submit records in its work folder) that Redis no longer knows:
   * Redis restarted empty, was flushed or evicted them. Each is reported `lost`, with its finished segments.
   */
  async lost(outDir: string): Promise<JobStatus[]> {
    const records = (await listSubmitRecords(outDir)).filter((r) => r.queue === this.queueName);
    const out: JobStatus[] = [];
    for (const r of records) {
      if (await this.#queue.getJob(r.id)) continue;
      out.push(await lostStatus(r));
    }
    return out;
  }

  async #statusOf(job: Job): Promise<JobStatus> {
    const spec = job.data as JobSpec;
    const queueState = await job.getState();
    const children = await Promise.all(spec.segments.map((s) => this.#queue.getJob(segmentJobId(job.id!, s.index))));
    const childStates = await Promise.all(children.map((c) => (c ? c.getState() : Promise.resolve('unknown'))));
    const failures = await this.#store.getFailures(job.id!);
    const segmentList: SegmentStatus[] = spec.segments.map((plan, i) => {
      const c = children[i];
      const state = childStates[i]!;
      const failure = c?.failedReason ? failures.get(plan.index) : undefined;
      const progress = (c?.progress ?? {}) as Partial<{ frames: number; fps: number }>;
      const frames = state === 'completed' ? ((c?.returnvalue as SegmentRecord | null)?.frames ?? 0) : state === 'active' ? (progress.frames ?? 0) : 0;
      return {
        index: plan.index,
        state,
        frames,
        expected: plan.frameCount,
        fps: state === 'active' && typeof progress.fps === 'number' ? progress.fps : null,
        worker: c?.processedBy ?? null,
        attempts: c?.attemptsMade ?? 0,
        stalls: c?.stalledCounter ?? 0,
        reason: failure ? describeError(failure.error) : c?.failedReason || null,
        error: failure?.error ?? null,
      };
    });
    const done = segmentList.filter((s) => s.state === 'completed').length;
    const running = segmentList.filter((s) => s.state === 'active').length;
    const failedSegs = segmentList.filter((s) => s.state === 'failed');
    let state: JobStatus['state'];
    if (queueState === 'completed') state = 'completed';
    else if (queueState === 'failed') state = 'failed';
    else if (queueState === 'waiting-children') state = running + done > 0 ? 'running' : 'queued';
    else if (queueState === 'unknown') state = 'unknown';
    else state = spec.error ? 'queued' : 'joining';
    let reason: string | null = null;
    let error: SerializedError | null = null;
    if (state === 'failed') {
      // The segment that failed first (segments refused because the job had already failed record nothing).
      const culprit = failedSegs.filter((s) => failures.has(s.index)).sort((a, b) => failures.get(a.index)!.at - failures.get(b.index)!.at)[0];
      const joinFailure = failures.get('join');
      if (culprit) {
        error = culprit.error;
        reason = `segment ${culprit.index} of ${spec.segments.length} failed after ${culprit.attempts} attempt(s): ${culprit.reason}`;
      } else if (joinFailure || spec.error) {
        error = joinFailure?.error ?? spec.error;
        reason = describeError(error!);
      } else {
        // Nothing recorded (a worker died more often than allowed, a job removed by hand): BullMQ's own words.
        error = { code: 'E_JOB', message: job.failedReason || 'failed' };
        reason = job.failedReason || 'failed';
      }
    }
    const result = state === 'completed' ? ((job.returnvalue as JoinRecord | null) ?? null) : null;
    const framesDone = result ? result.frames : segmentList.reduce((n, s) => n + s.frames, 0);
    const total = result ? result.frames : (spec.video?.frames ?? null);
    const starts = children.map((c) => c?.processedOn).filter((t): t is number => !!t);
    const startedAt = starts.length ? Math.min(...starts) : (job.processedOn ?? null);
    const end = job.finishedOn ?? Date.now();
    const elapsed = startedAt ? Math.max(0, (end - startedAt) / 1000) : null;
    const current = segmentList.reduce((n, s) => n + (s.fps ?? 0), 0);
    const fps = current > 0 ? current : elapsed && framesDone > 0 ? framesDone / elapsed : null;
    const eta = state === 'completed' ? 0 : fps && total !== null ? Math.max(0, total - framesDone) / fps : null;
    return {
      id: job.id!,
      input: spec.input,
      output: spec.output,
      state,
      queueState,
      reason,
      error,
      segments: { total: spec.segments.length, done, running, failed: failedSegs.length },
      frames: { done: framesDone, total, exact: result ? true : (spec.video?.framesExact ?? false) },
      fps,
      etaSeconds: state === 'failed' ? null : eta,
      createdAt: iso(job.timestamp)!,
      startedAt: iso(startedAt),
      finishedAt: iso(job.finishedOn),
      elapsedSeconds: elapsed,
      workers: [...new Set(segmentList.filter((s) => s.state === 'active' && s.worker).map((s) => s.worker!))],
      result,
      segmentList,
    };
  }

  /**
   * Whether Redis answers a PING within `timeoutMs` (the client waits through reconnects, so a
   * stopped Redis would otherwise hang the check): `{ ok: false, reason }` when not.
   */
  async health(timeoutMs = 1000): Promise<{ ok: true } | { ok: false; reason: string }> {
    if (this.#redis.status !== 'ready') return { ok: false, reason: `redis not connected (${this.#redis.status}${this.#redis.lastError ? `: ${this.#redis.lastError.message}` : ''})` };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      const pong = await Promise.race([this.#redis.ping(), timeout]);
      return pong === 'PONG' ? { ok: true } : { ok: false, reason: `redis did not answer PING within ${timeoutMs} ms` };
    } catch (e) {
      return { ok: false, reason: `redis PING failed: ${(e as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Jobs (joins and segments) per BullMQ state: waiting, active, delayed, completed, failed, waiting-children. */
  async counts(): Promise<Record<string, number>> {
    return this.#queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'waiting-children', 'prioritized');
  }

  /** Closes the connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#flow.close().catch(() => undefined);
    await this.#queue.close().catch(() => undefined);
    this.#redis.disconnect();
  }
}

/** The status of a submitted job Redis no longer knows. */
async function lostStatus(r: SubmitRecord): Promise<JobStatus> {
  const { spec } = r;
  const done = await finishedSegments(spec);
  const message = `job ${r.id} was submitted but Redis no longer has it (Redis restarted empty or was flushed?); ${done.size} of ${spec.segments.length} segments are finished in ${spec.workDir}: run \`facerestore jobs submit\` with the same input and --out again to resume it`;
  const segmentList: SegmentStatus[] = spec.segments.map((plan) => ({
    index: plan.index,
    state: done.has(plan.index) ? 'completed' : 'lost',
    frames: 0,
    expected: plan.frameCount,
    fps: null,
    worker: null,
    attempts: 0,
    stalls: 0,
    reason: null,
    error: null,
  }));
  const framesDone = spec.segments.filter((s) => done.has(s.index)).reduce((n, s) => n + (s.frameCount ?? 0), 0);
  segmentList.forEach((s) => {
    if (s.state === 'completed') s.frames = s.expected ?? 0;
  });
  return {
    id: r.id,
    input: spec.input,
    output: spec.output,
    state: 'lost',
    queueState: 'missing',
    reason: message,
    error: { code: 'E_JOB', message, details: { lost: true, workDir: spec.workDir, finishedSegments: done.size, segments: spec.segments.length } },
    segments: { total: spec.segments.length, done: done.size, running: 0, failed: 0 },
    frames: { done: framesDone, total: spec.video?.frames ?? null, exact: spec.video?.framesExact ?? false },
    fps: null,
    etaSeconds: null,
    createdAt: iso(r.at)!,
    startedAt: null,
    finishedAt: null,
    elapsedSeconds: null,
    workers: [],
    result: null,
    segmentList,
  };
}

