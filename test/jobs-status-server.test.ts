import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_PREFIX } from '../src/apps/jobs/queueNames.ts';
import { METRICS_CONTENT_TYPE, parseExposition } from '../src/util/metrics.ts';
import { JobQueue } from '../src/apps/jobs/JobQueue.ts';
import { startStatusServer, type StatusServer } from '../src/apps/jobs/statusServer.ts';
import { BROKEN_TARGETS, getRequest, rawRequest, statusOf } from './helpers/rawHttp.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';

// `facerestore jobs serve`'s endpoint against a real Redis: no request target or job id takes it down.
describe('jobs status server', () => {
  let redis: TestRedis;
  let queue: JobQueue;
  let server: StatusServer;
  let port: number;

  beforeAll(async () => {
    redis = await startRedis();
    queue = await JobQueue.create({ redisUrl: redis.url, queueName: 'status-server' });
    server = await startStatusServer(queue, { port: 0 });
    port = Number(new URL(server.url).port);
  });
  afterAll(async () => {
    await server?.close();
    await queue?.close();
    await redis?.stop();
  });

  it('answers the routes it has', async () => {
    expect(await (await fetch(server.url + '/healthz')).json()).toEqual({ ok: true });
    expect(await (await fetch(server.url + '/jobs')).json()).toEqual({ jobs: [] });
    const none = await fetch(server.url + '/jobs/no-such-job');
    expect(none.status).toBe(404);
    expect(await none.json()).toEqual({ error: 'no job no-such-job' });
    expect((await fetch(server.url + '/jobs', { method: 'POST' })).status).toBe(405);
    expect((await fetch(server.url + '/elsewhere')).status).toBe(404);
  });

  it('answers malformed request targets and job ids with 400 and keeps serving', async () => {
    for (const target of BROKEN_TARGETS) expect(statusOf(await rawRequest(port, getRequest(target))), target).toBe(400);
    // A broken escape in the target, and escapes that are well formed but not UTF-8 (decodeURIComponent throws).
    expect(statusOf(await rawRequest(port, getRequest('/jobs/%E0%A4%A')))).toBe(400);
    expect(statusOf(await rawRequest(port, getRequest('/jobs/%zz')))).toBe(400);
    const notUtf8 = await rawRequest(port, getRequest('/jobs/%E0%A4'));
    expect(statusOf(notUtf8)).toBe(400);
    expect(notUtf8).toContain('malformed job id');
    // A well-formed escape is decoded: an unknown id is a 404.
    expect(statusOf(await rawRequest(port, getRequest('/jobs/a%20b')))).toBe(404);
    const health = await fetch(server.url + '/healthz');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
  });
});

// GET /metrics reads the queue's depth from Redis; GET /healthz is a 503 with the reason once Redis is gone.
describe('jobs status server metrics and health', () => {
  let redis: TestRedis;
  let queue: JobQueue;
  let server: StatusServer;

  beforeAll(async () => {
    redis = await startRedis();
    queue = await JobQueue.create({ redisUrl: redis.url, queueName: 'status-metrics' });
    server = await startStatusServer(queue, { port: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await queue?.close();
    await redis?.stop();
  });

  const waiting = async () => {
    const res = await fetch(server.url + '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(METRICS_CONTENT_TYPE);
    const samples = parseExposition(await res.text());
    return samples.find((s) => s.name === 'facerestore_queue_jobs' && s.labels.state === 'waiting')?.value;
  };

  it('exposes the queue depth, which moves when a job is queued', async () => {
    expect(await waiting()).toBe(0);
    const raw = new Queue('status-metrics', { connection: { host: '127.0.0.1', port: redis.port }, prefix: QUEUE_PREFIX });
    try {
      await raw.add('segment', { n: 1 });
      await raw.add('segment', { n: 2 });
    } finally {
      await raw.close();
    }
    expect(await waiting()).toBe(2);
  });

  it('answers /healthz 503 with a JSON reason when Redis is stopped', async () => {
    const ok = await fetch(server.url + '/healthz');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true });
    await redis.stop();
    const down = await fetch(server.url + '/healthz');
    expect(down.status).toBe(503);
    const body = (await down.json()) as { ok: boolean; reason: string };
    expect(body.ok).toBe(false);
    expect(body.reason).toMatch(/redis/);
    expect((await fetch(server.url + '/metrics')).status).toBe(503);
  });
});
