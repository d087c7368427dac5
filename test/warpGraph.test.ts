import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignmentFor, applyAffine, invertAffine } from '../src/compose/align.ts';
import { GraphWarper, type WarpFrame } from '../src/compose/graphWarp.ts';
import { warpToCrop } from '../src/compose/warp.ts';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import { probeProvider } from '../src/runtime/devices.ts';
import type { Affine, VideoFrame } from '../src/types.ts';
import { i420Layout, yuvCoefficients } from '../src/util/yuv.ts';
import { firstFrames } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';

// The warp pre-graph (models/warpGraph.ts) against the CPU warp (compose/warp.ts) on a real frame.
const P = 512 * 512;
let frame: VideoFrame;
let faceMatrix: Affine;
/** Rotated by 0.4 rad, half scale, hanging over the frame's top-left corner: crop pixels and taps outside the frame. */
const overCorner: Affine = [2 * Math.cos(0.4), -2 * Math.sin(0.4), 100, 2 * Math.sin(0.4), 2 * Math.cos(0.4), 150];
let cpu: GraphWarper;

beforeAll(async () => {
  [frame] = (await firstFrames(shared('footage/short_hamilton_clip.mp4'), 1)) as [VideoFrame];
  const det = await BlazeFaceDetector.create({ device: 'cpu' });
  const faces = await det.detect(frame);
  await det.close();
  expect(faces.length).toBeGreaterThan(0);
  faceMatrix = alignmentFor(faces[0]!.points);
  cpu = await GraphWarper.create({ device: 'cpu' });
});
afterAll(async () => {
  await cpu?.close();
});

/** Per-crop differences between a graph output [N,3,512,512] in [-1,1] and RGB24 crops, in levels. */
function diffs(out: Float32Array, crops: readonly Uint8Array[]): Array<{ max: number; mean: number; over1: number }> {
  return crops.map((c, n) => {
    let max = 0, sum = 0, over1 = 0;
    for (let i = 0; i < P; i++) {
      for (let ch = 0; ch < 3; ch++) {
        const d = Math.abs((out[n * 3 * P + ch * P + i]! + 1) * 127.5 - c[i * 3 + ch]!);
        max = Math.max(max, d);
        sum += d;
        if (d > 1) over1++;
      }
    }
    return { max, mean: sum / (3 * P), over1 };
  });
}

/** The frame as RGB24, chroma repeated over each 2×2 block, clamped (ffmpeg's yuv420p → rgb24 without dithering). */
function toRgb(f: VideoFrame): Uint8Array {
  const { cw, uOff, vOff } = i420Layout(f.width, f.height);
  const k = yuvCoefficients(f.colour);
  const out = new Uint8ClampedArray(f.width * f.height * 3);
  for (let y = 0; y < f.height; y++) {
    for (let x = 0; x < f.width; x++) {
      const ci = (y >> 1) * cw + (x >> 1);
      const l = k.yk * (f.data[y * f.width + x]! - k.y0), u = f.data[uOff + ci]! - 128, v = f.data[vOff + ci]! - 128;
      const o = (y * f.width + x) * 3;
      out[o] = l + k.rv * v;
      out[o + 1] = l - k.gu * u - k.gv * v;
      out[o + 2] = l + k.bu * u;
    }
  }
  return new Uint8Array(out.buffer);
}

/** The top-left w × h of an I420 frame (odd sizes allowed), as its own frame. */
function cropFrame(f: VideoFrame, w: number, h: number): VideoFrame {
  const src = i420Layout(f.width, f.height), dst = i420Layout(w, h);
  const data = new Uint8Array(dst.size);
  for (let y = 0; y < h; y++) data.set(f.data.subarray(y * f.width, y * f.width + w), y * w);
  for (let y = 0; y < dst.ch; y++) {
    data.set(f.data.subarray(src.uOff + y * src.cw, src.uOff + y * src.cw + dst.cw), dst.uOff + y * dst.cw);
    data.set(f.data.subarray(src.vOff + y * src.cw, src.vOff + y * src.cw + dst.cw), dst.vOff + y * dst.cw);
  }
  return { ...f, width: w, height: h, data };
}

