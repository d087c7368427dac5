import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodePathSegment, parseRequestTarget } from '../../util/requestTarget.ts';
import { METRICS_CONTENT_TYPE, MetricsRegistry } from '../../util/metrics.ts';
import type { JobQueue } from './JobQueue.ts';

/** A running status endpoint. */
export interface StatusServer {
  url: string;
  /** This server's own registry (one per instance). */
  metrics: MetricsRegistry;
  close(): Promise<void>;
}

/** The queue's metrics: jobs per state (segments included; `active` is the active segments and joins). */
export function queueMetrics(queue: Pick<JobQueue, 'counts'>, registry = new MetricsRegistry()): MetricsRegistry {
  const depth = registry.gauge({ name: 'facerestore_queue_jobs', help: 'Jobs in the queue by BullMQ state (segments and joins; autoscale on state="waiting").', labelNames: ['state'] });
  registry.onCollect(async () => {
    for (const [state, n] of Object.entries(await queue.counts())) depth.set(n, { state });
  });
  return registry;
}

/**
 * A small read-only HTTP endpoint with the same JSON as `jobs status --json`:
 * `GET /jobs` (all jobs), `GET /jobs/<id>` (one job, 404 when unknown), `GET /metrics` (Prometheus text),
 * `GET /healthz` (200 `{ ok: true }` when Redis answers a PING, 503 `{ ok: false, reason }` when not).
 * No request can take it down: a malformed target or job id is a 400, a failing queue a 500.
 */
export async function startStatusServer(queue: JobQueue, o: { port: number; host?: string; metrics?: MetricsRegistry }): Promise<StatusServer> {
  const metrics = queueMetrics(queue, o.metrics);
  const server = http.createServer((req, res) => {
    const send = (code: number, body: unknown) => {
      if (res.headersSent) return void res.end();
      if (typeof body === 'string') {
        res.writeHead(code, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' });
        return void res.end(body);
      }
      res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body, null, 2) + '\n');
    };
    answer(queue, metrics, req, send).catch((e: unknown) => send(500, { error: (e as Error)?.message ?? String(e) }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    metrics,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function answer(queue: JobQueue, metrics: MetricsRegistry, req: http.IncomingMessage, send: (code: number, body: unknown) => void): Promise<void> {
  if (req.method !== 'GET') return send(405, { error: 'only GET' });
  const target = parseRequestTarget(req.url);
  if (!target) return send(400, { error: 'malformed request target' });
  const { pathname } = target;
  if (pathname === '/healthz') {
    const h = await queue.health();
    return send(h.ok ? 200 : 503, h);
  }
  if (pathname === '/metrics') {
    const h = await queue.health();
    if (!h.ok) return send(503, h);
    return send(200, await metrics.expose());
  }
  if (pathname === '/jobs') return send(200, { jobs: await queue.list() });
  const one = /^\/jobs\/([^/]+)$/.exec(pathname);
  if (!one) return send(404, { error: 'GET /jobs or /jobs/<id>' });
  const id = decodePathSegment(one[1]!);
  if (id === undefined) return send(400, { error: 'malformed job id (its percent-escapes are not UTF-8)' });
  const status = await queue.status(id);
  return status ? send(200, status) : send(404, { error: `no job ${id}` });
}
