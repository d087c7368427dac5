/**
 * HTTP(S) download of a model file: resumable (`<target>.part` plus Range requests), with a progress
 * callback, and verified by size and sha256 before it is renamed into place. A file that fails
 * verification is deleted and the error (E_DOWNLOAD) says so.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FaceRestoreError } from '../errors.ts';
import { sha256File } from './checkpoint.ts';

/** Options for {@link downloadFile}. */
export interface DownloadOptions {
  url: string;
  /** Final path; the transfer goes to `<target>.part` until verified. */
  target: string;
  /** Expected size in bytes, when known. */
  bytes?: number | undefined;
  /** Expected sha256 (hex), when known. */
  sha256?: string | undefined;
  /** Bytes on disk so far and the expected total (undefined when the server does not say). */
  onProgress?: (received: number, total: number | undefined) => void;
  /** Tries in all, each resuming where the last stopped. Default 3. */
  attempts?: number;
  /** A connection silent this long counts as broken (and is retried). Default 60 000 ms. */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

/** What {@link downloadFile} wrote. */
export interface DownloadResult {
  path: string;
  sha256: string;
  bytes: number;
  /** True when the expected sha256 was given and matched; false when there was none to check. */
  verified: boolean;
  /** True when some bytes came from an earlier, interrupted transfer. */
  resumed: boolean;
}

const MAX_REDIRECTS = 5;

/** Size of `file`, or 0 when it does not exist. */
async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** GET `url` with optional Range start, following redirects; resolves with the response (not yet read). */
function request(url: string, from: number, signal: AbortSignal | undefined, idleMs: number, redirects = 0): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new FaceRestoreError('E_DOWNLOAD', `not a valid URL: ${url}`));
      return;
    }
    const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : undefined;
    if (!client) {
      reject(new FaceRestoreError('E_DOWNLOAD', `unsupported protocol in ${url} (expected http or https)`));
      return;
    }
    const headers: Record<string, string> = { 'user-agent': 'facerestore', accept: '*/*' };
    if (from > 0) headers.range = `bytes=${from}-`;
    const req = client.get(parsed, { headers, signal }, (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) {
          reject(new FaceRestoreError('E_DOWNLOAD', `${url}: more than ${MAX_REDIRECTS} redirects`));
          return;
        }
        request(new URL(res.headers.location, parsed).toString(), from, signal, idleMs, redirects + 1).then(resolve, reject);
        return;
      }
      resolve(res);
    });
    req.setTimeout(idleMs, () => req.destroy(new Error(`no data for ${idleMs / 1000} s`)));
    req.on('error', (e) => reject(new FaceRestoreError('E_DOWNLOAD', `${url}: ${e.message}`, { cause: e })));
  });
}

/** Start offset of a 206 response's Content-Range (`bytes 100-199/200`), or undefined. */
function rangeStart(res: http.IncomingMessage): number | undefined {
  const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
  return m ? Number(m[1]) : undefined;
}

/** Total size a response announces (Content-Range total for 206, Content-Length for 200). */
function announcedTotal(res: http.IncomingMessage, from: number): number | undefined {
  if (res.statusCode === 206) {
    const m = /\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
    if (m) return Number(m[1]);
  }
  const len = Number(res.headers['content-length']);
  return Number.isFinite(len) && res.headers['content-length'] !== undefined ? from + len : undefined;
}

