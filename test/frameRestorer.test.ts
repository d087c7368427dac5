import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignmentFor } from '../src/compose/align.ts';
import { GraphWarper } from '../src/compose/graphWarp.ts';
import { warpToCrop } from '../src/compose/warp.ts';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import { buildCodeFormerOnnx } from '../src/models/codeformer/index.ts';
import { FrameRestorer } from '../src/restore/frameRestorer.ts';
import { nchwToCrop } from '../src/restore/restorer.ts';
import { probeProvider } from '../src/runtime/devices.ts';
import { OrtModel } from '../src/runtime/ort.ts';
import type { Affine, VideoFrame } from '../src/types.ts';
import { firstFrames } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';

// CodeFormer with the warp pre-graph in front and uint8 out, as one graph (fixture model, CPU provider), against
// the two graphs run one after the other with the crops' float tensor passing through the host.
const MODEL = shared('fixtures/codeformer-small/codeformer_small.pth');
let frame: VideoFrame;
let toCrop: Affine;
beforeAll(async () => {
  [frame] = (await firstFrames(shared('footage/short_hamilton_clip.mp4'), 1)) as [VideoFrame];
  const det = await BlazeFaceDetector.create({ device: 'cpu' });
  const faces = await det.detect(frame);
  await det.close();
  toCrop = alignmentFor(faces[0]!.points);
});

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('FrameRestorer (warp + CodeFormer + uint8 in one graph)', () => {
  let fused: FrameRestorer;
  afterAll(async () => {
    await fused?.close();
  });

  it('an I420 frame and a face alignment in, the restored crop out: equal to warp graph → CodeFormer graph within one level', { timeout: 300_000 }, async () => {
    fused = await FrameRestorer.create(MODEL, { device: 'cpu', intraOpThreads: 2 });
    const [restored] = await fused.restoreFrame(frame, [toCrop], [0.5]);
    expect(restored!.length).toBe(512 * 512 * 3);
    const warper = await GraphWarper.create({ device: 'cpu' });
    const cf = await OrtModel.create(await buildCodeFormerOnnx(MODEL), { device: 'cpu', intraOpThreads: 2, name: 'codeformer-small' });
    try {
      const x = await warper.warp({ layout: 'i420', frame }, [toCrop]);
      const out = (await cf.run({ x, w: { type: 'float32', dims: [1], data: Float32Array.from([0.5]) } })).out!.data as Float32Array;
      const twoStep = nchwToCrop(out, 0);
      expect(maxDiff(restored!, twoStep)).toBeLessThanOrEqual(1);
      // CodeFormer changed the face (the comparison is not of two copies of the input).
      expect(maxDiff(restored!, warpToCrop(frame, toCrop))).toBeGreaterThan(20);
    } finally {
      await Promise.all([warper.close(), cf.close()]);
    }
    // No faces: nothing runs; a weight out of range is refused before running.
    expect(await fused.restoreFrame(frame, [], [])).toEqual([]);
    await expect(fused.restoreFrame(frame, [toCrop], [2])).rejects.toThrow(/Expected a number in \[0, 1\] for weight 0 but received 2/);
  });
});

// lavapipe: about 20 s for this one face (shader compilation included). Not with CPU fallback disabled: the CodeFormer
// graph alone already has nodes ORT places on the CPU next to WebGPU (shape arithmetic), and so has this one.
const webgpu = await probeProvider('webgpu');
describe.skipIf(!webgpu.ok)('FrameRestorer on WebGPU (Vulkan adapter present)', () => {
  it('one face: the CPU provider\'s restored crop within one level', { timeout: 900_000 }, async () => {
    const gpu = await FrameRestorer.create(MODEL, { device: 'webgpu' });
    const cpu = await FrameRestorer.create(MODEL, { device: 'cpu', intraOpThreads: 2 });
    try {
      const [a] = await gpu.restoreFrame(frame, [toCrop], [0.5]);
      const [b] = await cpu.restoreFrame(frame, [toCrop], [0.5]);
      expect(maxDiff(a!, b!)).toBeLessThanOrEqual(1);
      expect(maxDiff(a!, warpToCrop(frame, toCrop))).toBeGreaterThan(20);
    } finally {
      await Promise.all([gpu.close(), cpu.close()]);
    }
  });
});
