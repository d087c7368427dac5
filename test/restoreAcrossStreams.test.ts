import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCodeFormerOnnx } from '../src/models/codeformer/index.ts';
import { BatchingRestorer } from '../src/restore/batchingRestorer.ts';
import { OnnxRestorer } from '../src/restore/onnxRestorer.ts';
import { probeProvider } from '../src/runtime/devices.ts';
import { CROP_BYTES, type Restorer } from '../src/restore/restorer.ts';

// Probed once: the WebGPU case needs a Vulkan adapter (lavapipe in CI: scripts/setup-vulkan.sh).
const webgpu = await probeProvider('webgpu');
if (!webgpu.ok) console.warn(`WebGPU two-stream test skipped: no Vulkan adapter on this machine (${webgpu.reason})`);

const SMALL = fileURLToPath(new URL('../../shared/fixtures/codeformer-small/codeformer_small.pth', import.meta.url));

/** A 512 crop (HWC RGB24) from the fixture's PyTorch input x ∈ [−1, 1] (NCHW), rolled by `shift` pixels so each face differs. */
function fixtureCrop(shift: number): Uint8Array {
  const b = readFileSync(fileURLToPath(new URL('../../shared/fixtures/codeformer-small/x.bin', import.meta.url)));
  const x = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const P = 512 * 512;
  const out = new Uint8Array(CROP_BYTES);
  for (let p = 0; p < P; p++) {
    const q = (p + shift) % P;
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.max(0, Math.min(255, Math.round((x[c * P + q]! + 1) * 127.5)));
  }
  return out;
}

/** Counts the inner calls (and faces per call) of a real restorer. */
class Counted implements Restorer {
  readonly calls: number[] = [];
  readonly inner: Restorer;
  constructor(inner: Restorer) {
    this.inner = inner;
  }
  get name(): string {
    return this.inner.name;
  }
  get maxBatch(): number {
    return this.inner.maxBatch;
  }
  restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    this.calls.push(crops.length);
    return this.inner.restore(crops, weights);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

// One restorer session serving two streams (what a GPU restore service does for every stream of a server):
// their requests within the deadline share one batch, each face keeps its own w, each stream gets its own
// results back in the order it asked, and the batched results are the ones each face gets alone.
describe('one CodeFormer session, two streams (codeformer-small fixture, CPU provider)', () => {
  let session: OnnxRestorer;
  const crops = [fixtureCrop(0), fixtureCrop(40_000), fixtureCrop(90_000)];

  beforeAll(async () => {
    session = await OnnxRestorer.create(await buildCodeFormerOnnx(SMALL), { batch: 4, intraOpThreads: 2 });
  }, 120_000);
  afterAll(async () => {
    await session?.close();
  });

  it('batches across streams with per-face w, in order per stream, equal to unbatched runs', async () => {
    const counted = new Counted(session);
    // Infinity: the batch runs when full (3 faces here with maxBatch 3), so the test does not depend on timing.
    const shared = new BatchingRestorer(counted, { budgetMs: Infinity, maxBatch: 3 });
    // Stream A sends frame 0 then frame 1 (one face each, w 0 and 1) without waiting; stream B one frame (w 0.5).
    const a0 = shared.restore([crops[0]!], [0]);
    const a1 = shared.restore([crops[1]!], [1]);
    const b0 = shared.restore([crops[2]!], [0.5]);
    const [ra0, ra1, rb0] = await Promise.all([a0, a1, b0]);
    expect(counted.calls).toEqual([3]);
    // Unbatched references: each face alone with its own w.
    const alone = [];
    for (const [c, w] of [[crops[0]!, 0], [crops[1]!, 1], [crops[2]!, 0.5]] as const) alone.push((await session.restore([c], [w]))[0]!);
    const got = [ra0![0]!, ra1![0]!, rb0![0]!];
    for (let i = 0; i < 3; i++) {
      expect(got[i]!.length).toBe(CROP_BYTES);
      // Batch 3 against batch 1 differs only in float summation order: at most one level after rounding.
      expect(maxDiff(got[i]!, alone[i]!), `face ${i}`).toBeLessThanOrEqual(1);
    }
    // Each face got its own w and result: w 0 and w 1 of different crops differ, and a stream's two frames are not swapped.
    expect(maxDiff(got[0]!, alone[1]!)).toBeGreaterThan(10);
    expect(maxDiff(got[1]!, alone[0]!)).toBeGreaterThan(10);
    // w changes the output (the fidelity input reaches the graph per face).
    const w1OfFace0 = (await session.restore([crops[0]!], [1]))[0]!;
    expect(maxDiff(got[0]!, w1OfFace0)).toBeGreaterThan(1);
  }, 300_000);
});

// The same on the WebGPU provider (lavapipe here: minutes of CPU per face, so ONE batch of two faces, one from
// each stream), against the CPU provider's face-alone results: fp32 on both, so within one level.
describe.skipIf(!webgpu.ok)('one CodeFormer session on WebGPU, two streams (codeformer-small fixture)', () => {
  it('one batch of two streams\' faces (w 0 and 1) matches the CPU provider face by face', { timeout: 1_800_000 }, async () => {
    const crops = [fixtureCrop(0), fixtureCrop(90_000)];
    const onnx = await buildCodeFormerOnnx(SMALL);
    const cpu = await OnnxRestorer.create(onnx, { batch: 1, intraOpThreads: 2 });
    const gpu = new Counted(await OnnxRestorer.create(onnx, { batch: 2, device: 'webgpu' }));
    const shared = new BatchingRestorer(gpu, { budgetMs: Infinity, maxBatch: 2 });
    try {
      expect(gpu.name).toMatch(/webgpu/);
      const [a, b] = await Promise.all([shared.restore([crops[0]!], [0]), shared.restore([crops[1]!], [1])]);
      expect(gpu.calls).toEqual([2]);
      const refA = (await cpu.restore([crops[0]!], [0]))[0]!;
      const refB = (await cpu.restore([crops[1]!], [1]))[0]!;
      expect(maxDiff(a![0]!, refA)).toBeLessThanOrEqual(1);
      expect(maxDiff(b![0]!, refB)).toBeLessThanOrEqual(1);
      expect(maxDiff(a![0]!, refB)).toBeGreaterThan(10);
    } finally {
      await shared.close();
      await cpu.close();
    }
  });
});
