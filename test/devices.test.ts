import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceReport } from '../src/runtime/devices.ts';
import { runFacerestore } from './helpers/cli.ts';

// `facerestore devices` probes each provider in a child process; the Vulkan loader's override variables hide or
// break the adapter for that child only. None of these runs a model beyond the 4-element probe graph.
const noVulkan = { VK_ICD_FILENAMES: '/nonexistent/none.json', VK_DRIVER_FILES: '' };
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-devices-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function devices(env: NodeJS.ProcessEnv): Promise<DeviceReport> {
  const r = await runFacerestore(['devices', '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as DeviceReport;
}

describe('facerestore devices', () => {
  it('Vulkan pointed at a missing ICD file: webgpu does not load, the reason names the variable and the missing file; auto runs on the CPU and says why', async () => {
    const r = await devices(noVulkan);
    expect(r.providers.map((p) => [p.provider, p.ok])).toEqual([['cuda', false], ['webgpu', false], ['cpu', true]]);
    const webgpu = r.providers[1]!;
    expect(webgpu.reason).toMatch(/^WebGPU has no adapter for model webgpu probe: .*No supported adapters\. VK_ICD_FILENAMES=\/nonexistent\/none\.json replaces the installed Vulkan drivers \(no such file: \/nonexistent\/none\.json\)\. WebGPU runs on Vulkan/);
    expect(r.providers[0]!.reason).toMatch(/CUDA execution provider is not available .*missing .*libonnxruntime_providers_(shared|cuda)\.so.*ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(r.auto.provider).toBe('cpu');
    expect(r.auto.summary).toMatch(/^cpu \(auto\); cuda did not load: CUDA execution provider .*; webgpu did not load: WebGPU has no adapter/);
    expect(r.vulkanDrivers).toBe('VK_ICD_FILENAMES=/nonexistent/none.json replaces the installed Vulkan drivers (no such file: /nonexistent/none.json)');
    expect(r.bundledBackends).toContain('webgpu');
  });

  it('an ICD manifest whose driver library does not exist: no adapter, the reason names the override (the file exists, so none is listed missing)', async () => {
    const icd = path.join(tmp, 'broken_icd.json');
    await writeFile(icd, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: path.join(tmp, 'libvulkan_missing.so'), api_version: '1.3.0' } }));
    const r = await devices({ VK_ICD_FILENAMES: icd, VK_DRIVER_FILES: '' });
    const webgpu = r.providers.find((p) => p.provider === 'webgpu')!;
    expect(webgpu.ok).toBe(false);
    expect(webgpu.reason).toContain(`No supported adapters. VK_ICD_FILENAMES=${icd} replaces the installed Vulkan drivers. WebGPU runs on Vulkan`);
  });

  it('the text form: one line per provider, the Vulkan drivers, and what auto runs on', async () => {
    const r = await runFacerestore(['devices'], noVulkan);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^cuda: does not load: CUDA execution provider is not available/);
    expect(lines[1]).toMatch(/^webgpu: does not load: WebGPU has no adapter/);
    expect(lines[2]).toBe('cpu: loads');
    expect(lines[3]).toMatch(/^VK_ICD_FILENAMES=\/nonexistent\/none.json replaces/);
    expect(lines.at(-1)).toMatch(/^--device auto runs on cpu \(auto\); cuda did not load: .*; webgpu did not load: /);
  });

  it('with the machine\'s own Vulkan drivers: webgpu loads when an adapter exists (lavapipe here), and auto then picks it', async () => {
    const r = await devices({ VK_ICD_FILENAMES: '', VK_DRIVER_FILES: '' });
    const webgpu = r.providers.find((p) => p.provider === 'webgpu')!;
    expect(r.vulkanDrivers).toMatch(/^Vulkan ICDs found: /);
    if (r.providers[0]!.ok) return void expect(r.auto.provider).toBe('cuda');
    if (!webgpu.ok) {
      // No Vulkan driver on this machine at all: the reason says so.
      expect(webgpu.reason).toMatch(/WebGPU (has no adapter|execution provider failed)/);
      return void expect(r.auto.provider).toBe('cpu');
    }
    expect(typeof webgpu.fp16).toBe('boolean');
    expect(r.auto.provider).toBe('webgpu');
    expect(r.auto.summary).toMatch(/^webgpu \(auto\); cuda did not load: /);
  });
});
