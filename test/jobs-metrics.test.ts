import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobQueue } from '../src/apps/jobs/JobQueue.ts';
import { JobWorker } from '../src/apps/jobs/JobWorker.ts';
import { planJob } from '../src/apps/jobs/planJob.ts';
import { toPortableOptions } from '../src/engine/options.ts';
import { parseExposition, type Sample } from '../src/util/metrics.ts';
import { startMetricsServer, type MetricsServer } from '../src/util/metricsServer.ts';
import { shared } from './helpers/paths.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';

// `jobs worker --metrics-port`: a real worker on a real Redis restores a real clip; its counters move; /healthz is 503 once Redis is gone.
describe('jobs worker metrics and health', () => {
  let redis: TestRedis;
  let restarted: TestRedis | undefined;
  let queue: JobQueue;
  let worker: JobWorker;
  let server: MetricsServer;
  let outDir: string;

  beforeAll(async () => {
    redis = await startRedis();
    outDir = await mkdtemp(path.join(os.tmpdir(), 'fr-jobs-metrics-'));
    queue = await JobQueue.create({ redisUrl: redis.url, queueName: 'metrics' });
    worker = await JobWorker.create({ redisUrl: redis.url, queueName: 'metrics', name: 'metrics-worker', stalledIntervalMs: 5000 });
    server = await startMetricsServer({ port: 0, metrics: worker.metrics, health: () => worker.health() });
  });
  afterAll(async () => {
    await server?.close();
    await worker?.close();
    await queue?.close();
    await redis?.stop();
    await restarted?.stop();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  const scrape = async (): Promise<Sample[]> => {
    const res = await fetch(server.url + '/metrics');
    expect(res.status).toBe(200);
    return parseExposition(await res.text());
  };
  const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

  it('counts frames, faces, restore calls, model loads and finished jobs after a job ran', { timeout: 240_000 }, async () => {
    const before = await scrape();
    expect(value(before, 'facerestore_frames_total')).toBe(0);
    expect(value(before, 'facerestore_restore_seconds_count')).toBe(0);
    expect((await fetch(server.url + '/healthz')).status).toBe(200);

    const planned = await planJob(shared('footage/retalk_2.mp4'), {
      outDir,
      pipeline: toPortableOptions({ restorer: 'classic' }),
      encode: { codec: 'libx264', crf: 28, preset: 'ultrafast', deterministic: true },
      segmentSeconds: 100,
      warmupSeconds: 1,
    });
    await queue.submit([planned]);
    let state = '';
    while (state !== 'completed' && state !== 'failed') {
      await new Promise((r) => setTimeout(r, 250));
      state = (await queue.status(planned.id))?.state ?? '';
    }
    expect(state).toBe('completed');

    const after = await scrape();
    expect(value(after, 'facerestore_frames_total')).toBe(125);
    expect(value(after, 'facerestore_segments_total')).toBe(1);
    expect(value(after, 'facerestore_jobs_finished_total', { kind: 'segment', result: 'completed' })).toBe(1);
    expect(value(after, 'facerestore_jobs_finished_total', { kind: 'join', result: 'completed' })).toBe(1);
    const calls = value(after, 'facerestore_restore_seconds_count')!;
    expect(calls).toBeGreaterThan(0);
    expect(value(after, 'facerestore_restore_batch_faces_count')).toBe(calls);
    // Every face that went through the restorer is in the batch histogram's sum.
    expect(value(after, 'facerestore_faces_restored_total')).toBe(value(after, 'facerestore_restore_batch_faces_sum'));
    expect(value(after, 'facerestore_faces_restored_total')).toBeGreaterThanOrEqual(calls);
    expect(value(after, 'facerestore_model_load_seconds_count')).toBe(1);
    expect(value(after, 'facerestore_worker_active_jobs', { kind: 'segment' })).toBe(0);
    expect(value(after, 'facerestore_queue_jobs', { state: 'completed' })).toBe(2);
    expect(value(after, 'facerestore_queue_jobs', { state: 'waiting' })).toBe(0);
  });

  it('answers /healthz 503 with the reason when Redis is stopped, and 200 again once it is back', { timeout: 60_000 }, async () => {
    await redis.stop();
    // ioredis notices the closed socket asynchronously; health reads its connection state.
    let res = await fetch(server.url + '/healthz');
    while (res.status === 200) {
      await new Promise((r) => setTimeout(r, 50));
      res = await fetch(server.url + '/healthz');
    }
    expect(res.status).toBe(503);
    const body = (await res.json()) as { ok: boolean; reason: string };
    expect(body.ok).toBe(false);
    expect(body.reason).toMatch(/^redis not connected/);
    // Redis back on the same port: the worker reconnects by itself.
    restarted = await startRedis({ port: redis.port });
    while ((await fetch(server.url + '/healthz')).status !== 200) await new Promise((r) => setTimeout(r, 100));
    expect(await (await fetch(server.url + '/healthz')).json()).toEqual({ ok: true });
  });
});
