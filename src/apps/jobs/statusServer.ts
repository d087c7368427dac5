import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JobQueue } from './JobQueue.ts';

/** A running status endpoint. */
export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A small read-only HTTP endpoint with the same JSON as `jobs status --json`:
 * `GET /jobs` (all jobs), `GET /jobs/<id>` (one job, 404 when unknown), `GET /healthz`.
 */
export async function startStatusServer(queue: JobQueue, o: { port: number; host?: string }): Promise<StatusServer> {
  const server = http.createServer((req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body, null, 2) + '\n');
    };
    if (req.method !== 'GET') return send(405, { error: 'only GET' });
    const url = new URL(req.url ?? '/', 'http://localhost');
    const one = /^\/jobs\/([^/]+)$/.exec(url.pathname);
    const work = url.pathname === '/healthz'
      ? Promise.resolve(send(200, { ok: true }))
      : url.pathname === '/jobs'
        ? queue.list().then((jobs) => send(200, { jobs }))
        : one
          ? queue.status(decodeURIComponent(one[1]!)).then((s) => (s ? send(200, s) : send(404, { error: `no job ${one[1]}` })))
          : Promise.resolve(send(404, { error: 'GET /jobs or /jobs/<id>' }));
    work.catch((e: Error) => send(500, { error: e.message }));
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