describe('warp pre-graph on the CPU provider', () => {
  it('I420 frame, a detected face and a crop over the corner, one run: equal to warpToCrop within its rounding inside the frame; outside pixels repeat the edge as warpToCrop does', async () => {
    const out = await cpu.warp({ layout: 'i420', frame }, [faceMatrix, overCorner]);
    expect(out.dims).toEqual([2, 3, 512, 512]);
    const data = out.data as Float32Array;
    const [face, corner] = diffs(data, [warpToCrop(frame, faceMatrix), warpToCrop(frame, overCorner)]);
    // A face inside the frame: warpToCrop rounds to whole levels, the graph does not (float32 adds ~1e-3).
    expect(face!.max, JSON.stringify(face)).toBeLessThanOrEqual(0.51);
    expect(face!.mean).toBeGreaterThan(0.1); // rounding: the graph really is unrounded, the comparison means something
    // Over the corner: warpToCrop clamps each tap to 0–255 before interpolating on rows that leave the frame, the
    // graph after; they differ only where a tap near the edge saturates (measured: 120 of 786432 values over 1).
    expect(corner!.over1, JSON.stringify(corner)).toBeLessThanOrEqual(300);
    // Mean: warpToCrop's rounding to whole levels alone averages 0.25 on picture pixels (outside ones repeat the edge).
    expect(corner!.mean).toBeLessThanOrEqual(0.3);
    // Crop pixels outside the frame repeat its edge (replicate border) in both warps: equal within rounding, and
    // not one fill colour (the edge varies along the frame's border).
    const inv = invertAffine(overCorner);
    const cpuCrop = warpToCrop(frame, overCorner);
    let outside = 0, outsideOver1 = 0;
    const seen = new Set<number>();
    for (let v = 0; v < 512; v++) {
      for (let u = 0; u < 512; u++) {
        const [sx, sy] = applyAffine(inv, [u + 0.5, v + 0.5]);
        if (!(sx < -0.5 || sy < -0.5 || sx >= frame.width + 0.5 || sy >= frame.height + 0.5)) continue;
        outside++;
        seen.add(cpuCrop[(v * 512 + u) * 3]!);
        for (let ch = 0; ch < 3; ch++) {
          if (Math.abs((data[3 * P + ch * P + v * 512 + u]! + 1) * 127.5 - cpuCrop[(v * 512 + u) * 3 + ch]!) > 1) outsideOver1++;
        }
      }
    }
    expect(outsideOver1).toBeLessThanOrEqual(300);
    expect(seen.size).toBeGreaterThan(10);
    expect(outside).toBeGreaterThan(10000);
  });

  it('the GridSample sampler gives the same crops as the gather sampler', async () => {
    const grid = await GraphWarper.create({ device: 'cpu', sampler: 'gridsample' });
    try {
      const a = (await cpu.warp({ layout: 'i420', frame }, [faceMatrix, overCorner])).data as Float32Array;
      const b = (await grid.warp({ layout: 'i420', frame }, [faceMatrix, overCorner])).data as Float32Array;
      let m = 0;
      for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
      expect(m).toBeLessThanOrEqual(2e-5);
    } finally {
      await grid.close();
    }
  });

  it('RGB24 and float NCHW frames give the same crops, and match warpToCrop of the I420 frame except where chroma saturates', async () => {
    const rgb = toRgb(frame);
    const nchw = new Float32Array(3 * frame.width * frame.height);
    for (let i = 0; i < frame.width * frame.height; i++) for (let ch = 0; ch < 3; ch++) nchw[ch * frame.width * frame.height + i] = rgb[i * 3 + ch]!;
    const a = (await cpu.warp({ layout: 'rgb24', width: frame.width, height: frame.height, data: rgb }, [faceMatrix])).data as Float32Array;
    const b = (await cpu.warp({ layout: 'nchw', width: frame.width, height: frame.height, data: nchw }, [faceMatrix])).data as Float32Array;
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
    expect(m).toBeLessThanOrEqual(1e-6);
    // An RGB24 frame was rounded and clamped per pixel before the warp: within a level but for saturated spots.
    const [d] = diffs(a, [warpToCrop(frame, faceMatrix)]);
    expect(d!.mean, JSON.stringify(d)).toBeLessThanOrEqual(0.35);
    expect(d!.over1 / (3 * P), JSON.stringify(d)).toBeLessThanOrEqual(0.01);
  });

  it('an odd-sized I420 frame (its last chroma column and row half used): still equal to warpToCrop', async () => {
    const odd = cropFrame(frame, frame.width - 1, frame.height - 1);
    const out = await cpu.warp({ layout: 'i420', frame: odd }, [faceMatrix]);
    const [d] = diffs(out.data as Float32Array, [warpToCrop(odd, faceMatrix)]);
    expect(d!.max, JSON.stringify(d)).toBeLessThanOrEqual(0.51);
  });

  it('no faces: an empty tensor without a run; a wrong-sized frame buffer is refused naming the input', async () => {
    const empty = await cpu.warp({ layout: 'i420', frame }, []);
    expect(empty.dims).toEqual([0, 3, 512, 512]);
    expect(empty.data.length).toBe(0);
    const bad: WarpFrame = { layout: 'i420', frame: { ...frame, data: frame.data.subarray(0, frame.data.length - 1) } };
    await expect(cpu.warp(bad, [faceMatrix])).rejects.toMatchObject({ code: 'E_MODEL_CONTRACT', message: expect.stringMatching(/input 'frame' expects frame: uint8\[345600\], got uint8\[345599\]/) });
  });
});

const webgpu = await probeProvider('webgpu');
describe.skipIf(!webgpu.ok)('warp pre-graph on WebGPU (Vulkan adapter present)', () => {
  it('runs entirely on WebGPU (CPU fallback disabled) and gives the CPU provider\'s crops', async () => {
    const gpu = await GraphWarper.create({ device: 'webgpu', strictDevice: true });
    try {
      const a = await gpu.warp({ layout: 'i420', frame }, [faceMatrix, overCorner]);
      const b = await cpu.warp({ layout: 'i420', frame }, [faceMatrix, overCorner]);
      expect(await gpu.provider({ layout: 'i420', frame })).toBe('webgpu');
      let m = 0;
      for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs((a.data[i] as number) - (b.data[i] as number)));
      expect(m).toBeLessThanOrEqual(1e-4);
      const [face] = diffs(a.data as Float32Array, [warpToCrop(frame, faceMatrix)]);
      expect(face!.max).toBeLessThanOrEqual(0.51);
    } finally {
      await gpu.close();
    }
  });
});
