import type { Redis } from 'ioredis';
import { failureRecordSchema, joinRecordSchema, segmentRecordSchema, type FailureRecord, type JoinRecord, type SegmentRecord } from './jobData.ts';

/** Which part of a job a failure record is about: a segment's index, or the join. */
export type FailureKey = number | 'join';

/** How long result records outlive their last write (they only matter while a job runs or is retried). */
const RECORD_TTL_SECONDS = 30 * 24 * 3600;

/**
 * Durable results in Redis, beside the queue's own keys: one hash per job with a record per finished
 * segment, and one record per finished join. A record is written only after its file is complete and
 * renamed into place, so "record present and file of that size present" means "done": a retry skips it.
 * Failures are kept the same way (one hash per job, a typed error per segment or join) so that status
 * shows the error as it was raised, code and details included, never a reason parsed back from text.
 */
export class JobStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  /** `prefix` is the queue's key prefix (e.g. `bull:facerestore`); records live under `<prefix>:fr:`. */
  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = `${prefix}:fr`;
  }

  #segKey(jobId: string): string {
    return `${this.#prefix}:${jobId}:segments`;
  }

  #joinKey(jobId: string): string {
    return `${this.#prefix}:${jobId}:joined`;
  }

  #failKey(jobId: string): string {
    return `${this.#prefix}:${jobId}:failures`;
  }

  async putFailure(jobId: string, key: FailureKey, record: FailureRecord): Promise<void> {
    const k = this.#failKey(jobId);
    await this.#redis.multi().hset(k, String(key), JSON.stringify(record)).expire(k, RECORD_TTL_SECONDS).exec();
  }

  /** Every failure recorded for the job, by segment index or `join`. */
  async getFailures(jobId: string): Promise<Map<FailureKey, FailureRecord>> {
    const all = await this.#redis.hgetall(this.#failKey(jobId));
    const out = new Map<FailureKey, FailureRecord>();
    for (const [field, raw] of Object.entries(all)) {
      const r = parseRecord(raw, failureRecordSchema);
      if (r) out.set(field === 'join' ? 'join' : Number(field), r);
    }
    return out;
  }

  async dropFailures(jobId: string): Promise<void> {
    await this.#redis.del(this.#failKey(jobId));
  }

  async getSegment(jobId: string, index: number): Promise<SegmentRecord | undefined> {
    const raw = await this.#redis.hget(this.#segKey(jobId), String(index));
    return parseRecord(raw, segmentRecordSchema);
  }

  async putSegment(jobId: string, record: SegmentRecord): Promise<void> {
    const key = this.#segKey(jobId);
    await this.#redis.multi().hset(key, String(record.index), JSON.stringify(record)).expire(key, RECORD_TTL_SECONDS).exec();
  }

  async dropSegments(jobId: string): Promise<void> {
    await this.#redis.del(this.#segKey(jobId));
  }

  async getJoin(jobId: string): Promise<JoinRecord | undefined> {
    return parseRecord(await this.#redis.get(this.#joinKey(jobId)), joinRecordSchema);
  }

  async putJoin(jobId: string, record: JoinRecord): Promise<void> {
    await this.#redis.set(this.#joinKey(jobId), JSON.stringify(record), 'EX', RECORD_TTL_SECONDS);
  }

  async dropJoin(jobId: string): Promise<void> {
    await this.#redis.del(this.#joinKey(jobId));
  }
}

/** A stored record, or undefined when absent or unreadable (an unreadable record means "redo"). */
function parseRecord<T>(raw: string | null, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): T | undefined {
  if (!raw) return undefined;
  try {
    const r = schema.safeParse(JSON.parse(raw));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
