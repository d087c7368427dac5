import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveRestorer, type I420Frame } from '../src/apps/live/liveRestorer.ts';
import type { LiveServer } from '../src/apps/live/server.ts';
import { createRestorer } from '../src/restore/createRestorer.ts';
import { RestoreService } from '../src/restore/restoreService.ts';
import { i420Layout } from '../src/util/yuv.ts';
import { launchChromium, makeY4m } from './helpers/liveBrowser.ts';
import { startLiveServer, waitFor } from './helpers/liveServer.ts';
import { shared } from './helpers/paths.ts';

// Live restoration through a restore service run apart (`facerestore restore-service`): the restore peers of one
// or several servers send their faces there over TCP instead of loading a restorer. The service here runs the
// classic restorer (CPU, deterministic), so results can be compared pixel for pixel with a peer's own restorer.
const TOKEN = 'live-service-token-0123456789';
const [W, H] = [320, 240];

/** A service with the classic restorer on `listen`. */
async function classicService(listen = 'tcp://127.0.0.1:0'): Promise<RestoreService> {
  const restorer = (await createRestorer({ kind: 'classic', intraOpThreads: 1 }))!;
  return RestoreService.start({ listen, token: TOKEN, restorer, budgetMs: 0 });
}

function restoreOne(lr: LiveRestorer, data: Uint8Array): Promise<{ frame: I420Frame; restored: boolean }> {
  return new Promise((resolve) => {
    lr.once('frame', (f, restored) => resolve({ frame: f, restored }));
    lr.push({ width: W, height: H, data: data.slice(), pts: 0 });
  });
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** This process's children whose command line matches (restore peers). */
function children(pattern: RegExp): string[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\n').filter((l) => pattern.test(l));
  } catch {
    return []; // ps exits 1 when there are none
  }
}

describe('live restorers using a restore service over TCP', () => {
  let frame: Uint8Array;
  beforeAll(() => {
    const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', shared('footage/retalk_1.mp4'), '-vf', `scale=${W}:${H}`, '-frames:v', '1', '-pix_fmt', 'yuv420p', '-f', 'rawvideo', '-'], { maxBuffer: 16 << 20 });
    frame = new Uint8Array(raw.subarray(0, i420Layout(W, H).size));
  });

  it('two streams (w 0 and 1) restored by the service equal their own restorers; while the service is down frames pass through; after its restart they are restored again', { timeout: 300_000 }, async () => {
    let service = await classicService();
    const address = service.address;
    const local = { restoreService: address, restoreServiceToken: TOKEN, restoreServiceWaitMs: 0 };
    // passthrough: a frame that cannot be restored comes out unrestored (the default, drop, would skip it).
    const opts = { budgetMs: 600_000, detectEvery: 1, onMiss: 'passthrough' as const };
    const a = await LiveRestorer.create({ pipeline: { restorer: 'classic', fidelity: 0 }, local, ...opts });
    const b = await LiveRestorer.create({ pipeline: { restorer: 'classic', fidelity: 1 }, local, ...opts });
    try {
      expect(a.restorerName).toMatch(/^service tcp:\/\/127\.0\.0\.1:\d+: classic/);
      const [ra, rb] = await Promise.all([restoreOne(a, frame), restoreOne(b, frame)]);
      expect(ra.restored && rb.restored).toBe(true);
      expect(service.stats()).toMatchObject({ clients: 2, requests: 2, faces: 2 });
      // Each stream's w reached the service: w 0 and w 1 differ.
      expect(maxDiff(ra.frame.data, rb.frame.data)).toBeGreaterThan(5);
      // The same streams with their own restorer (how a peer runs without a service): the same pixels.
      for (const [w, via] of [[0, ra], [1, rb]] as const) {
        const own = await LiveRestorer.create({ pipeline: { restorer: 'classic', fidelity: w }, local: {}, ...opts });
        try {
          const r = await restoreOne(own, frame);
          expect(r.restored).toBe(true);
          expect(maxDiff(r.frame.data, via.frame.data), `w ${w}`).toBe(0);
        } finally {
          await own.close();
        }
      }
      // The service goes away: the next frame comes out unrestored (passed through, as a late frame), not stuck.
      await service.close();
      const down = await restoreOne(a, frame);
      expect(down.restored).toBe(false);
      // Back on the same address: the client reconnects (100 ms → 5 s backoff) and frames are restored again.
      service = await classicService(address);
      await waitFor(async () => (await restoreOne(a, frame)).restored, 60_000, 'a frame restored after the service restarted');
      expect(service.stats().faces).toBeGreaterThanOrEqual(1); // restored by the new service
    } finally {
      await Promise.all([a.close(), b.close()]);
      await service.close();
    }
  });
});

type LiveState = { status: string; error?: string; restoreStats?: { restored: number; passedThrough: number } };
const state = (page: Page) => page.evaluate(() => (window as unknown as { __live: LiveState }).__live);

// Two live servers (each spawning its restore peers), one restore service: a Chromium publisher on each server.
describe('two live servers sharing one restore service (Chromium publishers)', () => {
  let dir: string;
  let browser: Browser;
  let service: RestoreService;
  const servers: LiveServer[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'live-service-'));
    const y4m = await makeY4m(shared('footage/retalk_1.mp4'), path.join(dir, 'cam.y4m'), { width: 640, height: 480, seconds: 2, still: 1 });
    service = await classicService();
    browser = await launchChromium(y4m);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    for (const s of servers) await s.close();
    await service?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a wrong token stops the server at start (E_AUTH); with the right one both servers\' streams are restored by the service', { timeout: 300_000 }, async () => {
    await expect(startLiveServer({ pipeline: { restorer: 'classic' }, restorerService: { address: service.address, token: 'not-the-service-token' } })).rejects.toMatchObject({ code: 'E_AUTH' });
    expect(service.stats().authFailures).toBe(1);
    for (let i = 0; i < 2; i++) {
      servers.push(await startLiveServer({ pipeline: { restorer: 'classic', fidelity: 0 }, restorePeers: 'spawn', latencyBudgetMs: 1500, restorerService: { address: service.address, token: TOKEN } }));
    }
    // The servers start no restorer session of their own.
    for (const s of servers) expect(s.stats().sharedRestorer).toBeUndefined();
    const contexts = await Promise.all(servers.map(() => browser.newContext()));
    try {
      const pages = await Promise.all(
        servers.map(async (s, i) => {
          const page = await contexts[i]!.newPage();
          await page.goto(s.pageUrl(`room${i}`, 'publisher') + '&width=640&height=480');
          return page;
        }),
      );
      for (const [i, page] of pages.entries()) {
        await waitFor(async () => {
          const s = await state(page);
          if (s.error) throw new Error(`page ${i}: ${s.error} (status: ${s.status})`);
          return (s.restoreStats?.restored ?? 0) >= 8;
        }, 90_000, `restored frames at publisher ${i}`);
      }
      // One restore peer per server, each connected to the one service, which restored their faces.
      expect(servers.map((s) => s.stats().restorePeerPids.length)).toEqual([1, 1]);
      const st = service.stats();
      expect(st.clients).toBe(2);
      expect(st.faces).toBeGreaterThanOrEqual(16);
    } finally {
      for (const c of contexts) await c.close();
    }
    for (const s of servers.splice(0)) await s.close();
    // The peers exited with their servers and their connections closed.
    await waitFor(() => service.stats().clients === 0, 30_000, 'the peers to disconnect from the service');
    expect(children(/restorePeerMain/)).toEqual([]);
  });
});
