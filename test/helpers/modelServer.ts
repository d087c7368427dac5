import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the local model server misbehaves. */
export interface ServerBehaviour {
  /** Cut the connection after this many body bytes on the first `breakTimes` requests (Content-Length still the full size). */
  breakAfter?: number;
  breakTimes?: number;
  /** On the first request, send this many body bytes and then go silent (connection left open). */
  stallAfter?: number;
  /** Answer every request with the whole file (200), ignoring Range. */
  ignoreRange?: boolean;
}

/** A local HTTP server for model files: `/<name>` serves `files[name]`, with Range support; anything else is 404. */
export async function startModelServer(files: Record<string, string>, behaviour: ServerBehaviour = {}) {
  const bodies = new Map(Object.entries(files).map(([name, file]) => [name, readFileSync(file)]));
  const requests: Array<{ path: string; range: string | undefined; status: number }> = [];
  let broken = 0;
  let stalled = false;
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').slice(1));
    const body = bodies.get(name);
    const range = req.headers.range;
    if (!body) {
      requests.push({ path: name, range, status: 404 });
      res.writeHead(404).end('not found');
      return;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(range ?? '');
    if (m && !behaviour.ignoreRange) start = Number(m[1]);
    if (start >= body.length) {
      requests.push({ path: name, range, status: 416 });
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    const status = start > 0 ? 206 : 200;
    requests.push({ path: name, range, status });
    const headers: Record<string, string | number> = { 'content-length': body.length - start, 'accept-ranges': behaviour.ignoreRange ? 'none' : 'bytes' };
    if (status === 206) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(status, headers);
    if (behaviour.stallAfter !== undefined && !stalled) {
      stalled = true;
      res.write(body.subarray(start, start + behaviour.stallAfter));
      return;
    }
    if (behaviour.breakAfter !== undefined && broken < (behaviour.breakTimes ?? 1)) {
      broken++;
      res.write(body.subarray(start, start + behaviour.breakAfter), () => res.socket?.destroy());
      return;
    }
    res.end(body.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
