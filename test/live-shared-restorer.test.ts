import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveRestorer, type I420Frame } from '../src/apps/live/liveRestorer.ts';
import { startSharedRestorer } from '../src/apps/live/sharedRestorer.ts';
import { parsePortableOptions } from '../src/engine/options.ts';
import { i420Layout } from '../src/util/yuv.ts';
import { shared } from './helpers/paths.ts';
import { startLiveServer } from './helpers/liveServer.ts';

// Live mode with the server's shared restorer: each stream's LiveRestorer (its own worker thread, detector and
// tracker, as in a restore peer process) sends its faces to one CodeFormer session (the fixture, CPU provider,
// forced with mode 'on'), which batches them across the streams.
const MODEL = shared('fixtures/codeformer-small/codeformer_small.pth');
const [W, H] = [320, 240];
let cacheDir: string;
let frame: Uint8Array;
beforeAll(async () => {
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'fr-shared-'));
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', shared('footage/retalk_1.mp4'), '-vf', `scale=${W}:${H}`, '-frames:v', '1', '-pix_fmt', 'yuv420p', '-f', 'rawvideo', '-'], { maxBuffer: 16 << 20 });
  frame = new Uint8Array(raw.subarray(0, i420Layout(W, H).size));
});
afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

/** Pushes one frame and waits for it to come out. */
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

describe('shared restorer for live streams', () => {
  it('auto: no service on the CPU device or without a model (each peer keeps its own session, as before)', async () => {
    const cpu = await startSharedRestorer(parsePortableOptions({ model: MODEL, device: 'cpu' }), { mode: 'auto', cacheDir });
    expect(cpu.service).toBeUndefined();
    expect(cpu.reason).toBe('device cpu: each restore peer loads its own session');
    const classic = await startSharedRestorer(parsePortableOptions({ restorer: 'classic', device: 'webgpu' }), { mode: 'on', cacheDir });
    expect(classic.service).toBeUndefined();
    expect(classic.reason).toBe('restorer classic runs in each restore peer');
  });

  it('the live server: auto on the CPU runs none; on starts one for its peers and removes its socket on close; external peers never get one', { timeout: 120_000 }, async () => {
    const auto = await startLiveServer({ pipeline: { model: MODEL, device: 'cpu' }, restorePeers: 'spawn' });
    try {
      expect(auto.stats().sharedRestorer).toBeUndefined();
    } finally {
      await auto.close();
    }
    const on = await startLiveServer({ pipeline: { model: MODEL, device: 'cpu' }, restorePeers: 'spawn', sharedRestorer: 'on' });
    let sock: string;
    try {
      const s = on.stats().sharedRestorer!;
      expect(s).toMatchObject({ clients: 0, requests: 0, faces: 0, batches: 0 });
      expect(s.address).toMatch(/^unix:\//);
      sock = s.address.slice('unix:'.length);
      expect(existsSync(sock)).toBe(true);
      // A peer of this machine would connect exactly like this.
      const { RemoteRestorer } = await import('../src/restore/remoteRestorer.ts');
      // Its token is the server's own (generated, given to its peers on stdin): a guess is refused.
      await expect(RemoteRestorer.connect(s.address, { token: 'not-the-token-of-it', waitMs: 0 })).rejects.toMatchObject({ code: 'E_AUTH' });
      const client = await RemoteRestorer.connect(s.address, { token: on.restoreServiceToken!, waitMs: 0 });
      expect(client.name).toMatch(/onnx:.*\(cpu, batch 4\), micro-batched \(4 faces or 8 ms\)/);
      await client.close();
    } finally {
      await on.close();
    }
    expect(existsSync(sock)).toBe(false);
    const ext = await startLiveServer({ pipeline: { model: MODEL, device: 'cpu' }, restorePeers: 'external', sharedRestorer: 'on' });
    try {
      expect(ext.stats().sharedRestorer).toBeUndefined();
    } finally {
      await ext.close();
    }
  });

  it('two streams (w 0 and w 1) through one session: one batch of both faces; each equals the stream restored with its own session', { timeout: 600_000 }, async () => {
    const pipeline = parsePortableOptions({ model: MODEL, device: 'cpu' });
    // budgetMs Infinity: the batch runs when it holds 2 faces, so the test does not depend on timing.
    const { service, token, reason } = await startSharedRestorer({ ...pipeline, batch: 2 }, { mode: 'on', cacheDir, budgetMs: Infinity });
    expect(reason).toMatch(/^one cpu session for every stream \(onnx:.*micro-batched \(2 faces or Infinity ms\)\) at .*\.sock$/);
    const local = { cacheDir, restoreService: service!.address, restoreServiceToken: token, restoreServiceWaitMs: 0 };
    const opts = { budgetMs: 600_000, detectEvery: 1 };
    const a = await LiveRestorer.create({ pipeline: { model: MODEL, fidelity: 0 }, local, ...opts });
    const b = await LiveRestorer.create({ pipeline: { model: MODEL, fidelity: 1 }, local, ...opts });
    let viaService: Uint8Array;
    try {
      expect(a.restorerName).toMatch(/^service .*\.sock: onnx:/);
      const [ra, rb] = await Promise.all([restoreOne(a, frame), restoreOne(b, frame)]);
      expect(ra.restored && rb.restored).toBe(true);
      expect(service!.stats()).toMatchObject({ clients: 2, requests: 2, faces: 2, batches: 1 });
      // Same frame, w 0 against w 1: the faces differ, so each face's w reached the batch.
      expect(maxDiff(ra.frame.data, rb.frame.data)).toBeGreaterThan(5);
      expect(maxDiff(ra.frame.data, frame)).toBeGreaterThan(5);
      viaService = ra.frame.data;
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    // The same stream (w 0) with its own session, as a CPU deployment runs it: the same pixels within a level.
    const own = await LiveRestorer.create({ pipeline: { model: MODEL, fidelity: 0 }, local: { cacheDir }, ...opts });
    try {
      expect(own.restorerName).toMatch(/^onnx:/);
      const ro = await restoreOne(own, frame);
      expect(ro.restored).toBe(true);
      // Batch 2 against batch 1 differs only in float summation order; paste-back then rounds to whole levels.
      expect(maxDiff(ro.frame.data, viaService)).toBeLessThanOrEqual(1);
    } finally {
      await own.close();
      await service!.close();
    }
  });
});
