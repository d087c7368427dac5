import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveServer } from '../src/apps/live/server.ts';
import { compareVideosInPage, launchChromium, makeY4m } from './helpers/liveBrowser.ts';
import { alive, startLiveServer, waitFor } from './helpers/liveServer.ts';
import { repo, shared } from './helpers/paths.ts';

/** This process's children whose command line matches (mediasoup worker, restore peers). */
function children(pattern: RegExp): string[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there are none
  }
  return out.split('\n').filter((l) => pattern.test(l));
}

type LiveState = {
  status: string;
  error?: string;
  cameraProducerId?: string;
  restoredProducerId?: string;
  faces: Array<{ trackId: number; box: { x: number; y: number; width: number; height: number }; w: number; overridden: boolean }>;
  restoreStats?: { restored: number; passedThrough: number; width: number; height: number; rtc?: Record<string, number> };
};
const state = (page: Page) => page.evaluate(() => (window as unknown as { __live: LiveState }).__live);
const restoredSize = (page: Page) =>
  page.evaluate(() => {
    const v = document.getElementById('restored') as HTMLVideoElement;
    return { w: v.videoWidth, h: v.videoHeight, t: v.currentTime };
  });

// Headless Chromium publishes a fake webcam (a still frame of a real clip, so original and restored can be
// compared pixel by pixel); a spawned restore peer restores it with the classic restorer at w = 0.
describe('live e2e: Chromium → SFU → restore peer → Chromium', () => {
  let dir: string;
  let server: LiveServer;
  let browser: Browser;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'live-e2e-'));
    const y4m = await makeY4m(shared('footage/retalk_1.mp4'), path.join(dir, 'cam.y4m'), { width: 640, height: 480, seconds: 2, still: 1 });
    // A generous budget: this checks restoration, not speed (the bench measures latency).
    server = await startLiveServer({ pipeline: { restorer: 'classic', fidelity: 0 }, restorePeers: 'spawn', latencyBudgetMs: 1500 });
    browser = await launchChromium(y4m);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('restores the publisher live, shows it to a viewer, and cleans up', async () => {
    const pubContext = await browser.newContext();
    const pub = await pubContext.newPage();
    await pub.goto(server.pageUrl('e2e', 'publisher') + '&width=640&height=480');
    await waitFor(async () => {
      const s = await state(pub);
      if (s.error) throw new Error(`page: ${s.error} (status: ${s.status})`);
      return (s.restoreStats?.restored ?? 0) >= 8 && s.faces.length > 0 && (await restoredSize(pub)).w > 0;
    }, 60_000, 'restored frames at the publisher');

    // Same resolution as published.
    const size = await restoredSize(pub);
    expect([size.w, size.h]).toEqual([640, 480]);
    const s = await state(pub);
    expect(s.restoreStats).toMatchObject({ width: 640, height: 480 });
    // The peer reports its own WebRTC delays (read from wrtc's stats once a second).
    await waitFor(async () => (await state(pub)).restoreStats?.rtc?.encodeMs !== undefined, 10_000, 'the restore peer’s WebRTC delays');
    const rtc = (await state(pub)).restoreStats!.rtc!;
    expect(rtc.jitterBufferMs).toBeGreaterThan(0);
    expect(rtc.encodeMs).toBeGreaterThan(0);
    expect(rtc.estimateKbps).toBeGreaterThan(300);

    // Inside the face the restored picture differs from the camera's; the background matches (codec noise only).
    const box = s.faces[0]!.box;
    let best = { face: 0, background: Infinity };
    for (let i = 0; i < 5; i++) {
      const cmp = await pub.evaluate(compareVideosInPage, { box });
      expect(cmp.sameSize).toBe(true);
      if (cmp.face - cmp.background > best.face - best.background) best = cmp;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(best.background).toBeLessThan(3);
    expect(best.face).toBeGreaterThan(Math.max(2.5, 2 * best.background));

    // Per-face fidelity: click the face, move its slider to 1 → the restorer reports an override for that track.
    const trackId = s.faces[0]!.trackId;
    await pub.evaluate((b) => {
      const c = document.getElementById('faces') as HTMLCanvasElement;
      const v = document.getElementById('restored') as HTMLVideoElement;
      const r = c.getBoundingClientRect();
      const scale = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
      const ox = (r.width - v.videoWidth * scale) / 2;
      const oy = (r.height - v.videoHeight * scale) / 2;
      const x = r.left + ox + (b.x + b.width / 2) * v.videoWidth * scale;
      const y = r.top + oy + (b.y + b.height / 2) * v.videoHeight * scale;
      c.dispatchEvent(new MouseEvent('click', { clientX: x, clientY: y, bubbles: true }));
      const slider = document.getElementById('face-w') as HTMLInputElement;
      slider.value = '1';
      slider.dispatchEvent(new Event('input'));
    }, box);
    await waitFor(async () => (await state(pub)).faces.some((f) => f.trackId === trackId && f.overridden && f.w > 0.05), 20_000, 'the face override');

    // A viewer in another browser context receives the same restored track.
    const viewContext = await browser.newContext();
    const viewer = await viewContext.newPage();
    await viewer.goto(server.pageUrl('e2e', 'viewer'));
    await waitFor(async () => {
      const v = await state(viewer);
      if (v.error) throw new Error(`viewer page: ${v.error}`);
      return v.restoredProducerId !== undefined && (await restoredSize(viewer)).w > 0;
    }, 30_000, 'the viewer to receive video');
    expect((await state(viewer)).restoredProducerId).toBe((await state(pub)).restoredProducerId);
    expect(await restoredSize(viewer)).toMatchObject({ w: 640, h: 480 });
    const t0 = (await restoredSize(viewer)).t;
    await waitFor(async () => (await restoredSize(viewer)).t > t0, 10_000, 'the viewer video to play');

    // Publisher leaves: its producer, the restored producer, every consumer and the restore peer go away;
    // only the mediasoup worker remains.
    const stats = server.stats();
    const peerPids = stats.restorePeerPids;
    expect(peerPids.length).toBe(1);
    expect(children(/restorePeerMain/)).toHaveLength(1);
    await pubContext.close();
    await waitFor(() => {
      const st = server.stats();
      return st.producers === 0 && st.consumers === 0 && st.restorePeerPids.length === 0 && st.jobs === 0;
    }, 15_000, 'server-side cleanup after the publisher left');
    for (const pid of peerPids) expect(alive(pid)).toBe(false);
    expect(children(/restorePeerMain/)).toEqual([]);
    expect(server.stats().members).toBe(1); // the viewer
    const workerPid = server.stats().workerPid!;
    expect(alive(workerPid)).toBe(true);
    expect(children(/mediasoup-worker/)).toHaveLength(1);

    await viewContext.close();
    await server.close();
    expect(alive(workerPid)).toBe(false);
    expect(children(/mediasoup-worker|restorePeerMain/)).toEqual([]);
  });
  it('scales out: a restore peer started with `facerestore serve --connect` serves a server with external peers', async () => {
    const ext = await startLiveServer({ restorePeers: 'external', peerToken: 'peer-secret-for-test' });
    const peer = spawn(process.execPath, [repo('bin/facerestore.mjs'), 'serve', '--connect', ext.wsUrl, '--room', 'ext', '--peer-token', 'peer-secret-for-test', '--restorer', 'none'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    peer.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const exited = new Promise<number | null>((resolve) => peer.once('exit', (code) => resolve(code)));
    const context = await browser.newContext();
    try {
      await waitFor(() => ext.stats().members === 1, 30_000, `the external restore peer to join (${stderr})`);
      const page = await context.newPage();
      await page.goto(ext.pageUrl('ext', 'publisher') + '&width=640&height=480');
      await waitFor(async () => (await restoredSize(page)).w === 640, 30_000, 'the restored track from the external peer').catch(async (e: Error) => {
        const st = await state(page).catch(() => undefined);
        throw new Error(`${e.message}; page: ${JSON.stringify({ status: st?.status, error: st?.error, camera: st?.cameraProducerId, restored: st?.restoredProducerId, stats: st?.restoreStats })}; server: ${JSON.stringify(ext.stats())}; peer stderr: ${stderr.slice(-1500)}`);
      });
      expect(ext.stats().restorePeerPids).toEqual([]); // the server started none itself
      await context.close();
      // The external peer stays for the next stream.
      await waitFor(() => ext.stats().producers === 0, 10_000, 'the producers to close');
      expect(ext.stats().members).toBe(1);
      peer.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (peer.exitCode === null) peer.kill('SIGKILL');
      await ext.close();
    }
  });
});
