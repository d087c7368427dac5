import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { METRICS_CONTENT_TYPE, type MetricsRegistry } from './metrics.ts';
import { parseRequestTarget } from './requestTarget.ts';

/** A running metrics endpoint. */
export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A small HTTP port for a process with no HTTP of its own (`jobs worker --metrics-port`): `GET /metrics`
 * (Prometheus text) and `GET /healthz` (200 `{ ok: true }` or 503 `{ ok: false, reason }`); 404 otherwise.
 */
export async function startMetricsServer(o: { port: number; host?: string; metrics: MetricsRegistry; health: () => { ok: true } | { ok: false; reason: string } }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const json = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(body) + '\n');
    const target = parseRequestTarget(req.url);
    if (req.method !== 'GET') return void json(405, { error: 'only GET' });
    if (!target) return void json(400, { error: 'malformed request target' });
    if (target.pathname === '/healthz') {
      const h = o.health();
      return void json(h.ok ? 200 : 503, h);
    }
    if (target.pathname !== '/metrics') return void json(404, { error: 'GET /metrics or /healthz' });
    o.metrics.expose().then(
      (text) => res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' }).end(text),
      (e: unknown) => json(503, { ok: false, reason: `metrics unavailable: ${(e as Error)?.message ?? String(e)}` }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
