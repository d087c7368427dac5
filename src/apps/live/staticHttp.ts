import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
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

/**
 * The HTTP handler of the live server: the page, its mediasoup-client bundle (at `vendorFile`), and
 * `/healthz`. GET and HEAD only (405 otherwise); a malformed request target is answered 400, an unknown
 * path 404. It never throws and never rejects: a failure reading a file is a 500.
 */
export function staticHandler(vendorFile: () => string, log: LiveLogger): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    serve(req, res, vendorFile()).catch((e: unknown) => {
      log.error({ err: (e as Error)?.message }, 'HTTP error');
      if (!res.headersSent) res.writeHead(500, SECURITY_HEADERS);
      res.end();
    });
  };
}

async function serve(req: http.IncomingMessage, res: http.ServerResponse, vendorFile: string): Promise<void> {
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
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain' }).end('ok\n');
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
