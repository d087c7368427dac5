/**
 * What the host CPU offers ONNX Runtime's CPU kernels (MLAS), read from the kernel's `/proc/cpuinfo` on Linux.
 * Nothing is cached: callers ask once per model load.
 */
import { readFileSync } from 'node:fs';

/**
 * The channel block of MLAS's blocked-layout (NCHWc) convolutions on this CPU: 16 with AVX-512F, 8 with AVX2,
 * undefined where it is not known (not x64, not Linux, no AVX2): the caller then leaves graphs as they are.
 * Why it matters: padding channels to the wrong block costs more than it saves. BlazeFace-256 on one thread,
 * AMD EPYC (Zen 3, AVX2), load 1–2: original graph 6.1–7.8 ms, padded to 8 5.8–6.6 ms, padded to 16
 * 8.2–8.8 ms (2026-12-07, /tmp scratch loop over 5 interleaved rounds of 100 runs).
 * `cpuinfo` is the file's text (for tests); default: read `/proc/cpuinfo`.
 */
export function nchwcBlock(cpuinfo?: string, arch: string = process.arch): 16 | 8 | undefined {
  if (arch !== 'x64') return undefined;
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return undefined;
    }
  }
  const line = /^flags\s*:(.*)$/m.exec(text);
  if (!line) return undefined;
  const flags = new Set(line[1]!.trim().split(/\s+/));
  if (flags.has('avx512f')) return 16;
  if (flags.has('avx2') && flags.has('fma')) return 8;
  return undefined;
}
