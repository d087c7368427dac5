import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { METRICS_CONTENT_TYPE } from '../../util/metrics.ts';
import { parseRequestTarget } from '../../util/requestTarget.ts';
import type { LiveLogger } from './logger.ts';
import { WEB_DIR } from './webBundle.ts';

/** Headers on every answer: a strict CSP (the page has no inline code), no sniffing, no referrer, no caching. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'Cache-Control': 'no-store',
});

/** The page's files: a fixed table, so no request path ever reaches the file system. */
const STATIC_FILES: Readonly<Record<string, { file: string; type: string }>> = Object.freeze({
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
});

/** Path of the page's mediasoup-client bundle. */
const VENDOR_PATH = '/vendor/mediasoup-client.js';

/** What `/healthz` and `/metrics` answer from. */
export interface LiveProbes {
  health(): { ok: true } | { ok: false; reason: string };
  /** Prometheus text (format 0.0.4). */
  metrics(): Promise<string>;
}

const NO_PROBES: LiveProbes = { health: () => ({ ok: true }), metrics: async () => '' };

/**
 * The HTTP handler of the live server: the page, its mediasoup-client bundle (at `vendorFile`),
 * `/healthz` (200 `{ ok: true }`, or 503 `{ ok: false, reason }`) and `/metrics`. GET and HEAD only (405 otherwise); a malformed request target is answered 400, an unknown
 * path 404. It never throws and never rejects: a failure reading a file is a 500.
 */
export function staticHandler(vendorFile: () => string, log: LiveLogger, probes: LiveProbes = NO_PROBES): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    serve(req, res, vendorFile(), probes).catch((e: unknown) => {
      log.error({ err: (e as Error)?.message }, 'HTTP error');
      if (!res.headersSent) res.writeHead(500, SECURITY_HEADERS);
      res.end();
    });
  };
}

async function serve(req: http.IncomingMessage, res: http.ServerResponse, vendorFile: string, probes: LiveProbes): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, SECURITY_HEADERS).end();
    return;
  }
  const target = parseRequestTarget(req.url);
  if (!target) {
    res.writeHead(400, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain' }).end('bad request target\n');
    return;
  }
  const pathname = target.pathname;
  if (pathname === '/favicon.ico') {
    res.writeHead(204, SECURITY_HEADERS).end();
    return;
  }
  if (pathname === '/healthz') {
    const h = probes.health();
    res.writeHead(h.ok ? 200 : 503, { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : JSON.stringify(h) + '\n');
    return;
  }
  if (pathname === '/metrics') {
    const text = await probes.metrics();
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': METRICS_CONTENT_TYPE }).end(req.method === 'HEAD' ? undefined : text);
    return;
  }
  const entry = Object.hasOwn(STATIC_FILES, pathname) ? STATIC_FILES[pathname] : undefined;
  const file = pathname === VENDOR_PATH ? { path: vendorFile, type: 'text/javascript; charset=utf-8' } : entry && { path: path.join(WEB_DIR, entry.file), type: entry.type };
  if (!file) {
    res.writeHead(404, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain' }).end('not found\n');
    return;
  }
  const body = await readFile(file.path);
  res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': file.type, 'Content-Length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}
