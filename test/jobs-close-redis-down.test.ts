import { afterEach, describe, expect, it } from 'vitest';
import { JobWorker } from '../src/apps/jobs/JobWorker.ts';
import type { Logger } from '../src/util/logger.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';

/**
 * JobWorker.close() and shutdown() with Redis gone (a real redis-server, stopped under a connected worker):
 * BullMQ's close waits for Redis forever; the worker drops its connections after closeGraceMs of Redis
 * being unreachable, so the process can exit. A hang fails the test by its timeout.
 */

/** A logger keeping the warning messages. */
function recorder(warnings: string[]): Logger {
  const log: Logger = { debug() {}, info() {}, warn: (_, m) => void warnings.push(m), error() {}, child: () => log };
  return log;
}

let redis: TestRedis | undefined;
afterEach(async () => {
  await redis?.stop();
  redis = undefined;
});

describe('JobWorker close with Redis down', () => {
  for (const how of ['close', 'shutdown'] as const) {
    it(`${how}() returns after the grace when Redis stopped under it, and its health says why`, async () => {
      redis = await startRedis();
      const warnings: string[] = [];
      const log = recorder(warnings);
      const worker = await JobWorker.create({ redisUrl: redis.url, queueName: `down-${how}`, name: `down-${how}`, closeGraceMs: 300, log });
      expect(worker.health()).toEqual({ ok: true });
      await redis.stop();
      redis = undefined;
      await worker[how]();
      expect(worker.health().ok).toBe(false);
      expect(warnings.some((m) => /dropping the Redis connections/.test(m))).toBe(true);
      // Idempotent once closed.
      await worker.close();
    }, 20_000);
  }

  it('close() with Redis up closes gracefully, without dropping connections', async () => {
    redis = await startRedis();
    const warnings: string[] = [];
    const log = recorder(warnings);
    const worker = await JobWorker.create({ redisUrl: redis.url, queueName: 'up', name: 'up', closeGraceMs: 300, log });
    await worker.close();
    expect(warnings.filter((m) => /dropping/.test(m))).toEqual([]);
  }, 20_000);
});
