import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodePathSegment, parseRequestTarget } from '../../util/requestTarget.ts';
import type { JobQueue } from './JobQueue.ts';

/** A running status endpoint. */
export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A small read-only HTTP endpoint with the same JSON as `jobs status --json`:
 * `GET /jobs` (all jobs), `GET /jobs/<id>` (one job, 404 when unknown), `GET /healthz`.
 * No request can take it down: a malformed target or job id is a 400, a failing queue a 500.
 */
export async function startStatusServer(queue: JobQueue, o: { port: number; host?: string }): Promise<StatusServer> {
  const server = http.createServer((req, res) => {
    const send = (code: number, body: unknown) => {
      if (res.headersSent) return void res.end();
      res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body, null, 2) + '\n');
    };
    answer(queue, req, send).catch((e: unknown) => send(500, { error: (e as Error)?.message ?? String(e) }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function answer(queue: JobQueue, req: http.IncomingMessage, send: (code: number, body: unknown) => void): Promise<void> {
  if (req.method !== 'GET') return send(405, { error: 'only GET' });
  const target = parseRequestTarget(req.url);
  if (!target) return send(400, { error: 'malformed request target' });
  const { pathname } = target;
  if (pathname === '/healthz') return send(200, { ok: true });
  if (pathname === '/jobs') return send(200, { jobs: await queue.list() });
  const one = /^\/jobs\/([^/]+)$/.exec(pathname);
  if (!one) return send(404, { error: 'GET /jobs or /jobs/<id>' });
  const id = decodePathSegment(one[1]!);
  if (id === undefined) return send(400, { error: 'malformed job id (its percent-escapes are not UTF-8)' });
  const status = await queue.status(id);
  return status ? send(200, status) : send(404, { error: `no job ${id}` });
}
