import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import { FaceRestoreError } from '../src/errors.ts';
import { GraphBuilder } from '../src/models/graphBuilder.ts';
import { chooseFp16, probeProvider, resolveDevice } from '../src/runtime/devices.ts';
import { OrtModel } from '../src/runtime/ort.ts';
import { decodeFrames } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';
import { runFacerestore } from './helpers/cli.ts';

// Tests that need a Vulkan adapter (lavapipe in CI, installed by scripts/setup-vulkan.sh) skip only when none exists.
const webgpu = await probeProvider('webgpu');
if (!webgpu.ok) console.warn(`WebGPU tests skipped: no Vulkan adapter on this machine (${webgpu.reason})`);

/** A small conv net with seeded weights: Conv 3→8 3×3, Relu, Conv 8→4 1×1, GlobalAveragePool-free so every pixel counts. */
function tinyConvNet(): Uint8Array {
  let s = 12345;
  const rnd = (n: number) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5);
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', ['N', 3, 32, 32]);
  const a = g.op('Relu', [g.op('Conv', [x, g.weight('c1', rnd(8 * 3 * 9), [8, 3, 3, 3]), g.weight('b1', rnd(8), [8])], { pads: [1, 1, 1, 1] })]);
  const y = g.op('Conv', [a, g.weight('c2', rnd(4 * 8), [4, 8, 1, 1]), g.weight('b2', rnd(4), [4])]);
  g.output('y', y, ['N', 4, 32, 32]);
  return g.encode({ graphName: 'tiny_conv' });
}


const cli = runFacerestore;

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-webgpu-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe.skipIf(!webgpu.ok)('WebGPU provider (Vulkan adapter present)', () => {
  it('a tiny conv net runs entirely on WebGPU (no CPU fallback) and matches the CPU provider to 1e-5, batch 1 and 3', async () => {
    const bytes = tinyConvNet();
    const gpu = await OrtModel.create(bytes, { device: 'webgpu', strictDevice: true, name: 'tiny_conv' });
    const cpu = await OrtModel.create(bytes, { device: 'cpu', name: 'tiny_conv' });
    try {
      expect(gpu.provider).toBe('webgpu');
      for (const n of [1, 3]) {
        const x = Float32Array.from({ length: n * 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.37));
        const feeds = { x: { type: 'float32' as const, dims: [n, 3, 32, 32], data: x } };
        const a = (await gpu.run(feeds)).y!.data as Float32Array;
        const b = (await cpu.run(feeds)).y!.data as Float32Array;
        expect(a.length).toBe(n * 4 * 32 * 32);
        let m = 0;
        for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
        expect(m, `batch ${n}: max abs diff ${m}`).toBeLessThanOrEqual(1e-5);
        // Not a constant output: the comparison means something.
        expect(Math.max(...a.subarray(0, 1000)) - Math.min(...a.subarray(0, 1000))).toBeGreaterThan(0.1);
      }
    } finally {
      await Promise.all([gpu.close(), cpu.close()]);
    }
  });

  it("auto picks WebGPU here and says why CUDA did not load (onInfo, no warning)", async () => {
    const info: string[] = [];
    const warnings: string[] = [];
    const r = await resolveDevice('auto', { onInfo: (m) => info.push(m), onWarning: (m) => warnings.push(m) });
    if (r.tried[0]!.ok) return void expect(r.provider).toBe('cuda'); // a CUDA host: CUDA comes first
    expect(r.provider).toBe('webgpu');
    expect(r.tried.map((t) => [t.provider, t.ok])).toEqual([['cuda', false], ['webgpu', true]]);
    expect(r.tried[0]!.reason).toMatch(/CUDA execution provider is not available.*libonnxruntime_providers/);
    expect(info.join('\n')).toMatch(/device auto: running on webgpu \(auto\); cuda did not load: CUDA execution provider is not available/);
    expect(warnings).toEqual([]);
  });

  it('fp16: the probe says whether the adapter runs float16; auto stays fp32 on WebGPU, an fp16 request follows the probe', async () => {
    const r = await resolveDevice('webgpu');
    expect(typeof r.fp16).toBe('boolean');
    const warnings: string[] = [];
    expect(chooseFp16(r, 'auto', (m) => warnings.push(m))).toBe(false);
    expect(warnings).toEqual([]);
    expect(chooseFp16(r, 'fp16', (m) => warnings.push(m))).toBe(r.fp16);
    expect(chooseFp16(r, 'fp32')).toBe(false);
    if (!r.fp16) expect(warnings.join()).toMatch(/no shader-f16.*using the float32 graph/);
    else expect(warnings).toEqual([]);
  });

  it('BlazeFace on WebGPU finds the faces the CPU finds, points within 0.5 px', async () => {
    const frames = decodeFrames(shared('footage/short_hamilton_clip.mp4'));
    const frame = (await frames.next()).value!;
    await frames.return(undefined);
    const gpu = await BlazeFaceDetector.create({ device: 'webgpu' });
    const cpu = await BlazeFaceDetector.create({ device: 'cpu' });
    try {
      const a = await gpu.detect(frame);
      const b = await cpu.detect(frame);
      expect(b.length).toBeGreaterThan(0);
      expect(a.length).toBe(b.length);
      for (let i = 0; i < a.length; i++) {
        for (let k = 0; k < a[i]!.points.length; k++) {
          expect(Math.abs(a[i]!.points[k]![0] - b[i]!.points[k]![0])).toBeLessThanOrEqual(0.5);
          expect(Math.abs(a[i]!.points[k]![1] - b[i]!.points[k]![1])).toBeLessThanOrEqual(0.5);
        }
      }
    } finally {
      await Promise.all([gpu.close(), cpu.close()]);
    }
  });
});