/** One transfer into `part` from where it stops; throws on a broken connection (the part keeps its bytes). */
async function transferOnce(o: DownloadOptions, part: string): Promise<void> {
  let from = await sizeOf(part);
  if (o.bytes !== undefined && from >= o.bytes) {
    if (from === o.bytes) return; // complete from an earlier try; verification decides
    await rm(part, { force: true });
    from = 0;
  }
  const res = await request(o.url, from, o.signal, o.idleTimeoutMs ?? 60_000);
  const status = res.statusCode ?? 0;
  if (status === 416 && from > 0) {
    // The part is at least as long as the file: let verification judge it, or start over if it is too long.
    res.resume();
    return;
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw new FaceRestoreError('E_DOWNLOAD', `${o.url}: HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, { details: { status, url: o.url } });
  }
  let append = false;
  if (status === 206) {
    if (rangeStart(res) !== from) {
      res.resume();
      throw new FaceRestoreError('E_DOWNLOAD', `${o.url}: server answered a different range (${String(res.headers['content-range'])}) than asked (from ${from})`);
    }
    append = true;
  } else {
    from = 0; // the server ignored the Range header (or there was none): the body is the whole file
  }
  const total = announcedTotal(res, from) ?? o.bytes;
  if (o.bytes !== undefined && total !== undefined && total !== o.bytes) {
    res.resume();
    throw new FaceRestoreError('E_DOWNLOAD', `${o.url}: server announces ${total} bytes, expected ${o.bytes}`, { details: { url: o.url, announced: total, expected: o.bytes } });
  }
  let received = from;
  o.onProgress?.(received, total);
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      o.onProgress?.(received, total);
      done(null, chunk);
    },
  });
  try {
    await pipeline(res, counter, createWriteStream(part, { flags: append ? 'a' : 'w' }));
  } catch (e) {
    if (o.signal?.aborted) throw o.signal.reason ?? e;
    throw new FaceRestoreError('E_DOWNLOAD', `${o.url}: connection broken after ${received} bytes: ${(e as Error).message}`, { cause: e, details: { url: o.url, received } });
  }
  if (total !== undefined && received < total) {
    throw new FaceRestoreError('E_DOWNLOAD', `${o.url}: connection closed after ${received} of ${total} bytes`, { details: { url: o.url, received, total } });
  }
}

/**
 * Downloads `url` to `target`, resuming a `<target>.part` left by an earlier run, retrying a broken
 * connection up to `attempts` times (each resuming), then checking size and sha256. A file that does
 * not match is deleted, and the E_DOWNLOAD error says it was.
 */
export async function downloadFile(o: DownloadOptions): Promise<DownloadResult> {
  const part = `${o.target}.part`;
  const resumed = (await sizeOf(part)) > 0;
  const attempts = Math.max(1, o.attempts ?? 3);
  for (let i = 1; ; i++) {
    try {
      await transferOnce(o, part);
      break;
    } catch (e) {
      const retryable = e instanceof FaceRestoreError && e.code === 'E_DOWNLOAD' && /connection (broken|closed)/.test(e.message);
      if (!retryable || i >= attempts) {
        if (retryable) throw new FaceRestoreError('E_DOWNLOAD', `${e.message} (gave up after ${attempts} tries; ${part} is kept and the next pull resumes it)`, { cause: e, details: e.details });
        throw e;
      }
    }
  }
  const got = await sha256File(part);
  if (o.bytes !== undefined && got.bytes !== o.bytes) {
    await rm(part, { force: true });
    const what = got.bytes < o.bytes ? 'truncated' : 'too long';
    throw new FaceRestoreError('E_DOWNLOAD', `${o.url}: downloaded file is ${what} (${got.bytes} bytes, expected ${o.bytes}); deleted it`, {
      details: { url: o.url, bytes: got.bytes, expected: o.bytes },
    });
  }
  if (o.sha256 !== undefined && got.sha256 !== o.sha256.toLowerCase()) {
    await rm(part, { force: true });
    throw new FaceRestoreError('E_DOWNLOAD', `${o.url}: sha256 mismatch (got ${got.sha256}, expected ${o.sha256}); deleted the download`, {
      details: { url: o.url, sha256: got.sha256, expected: o.sha256 },
    });
  }
  await rename(part, o.target);
  return { path: o.target, sha256: got.sha256, bytes: got.bytes, verified: o.sha256 !== undefined, resumed };
}
