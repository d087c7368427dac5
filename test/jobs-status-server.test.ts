import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
