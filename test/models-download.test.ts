import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isFaceRestoreError } from '../src/errors.ts';
import { downloadFile } from '../src/models/download.ts';
import { shared } from './helpers/paths.ts';
import { startModelServer } from './helpers/modelServer.ts';

const FIXTURE = shared('fixtures/codeformer-small/codeformer_small.pth');
const BYTES = statSync(FIXTURE).size;
const SHA = createHash('sha256').update(readFileSync(FIXTURE)).digest('hex');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fr-download-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('downloadFile against a local server', () => {
  it('downloads and verifies size and sha256, reporting progress up to the full size', async () => {
    const srv = await startModelServer({ 'm.pth': FIXTURE });
    try {
      const target = path.join(dir, 'm.pth');
      const seen: Array<[number, number | undefined]> = [];
      const r = await downloadFile({ url: `${srv.baseUrl}/m.pth`, target, bytes: BYTES, sha256: SHA, onProgress: (a, b) => seen.push([a, b]) });
      expect(r).toMatchObject({ sha256: SHA, bytes: BYTES, verified: true, resumed: false });
      expect(readFileSync(target).equals(readFileSync(FIXTURE))).toBe(true);
      expect(existsSync(`${target}.part`)).toBe(false);
      expect(seen.at(-1)).toEqual([BYTES, BYTES]);
      expect(seen.every(([, t]) => t === BYTES)).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it('a connection broken mid-file is resumed with a Range request and the file verifies', async () => {
    const srv = await startModelServer({ 'm.pth': FIXTURE }, { breakAfter: 1_000_000 });
    try {
      const target = path.join(dir, 'm.pth');
      const r = await downloadFile({ url: `${srv.baseUrl}/m.pth`, target, bytes: BYTES, sha256: SHA });
      expect(r.sha256).toBe(SHA);
      expect(readFileSync(target).equals(readFileSync(FIXTURE))).toBe(true);
      expect(srv.requests.map((q) => q.status)).toEqual([200, 206]);
      // It resumes from what reached the disk: a non-empty prefix of what the server sent before the break.
      const from = Number(/^bytes=(\d+)-$/.exec(srv.requests[1]!.range ?? '')?.[1]);
      expect(from).toBeGreaterThan(0);
      expect(from).toBeLessThanOrEqual(1_000_000);
    } finally {
      await srv.close();
    }
  });

  it('with one try a broken connection fails with E_DOWNLOAD keeping the .part; the next call resumes it', async () => {
    const srv = await startModelServer({ 'm.pth': FIXTURE }, { breakAfter: 2_000_000 });
    try {
      const target = path.join(dir, 'm.pth');
      const err = await downloadFile({ url: `${srv.baseUrl}/m.pth`, target, bytes: BYTES, sha256: SHA, attempts: 1 }).catch((e: unknown) => e);
      expect(isFaceRestoreError(err, 'E_DOWNLOAD')).toBe(true);
      expect((err as Error).message).toMatch(/connection (broken|closed).*next pull resumes/);
      const kept = statSync(`${target}.part`).size;
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThanOrEqual(2_000_000);
      expect(readFileSync(`${target}.part`).equals(readFileSync(FIXTURE).subarray(0, kept))).toBe(true);
      expect(existsSync(target)).toBe(false);
      const r = await downloadFile({ url: `${srv.baseUrl}/m.pth`, target, bytes: BYTES, sha256: SHA, attempts: 1 });
      expect(r).toMatchObject({ resumed: true, sha256: SHA });
      expect(srv.requests.at(-1)).toMatchObject({ status: 206, range: `bytes=${kept}-` });
      expect(readFileSync(target).equals(readFileSync(FIXTURE))).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it('a connection that goes silent mid-file counts as broken after the idle timeout and is resumed', async () => {
    const srv = await startModelServer({ 'm.pth': FIXTURE }, { stallAfter: 300_000 });
    try {
      const target = path.join(dir, 'm.pth');
      const r = await downloadFile({ url: `${srv.baseUrl}/m.pth`, target, bytes: BYTES, sha256: SHA, idleTimeoutMs: 300 });
      expect(r.sha256).toBe(SHA);
      expect(srv.requests.map((q) => q.status)).toEqual([200, 206]);
    } finally {
      await srv.close();
    }
  });

  it('a wrong sha256 deletes the download and says so', async () => {
    const srv = await startModelServer({ 'm.pth': FIXTURE });
    try {
      const target = path.join(dir, 'm.pth');
      const wrong = '0'.repeat(64);
      const err = await downloadFile({ url: `${srv.baseUrl}/m.pth`, target, sha256: wrong }).catch((e: unknown) => e);
      expect(isFaceRestoreError(err, 'E_DOWNLOAD')).toBe(true);
      expect((err as Error).message).toContain(`sha256 mismatch (got ${SHA}, expected ${wrong}); deleted`);
      expect(existsSync(target)).toBe(false);
      expect(existsSync(`${target}.part`)).toBe(false);
    } finally {
      await srv.close();
    }
  });

  it('a server 404 is E_DOWNLOAD naming the status, and nothing is left behind', async () => {
    const srv = await startModelServer({});
    try {
      const target = path.join(dir, 'm.pth');
      const err = await downloadFile({ url: `${srv.baseUrl}/m.pth`, target }).catch((e: unknown) => e);
      expect(isFaceRestoreError(err, 'E_DOWNLOAD')).toBe(true);
      expect((err as Error).message).toMatch(/HTTP 404/);
      expect(existsSync(`${target}.part`)).toBe(false);
    } finally {
      await srv.close();
    }
  });

  it('a server that ignores Range sends the whole file again: the part is rewritten, not appended to', async () => {
    const srv = await startModelServer({ 'm.pth': FIXTURE }, { ignoreRange: true });
    try {
      const target = path.join(dir, 'm.pth');
      writeFileSync(`${target}.part`, readFileSync(FIXTURE).subarray(0, 500_000));
      const r = await downloadFile({ url: `${srv.baseUrl}/m.pth`, target, bytes: BYTES, sha256: SHA });
      expect(srv.requests[0]).toMatchObject({ status: 200, range: 'bytes=500000-' });
      expect(r.bytes).toBe(BYTES);
      expect(readFileSync(target).equals(readFileSync(FIXTURE))).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it('a file shorter than the expected size is refused as truncated and deleted', async () => {
    const srv = await startModelServer({ 'm.pth': FIXTURE });
    try {
      const target = path.join(dir, 'm.pth');
      // The server's Content-Length already says the file is shorter than the registry size: refused before writing.
      const err = await downloadFile({ url: `${srv.baseUrl}/m.pth`, target, bytes: BYTES + 10 }).catch((e: unknown) => e);
      expect(isFaceRestoreError(err, 'E_DOWNLOAD')).toBe(true);
      expect((err as Error).message).toMatch(/announces \d+ bytes, expected/);
      // A part holding the whole (short) file: the server answers 416 to the resume, and verification finds it truncated.
      writeFileSync(`${target}.part`, readFileSync(FIXTURE));
      const err2 = await downloadFile({ url: `${srv.baseUrl}/m.pth`, target, bytes: BYTES + 10 }).catch((e: unknown) => e);
      expect((err2 as Error).message).toMatch(/truncated \(\d+ bytes, expected \d+\); deleted/);
      expect(existsSync(`${target}.part`)).toBe(false);
    } finally {
      await srv.close();
    }
  });
});
