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
import { CROP_BYTES, type Restorer } from '../src/restore/restorer.ts';

const FIXTURE = fileURLToPath(new URL('../../shared/fixtures/codeformer-small/', import.meta.url));

/** A 512 crop (RGB24) from the fixture's input x ∈ [−1, 1] (NCHW), rolled by `shift` pixels so each face differs. */
function fixtureCrop(shift: number): Uint8Array {
  const b = readFileSync(path.join(FIXTURE, 'x.bin'));
  const x = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const P = 512 * 512;
  const out = new Uint8Array(CROP_BYTES);
  for (let p = 0; p < P; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.max(0, Math.min(255, Math.round((x[c * P + ((p + shift) % P)]! + 1) * 127.5)));
  return out;
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A restorer for the transport cases: inverts each crop's bytes, or fails with a typed error when w is 0.25. */
class Inverting implements Restorer {
  readonly name = 'inverting';
  readonly maxBatch = 4;
  closed = false;
  restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    if (weights.includes(0.25)) return Promise.reject(new FaceRestoreError('E_MODEL_RUN', 'model x failed to run', { details: { faces: crops.length } }));
    return Promise.resolve(crops.map((c) => c.map((v) => 255 - v)));
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-service-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('restore service: one CodeFormer session (fixture, CPU provider) serving two streams over its socket', () => {
  let session: OnnxRestorer;
  const crops = [fixtureCrop(0), fixtureCrop(40_000), fixtureCrop(90_000)];
  beforeAll(async () => {
    session = await OnnxRestorer.create(await buildCodeFormerOnnx(path.join(FIXTURE, 'codeformer_small.pth')), { batch: 3, intraOpThreads: 2 });
  }, 120_000);

  it('two clients\' requests share one batch, each face keeps its w, each stream gets its answers in order; equal to the session run directly', async () => {
    // budgetMs Infinity: the batch runs when full (3 faces), so nothing here depends on timing.
    const service = await RestoreService.start({ path: path.join(tmp, 'cf.sock'), restorer: session, budgetMs: Infinity, maxBatch: 3 });
    const a = await RemoteRestorer.connect(service.path);
    const b = await RemoteRestorer.connect(service.path);
    try {
      expect(a.maxBatch).toBe(3);
      expect(a.name).toMatch(/^service .*cf\.sock: onnx:.*\(cpu, batch 3\), micro-batched/);
      // Stream A sends frame 0 (w 0) and frame 1 (w 1) without waiting; stream B one frame (w 0.5).
      const [ra0, ra1, rb0] = await Promise.all([a.restore([crops[0]!], [0]), a.restore([crops[1]!], [1]), b.restore([crops[2]!], [0.5])]);
      expect(service.stats()).toMatchObject({ clients: 2, requests: 3, faces: 3, batches: 1 });
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
  it('errors cross typed; a client that sends garbage is cut off while others are served; close ends clients with E_UNAVAILABLE', async () => {
    const inner = new Inverting();
    const errors: string[] = [];
    const service = await RestoreService.start({ path: path.join(tmp, 'inv.sock'), restorer: inner, budgetMs: 0, onError: (m) => errors.push(m) });
    const a = await RemoteRestorer.connect(service.path);
    const crop = fixtureCrop(7);
    const [out] = await a.restore([crop], [0.5]);
    expect(maxDiff(out!, crop.map((v) => 255 - v))).toBe(0);
    const e = await a.restore([crop], [0.25]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FaceRestoreError);
    expect(e).toMatchObject({ code: 'E_MODEL_RUN', message: 'model x failed to run', details: { faces: 1 } });
    // A raw client sending a header that is not a valid message is disconnected; the service carries on.
    const raw = net.createConnection(service.path).resume(); // reads (and drops) the hello, so 'close' comes
    const hdr = Buffer.from(JSON.stringify({ v: 1, type: 'restore', id: 0, n: 1, weights: [7] }));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(hdr.length);
    raw.write(Buffer.concat([len, hdr]));
    await new Promise<void>((resolve) => raw.once('close', () => resolve()));
    expect(errors.join('\n')).toMatch(/restore service message: weights\.0: Too big: expected number to be <=1/);
    expect((await a.restore([crop], [1]))[0]!.length).toBe(CROP_BYTES);
    // Bad arguments are refused before anything is sent.
    await expect(a.restore([crop.subarray(1)], [0.5])).rejects.toThrow(TypeError);
    await service.close();
    expect(inner.closed).toBe(true);
    await expect(a.restore([crop], [0.5])).rejects.toMatchObject({ code: 'E_UNAVAILABLE', message: expect.stringMatching(/restore service .*inv\.sock closed the connection/) });
    await a.close();
    await service.close(); // idempotent
  });

  it('no service at the path: E_UNAVAILABLE naming it', async () => {
    await expect(RemoteRestorer.connect(path.join(tmp, 'none.sock'))).rejects.toMatchObject({ code: 'E_UNAVAILABLE', message: expect.stringMatching(/no restore service at .*none\.sock/) });
  });
});