// These hold on any machine: the adapter is hidden from the child by pointing the Vulkan loader at no driver.
describe('device selection errors and the auto report', () => {
  const noVulkan = { VK_ICD_FILENAMES: '/nonexistent/none.json', VK_DRIVER_FILES: '/nonexistent/none.json' };

  it('--device webgpu without a Vulkan adapter: E_DEVICE (exit 5) naming the missing adapter and the ICDs, no output file', async () => {
    const out = path.join(tmp, 'no-adapter.mp4');
    const r = await cli(['restore', shared('footage/retalk_1.mp4'), '-o', out, '--device', 'webgpu', '--duration', '0.2'], noVulkan);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/error \[E_DEVICE\]: WebGPU has no adapter for model webgpu probe: .*No supported adapters.*VK_DRIVER_FILES=\/nonexistent\/none.json replaces the installed Vulkan drivers \(no such file: \/nonexistent\/none.json\)/s);
    await expect(import('node:fs/promises').then((f) => f.stat(out))).rejects.toThrow();
  });

  it('--device auto without CUDA libraries or a Vulkan adapter: runs on the CPU and warns why each GPU provider did not load', async () => {
    const out = path.join(tmp, 'auto-cpu.mp4');
    const r = await cli(['restore', shared('footage/retalk_1.mp4'), '-o', out, '--device', 'auto', '--duration', '0.2', '--json', '--no-progress'], noVulkan);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: device auto: no GPU provider loads, running on the CPU; cuda did not load: CUDA execution provider is not available.*; webgpu did not load: WebGPU has no adapter/);
    expect(JSON.parse(r.stdout).frames).toBeGreaterThan(0);
  });

  it('--device cuda without the provider libraries: resolveDevice throws E_DEVICE naming the library', async () => {
    const e = await resolveDevice('cuda').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FaceRestoreError);
    expect((e as FaceRestoreError).code).toBe('E_DEVICE');
    expect((e as FaceRestoreError).message).toMatch(/CUDA execution provider is not available.*libonnxruntime_providers_(shared|cuda)\.so/);
  });

  it('an fp16 request on a provider without float16 falls back to fp32 with a message; fp32 on the CPU unless asked', () => {
    const warnings: string[] = [];
    const noF16 = { provider: 'webgpu' as const, fp16: false, tried: [{ provider: 'webgpu' as const, ok: true, fp16: false, fp16Reason: 'the WebGPU adapter has no shader-f16 feature' }] };
    expect(chooseFp16(noF16, 'fp16', (m) => warnings.push(m))).toBe(false);
    expect(warnings).toEqual(['precision fp16: the WebGPU adapter has no shader-f16 feature; using the float32 graph']);
    expect(chooseFp16({ provider: 'cpu', fp16: true, tried: [] }, 'auto')).toBe(false);
    expect(chooseFp16({ provider: 'cpu', fp16: true, tried: [] }, 'fp16')).toBe(true);
    expect(chooseFp16({ provider: 'cuda', fp16: true, tried: [] }, 'auto')).toBe(true);
    expect(chooseFp16({ provider: 'webgpu', fp16: true, tried: [] }, 'auto')).toBe(false);
  });
});
