import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaceRestoreError } from '../src/errors.ts';
import { buildCodeFormerOnnx } from '../src/models/codeformer/index.ts';
import { OnnxRestorer } from '../src/restore/onnxRestorer.ts';
import { RemoteRestorer } from '../src/restore/remoteRestorer.ts';
import { RestoreService } from '../src/restore/restoreService.ts';
import { encodeMessage, MessageReader, parseServiceAddress, type WireHeader } from '../src/restore/restoreWire.ts';
import { CROP_BYTES, type Restorer } from '../src/restore/restorer.ts';
import { parseExposition } from '../src/util/metrics.ts';

const FIXTURE = fileURLToPath(new URL('../../shared/fixtures/codeformer-small/', import.meta.url));
const TOKEN = 'test-token-0123456789abcdef';

/** A 512 crop (RGB24) from the fixture's input x ∈ [−1, 1] (NCHW), rolled by `shift` pixels so each face differs. */
function fixtureCrop(shift: number): Uint8Array {
  const b = readFileSync(path.join(FIXTURE, 'x.bin'));
  const x = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const P = 512 * 512;
  const out = new Uint8Array(CROP_BYTES);
  for (let p = 0; p < P; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.max(0, Math.min(255, Math.round((x[c * P + ((p + shift) % P)]! + 1) * 127.5)));
  return out;
}

/** A crop filled with one value (identifies a face through the transport). */
const flat = (v: number) => new Uint8Array(CROP_BYTES).fill(v);

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * A restorer for the transport cases: each face's output is its input's first byte in channel 0 and
 * round(w·255) in channel 1 (so order and per-face w can be read back); it fails typed when w is 0.25
 * (E_MODEL_RUN) or 0.75 (E_UNAVAILABLE: a lost GPU session). Records the faces of each call.
 */
class Echo implements Restorer {
  readonly name = 'echo';
  readonly maxBatch: number;
  readonly calls: number[][] = [];
  closed = false;
  constructor(maxBatch = 4) {
    this.maxBatch = maxBatch;
  }
  restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    this.calls.push(crops.map((c) => c[0]!));
    if (weights.includes(0.25)) return Promise.reject(new FaceRestoreError('E_MODEL_RUN', 'model x failed to run', { details: { faces: crops.length } }));
    if (weights.includes(0.75)) return Promise.reject(new FaceRestoreError('E_UNAVAILABLE', 'GPU session lost'));
    return Promise.resolve(
      crops.map((c, i) => {
        const o = new Uint8Array(CROP_BYTES);
        for (let p = 0; p < CROP_BYTES; p += 3) (o[p] = c[0]!), (o[p + 1] = Math.round(weights[i]! * 255));
        return o;
      }),
    );
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** What a raw client receives until the service closes the connection, after sending `bytes`. */
async function rawExchange(address: string, bytes: Buffer[]): Promise<WireHeader[]> {
  const a = parseServiceAddress(address);
  const s = a.kind === 'tcp' ? net.createConnection({ host: a.host, port: a.port }) : net.createConnection(a.path);
  const got: WireHeader[] = [];
  const reader = new MessageReader((h) => got.push(h));
  s.on('data', (c: Buffer) => reader.push(c));
  s.on('error', () => undefined);
  s.once('connect', () => {
    for (const b of bytes) s.write(b);
  });
  await new Promise<void>((resolve) => s.once('close', () => resolve()));
  return got;
}

const hello = (token = TOKEN) => Buffer.concat(encodeMessage({ type: 'hello', token, n: 0 }));
function header(json: unknown): Buffer {
  const h = Buffer.from(typeof json === 'string' ? json : JSON.stringify(json));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(h.length);
  return Buffer.concat([len, h]);
}

/** Open TCP handles (sockets and servers) of this process: compared before and after, for leaks. */
function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'PipeServerWrap').length;
}

let tmp: string;
let handlesBefore: number;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-service-'));
  handlesBefore = tcpHandles();
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
  // Every service and client below was closed: no socket or listener is left open.
  await new Promise((r) => setImmediate(r));
  expect(tcpHandles()).toBe(handlesBefore);
});

