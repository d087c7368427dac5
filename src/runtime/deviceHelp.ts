/** What the device errors tell the user to do, and what they list about this machine. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { vulkanDriverOverride } from '../config/env.ts';

/** How to make the CUDA provider load. */
export const CUDA_HELP =
  'ONNX Runtime\'s npm package ships only the CPU and WebGPU providers. For CUDA, install it on the GPU machine with ' +
  'ONNXRUNTIME_NODE_INSTALL=cuda12 (it fetches libonnxruntime_providers_cuda.so), and make the CUDA 12 runtime ' +
  '(libcudart.so.12, libcublas.so.12, libcublasLt.so.12, libcufft.so.11, libcurand.so.10) and cuDNN 9 (libcudnn.so.9) ' +
  'findable through LD_LIBRARY_PATH.';

/** How to give WebGPU an adapter. */
export const WEBGPU_HELP =
  'WebGPU runs on Vulkan: it needs the GPU vendor\'s Vulkan driver (NVIDIA driver, Mesa radv/anv for AMD/Intel), ' +
  'or Mesa\'s software driver lavapipe (mesa-vulkan-drivers >= 25; on Debian 12 from bookworm-backports, see scripts/setup-vulkan.sh).';

/** Vulkan ICD manifests (one per installed Vulkan driver) in the loader's standard folders. */
export function vulkanIcds(): string[] {
  const dirs = ['/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d'];
  return dirs.flatMap((d) => {
    try {
      return readdirSync(d).filter((f) => f.endsWith('.json')).map((f) => path.join(d, f));
    } catch {
      return [];
    }
  });
}

/**
 * What the Vulkan loader will look at, in one phrase for device errors: the ICDs in the standard folders, or the
 * override variable and which of its files are missing.
 */
export function describeVulkanDrivers(): string {
  const o = vulkanDriverOverride();
  if (o) {
    const missing = o.files.filter((f) => !existsSync(f));
    return `${o.variable}=${o.files.join(':')} replaces the installed Vulkan drivers` + (missing.length ? ` (no such file: ${missing.join(', ')})` : '');
  }
  const icds = vulkanIcds();
  return `Vulkan ICDs found: ${icds.length ? icds.join(', ') : 'none'}`;
}