describe('restore service: one CodeFormer session (fixture, CPU provider) serving two streams over TCP', () => {
  let session: OnnxRestorer;
  const crops = [fixtureCrop(0), fixtureCrop(40_000), fixtureCrop(90_000)];
  beforeAll(async () => {
    session = await OnnxRestorer.create(await buildCodeFormerOnnx(path.join(FIXTURE, 'codeformer_small.pth')), { batch: 3, intraOpThreads: 2 });
  }, 120_000);

  it("two clients' requests share one batch, each face keeps its w, each stream gets its answers in order; equal to the session run directly", async () => {
    // budgetMs Infinity: the batch runs when full (3 faces), so nothing here depends on timing.
    const service = await RestoreService.start({ listen: 'tcp://127.0.0.1:0', token: TOKEN, restorer: session, budgetMs: Infinity, maxBatch: 3 });
    expect(service.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const a = await RemoteRestorer.connect(service.address, { token: TOKEN });
    const b = await RemoteRestorer.connect(service.address, { token: TOKEN });
    try {
      expect(a.maxBatch).toBe(3);
      expect(a.name).toMatch(/^service tcp:\/\/127\.0\.0\.1:\d+: onnx:.*\(cpu, batch 3\), micro-batched/);
      // Stream A sends frame 0 (w 0) and frame 1 (w 1) without waiting; stream B one frame (w 0.5).
      const [ra0, ra1, rb0] = await Promise.all([a.restore([crops[0]!], [0]), a.restore([crops[1]!], [1]), b.restore([crops[2]!], [0.5])]);
      expect(service.stats()).toMatchObject({ clients: 2, requests: 3, faces: 3, batches: 1, authFailures: 0, protocolErrors: 0 });
      const alone: Uint8Array[] = [];
      for (const [c, w] of [[crops[0]!, 0], [crops[1]!, 1], [crops[2]!, 0.5]] as const) alone.push((await session.restore([c], [w]))[0]!);
      const got = [ra0![0]!, ra1![0]!, rb0![0]!];
      for (let i = 0; i < 3; i++) {
        expect(got[i]!.length).toBe(CROP_BYTES);
        expect(maxDiff(got[i]!, alone[i]!), `face ${i}`).toBeLessThanOrEqual(1);
      }
      // Not swapped within stream A, and w reached each face.
      expect(maxDiff(got[0]!, alone[1]!)).toBeGreaterThan(10);
      const w1OfFace0 = (await session.restore([crops[0]!], [1]))[0]!;
      expect(maxDiff(got[0]!, w1OfFace0)).toBeGreaterThan(1);
    } finally {
      await a.close();
      await b.close();
      await service.close(); // closes the session
    }
  }, 300_000);
});

describe('restore service transport', () => {
  it('two TCP clients: batches across streams with per-face w, answers in each stream\'s order, large requests split; metrics counted', async () => {
    const inner = new Echo(4);
    const service = await RestoreService.start({ listen: 'tcp://127.0.0.1:0', token: TOKEN, restorer: inner, budgetMs: Infinity, maxFaces: 2 });
    const a = await RemoteRestorer.connect(service.address, { token: TOKEN, client: 'stream a' });
    const b = await RemoteRestorer.connect(service.address, { token: TOKEN, client: 'stream b' });
    try {
      // Batch 1: A frame 0 (faces 10, 11 with w 0.1, 0.9), B frame 0 (face 20, w 0.5), A frame 1 (face 12, w 1).
      const p = [a.restore([flat(10), flat(11)], [0.1, 0.9]), b.restore([flat(20)], [0.5]), a.restore([flat(12)], [1])];
      // Batch 2: B sends 4 faces, more than the service's maxFaces (2): split into two requests, rejoined in order.
      const big = b.restore([flat(30), flat(31), flat(32), flat(33)], [0, 0.2, 0.4, 0.6]);
      const [a0, b0, a1] = await Promise.all(p);
      const b1 = await big;
      const read = (o: Uint8Array) => [o[0], o[1]];
      expect(a0!.map(read)).toEqual([[10, 26], [11, 230]]);
      expect(b0!.map(read)).toEqual([[20, 128]]);
      expect(a1!.map(read)).toEqual([[12, 255]]);
      expect(b1.map(read)).toEqual([[30, 0], [31, 51], [32, 102], [33, 153]]);
      // One call held both streams' faces with their different w; then B's two parts, in order.
      expect(inner.calls).toEqual([[10, 11, 20, 12], [30, 31, 32, 33]]);
      expect(service.stats()).toMatchObject({ clients: 2, requests: 5, faces: 8, batches: 2 });
      const samples = parseExposition(await service.metrics.expose());
      const value = (name: string) => samples.find((s) => s.name === name)?.value;
      expect(value('facerestore_restore_service_requests_total')).toBe(5);
      expect(value('facerestore_restore_service_faces_total')).toBe(8);
      expect(value('facerestore_restore_service_batch_faces_count')).toBe(2);
      expect(value('facerestore_restore_service_batch_faces_sum')).toBe(8);
      expect(value('facerestore_restore_service_clients')).toBe(2);
      // Many frames of one stream in flight at once come back each to its own call.
      const many = await Promise.all(Array.from({ length: 8 }, (_, i) => a.restore([flat(100 + i)], [i / 10])));
      expect(many.map((o) => o[0]![0])).toEqual(Array.from({ length: 8 }, (_, i) => 100 + i));
    } finally {
      await a.close();
      await b.close();
      await service.close();
    }
  });

  it('restorer errors cross typed (E_UNAVAILABLE passed through); bad arguments are refused before sending; close ends clients with E_UNAVAILABLE', async () => {
    const inner = new Echo();
    const service = await RestoreService.start({ listen: `unix:${path.join(tmp, 'echo.sock')}`, token: TOKEN, restorer: inner, budgetMs: 0 });
    const a = await RemoteRestorer.connect(service.address, { token: TOKEN, waitMs: 0 });
    expect(a.name).toMatch(/^service unix:.*echo\.sock: echo/);
    const e = await a.restore([flat(1)], [0.25]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FaceRestoreError);
    expect(e).toMatchObject({ code: 'E_MODEL_RUN', message: 'model x failed to run', details: { faces: 1 } });
    await expect(a.restore([flat(1)], [0.75])).rejects.toMatchObject({ code: 'E_UNAVAILABLE', message: 'GPU session lost' });
    // The connection stays after a failed request.
    expect((await a.restore([flat(3)], [1]))[0]![0]).toBe(3);
    await expect(a.restore([flat(1).subarray(1)], [0.5])).rejects.toThrow(TypeError);
    await service.close();
    expect(inner.closed).toBe(true);
    await expect(a.restore([flat(1)], [0.5])).rejects.toMatchObject({ code: 'E_UNAVAILABLE', message: expect.stringMatching(/restore service unix:.*echo\.sock is unreachable/) });
    await a.close();
    await service.close(); // idempotent
  });

  it('a wrong token is E_AUTH (counted); no hello first is E_PROTOCOL; the service keeps serving', async () => {
    const errors: string[] = [];
    const service = await RestoreService.start({ listen: 'tcp://127.0.0.1:0', token: TOKEN, restorer: new Echo(), budgetMs: 0, onError: (m) => errors.push(m) });
    const good = await RemoteRestorer.connect(service.address, { token: TOKEN });
    try {
      const bad = await RemoteRestorer.connect(service.address, { token: 'wrong-token-0123456789', waitMs: 5000 }).catch((x: unknown) => x);
      expect(bad).toBeInstanceOf(FaceRestoreError);
      expect(bad).toMatchObject({ code: 'E_AUTH', message: 'restore service token refused' });
      expect((bad as FaceRestoreError).exitCode).toBe(14);
      // A token that is a prefix of the real one is no better.
      await expect(RemoteRestorer.connect(service.address, { token: TOKEN.slice(0, -1) })).rejects.toMatchObject({ code: 'E_AUTH' });
      const early = await rawExchange(service.address, [Buffer.concat(encodeMessage({ type: 'restore', id: 0, n: 1, weights: [0.5] }, [flat(1)]))]);
      expect(early).toEqual([{ v: 2, type: 'error', n: 0, error: { code: 'E_PROTOCOL', message: expect.stringMatching(/faces before the hello/) } }]);
      expect(service.stats()).toMatchObject({ authFailures: 2, protocolErrors: 1, clients: 1 });
      expect(errors.join('\n')).toMatch(/token refused/);
      expect((await good.restore([flat(5)], [0.5]))[0]![0]).toBe(5);
    } finally {
      await good.close();
      await service.close();
    }
  });

  it('malformed and oversized messages get E_PROTOCOL for that connection only; others are served', async () => {
    const errors: string[] = [];
    const service = await RestoreService.start({ listen: 'tcp://127.0.0.1:0', token: TOKEN, restorer: new Echo(), budgetMs: 0, maxFaces: 2, onError: (m) => errors.push(m) });
    const good = await RemoteRestorer.connect(service.address, { token: TOKEN });
    try {
      const cases: Array<[string, Buffer[], RegExp]> = [
        ['not JSON', [hello(), header('{nope')], /header is not JSON/],
        ['weight out of range', [hello(), header({ v: 2, type: 'restore', id: 0, n: 1, weights: [7] })], /weights\.0: Too big: expected number to be <=1/],
        ['weights not one per face', [hello(), header({ v: 2, type: 'restore', id: 0, n: 2, weights: [0.5] })], /weights: one weight per face/],
        ['another wire version', [header({ v: 1, type: 'restore', id: 0, n: 1, weights: [0.5] })], /wire version 1; this side speaks version 2/],
        ['a header over 16 KiB', [hello(), header('x'.repeat(20_000))], /header of 20000 bytes \(most 16384\)/],
        ['more faces than the limit', [hello(), header({ v: 2, type: 'restore', id: 0, n: 3, weights: [0, 0, 0] })], /message of 3 faces \(most 2 per request, \d+ bytes\)/],
        ['a length prefix of 4 GiB', [hello(), Buffer.from([0xff, 0xff, 0xff, 0xff])], /header of 4294967295 bytes/],
      ];
      for (const [what, bytes, message] of cases) {
        const got = await rawExchange(service.address, bytes);
        const last = got.at(-1);
        expect(last, what).toMatchObject({ type: 'error', error: { code: 'E_PROTOCOL', message: expect.stringMatching(message) } });
      }
      expect(service.stats()).toMatchObject({ protocolErrors: cases.length, authFailures: 0 });
      const samples = parseExposition(await service.metrics.expose());
      expect(samples.find((s) => s.name === 'facerestore_restore_service_protocol_errors_total')?.value).toBe(cases.length);
      expect((await good.restore([flat(9)], [1]))[0]![0]).toBe(9);
    } finally {
      await good.close();
      await service.close();
    }
  });

  it('reconnects after the service restarts: live mode fails at once meanwhile, file mode waits and resends in order', async () => {
    const first = await RestoreService.start({ listen: 'tcp://127.0.0.1:0', token: TOKEN, restorer: new Echo(), budgetMs: 0 });
    const address = first.address;
    const warnings: string[] = [];
    const live = await RemoteRestorer.connect(address, { token: TOKEN, waitMs: 0, backoffMs: { min: 20, max: 200 }, onWarning: (m) => warnings.push(m) });
    const file = await RemoteRestorer.connect(address, { token: TOKEN, waitMs: 600_000, backoffMs: { min: 20, max: 200 } });
    let second: RestoreService | undefined;
    try {
      expect((await live.restore([flat(1)], [1]))[0]![0]).toBe(1);
      await first.close();
      // Live: a restore while the service is gone fails at once (the frame passes through).
      await expect(live.restore([flat(2)], [1])).rejects.toMatchObject({ code: 'E_UNAVAILABLE', message: expect.stringMatching(/is unreachable/) });
      // File: these wait for the service.
      const waiting = [file.restore([flat(3)], [0]), file.restore([flat(4)], [1])];
      expect(file.connected).toBe(false);
      second = await RestoreService.start({ listen: address, token: TOKEN, restorer: new Echo(), budgetMs: 0 });
      const [w3, w4] = await Promise.all(waiting);
      expect([w3![0]![0], w3![0]![1], w4![0]![0], w4![0]![1]]).toEqual([3, 0, 4, 255]);
      expect(file.reconnections).toBe(1);
      while (!live.connected) await new Promise((r) => setTimeout(r, 20));
      expect((await live.restore([flat(5)], [1]))[0]![0]).toBe(5);
      expect(warnings.join('\n')).toMatch(/lost .*reconnecting/);
    } finally {
      await live.close();
      await file.close();
      await second?.close();
    }
  });

  it('file mode fails clearly when the service stays away; connecting to nothing is E_UNAVAILABLE naming it', async () => {
    const service = await RestoreService.start({ listen: 'tcp://127.0.0.1:0', token: TOKEN, restorer: new Echo(), budgetMs: 0 });
    const file = await RemoteRestorer.connect(service.address, { token: TOKEN, waitMs: 50, backoffMs: { min: 20, max: 40 } });
    await service.close();
    await expect(file.restore([flat(1)], [1])).rejects.toMatchObject({ code: 'E_UNAVAILABLE', message: expect.stringMatching(/unreachable for 50 ms \(last error: .*\); still reconnecting/) });
    await file.close();
    await expect(RemoteRestorer.connect(`unix:${path.join(tmp, 'none.sock')}`, { token: TOKEN, waitMs: 0 })).rejects.toMatchObject({ code: 'E_UNAVAILABLE', message: expect.stringMatching(/no restore service at unix:.*none\.sock/) });
    await expect(RemoteRestorer.connect('http://x:1', { token: TOKEN })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/tcp:\/\/HOST:PORT or unix:\/path/) });
    // A short token is refused at start (and the restorer it would own is closed).
    const inner = new Echo();
    await expect(RestoreService.start({ listen: 'tcp://127.0.0.1:0', token: 'short', restorer: inner })).rejects.toMatchObject({ code: 'E_CONFIG' });
    expect(inner.closed).toBe(true);
  });
});
