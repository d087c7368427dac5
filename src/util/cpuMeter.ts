import { readFileSync } from 'node:fs';
import type { StageCpu } from '../types.ts';

/** Stage names a StageCpuMeter accounts (every StageCpu field but `other`, which is what is left). */
export type CpuStage = Exclude<keyof StageCpu, 'other'>;

/**
 * Milliseconds of CPU the calling thread has used (user + system), from process.threadCpuUsage (Node ≥ 22.18,
 * what the launcher runs); on an older Node the whole process's CPU stands in (then `offMainMs` is 0).
 */
export function threadCpuMs(): number {
  const p = process as NodeJS.Process & { threadCpuUsage?: () => NodeJS.CpuUsage };
  const u = p.threadCpuUsage ? p.threadCpuUsage() : process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Main-thread CPU accounting by stage: a stage brackets its synchronous sections with `now()` … `add()`,
 * so what is counted is the thread's CPU time, never time spent awaiting (which on one event loop is other
 * stages' work). Whatever the main thread did outside every bracket ends up in `other` (see `result`).
 * Off-main-thread CPU (ONNX Runtime's pools, worker threads) is counted as a whole by `offMainMs`.
 */
export class StageCpuMeter {
  readonly ms: StageCpu = { decode: 0, detect: 0, track: 0, align: 0, restore: 0, paste: 0, encode: 0, other: 0 };
  readonly #threadStart = threadCpuMs();
  readonly #processStart = process.cpuUsage();

  /** The thread's CPU clock, ms (pass it back to `add`). */
  now(): number {
    return threadCpuMs();
  }

  /** Charges the thread CPU used since `since` (a `now()` reading) to `stage`; returns the new reading. */
  add(stage: CpuStage, since: number): number {
    const t = threadCpuMs();
    this.ms[stage] += t - since;
    return t;
  }

  /**
   * Charges `ms` of this thread's CPU that was spent outside every bracket (e.g. ONNX Runtime's synchronous
   * runs, which happen in callbacks of their own: see RunCpuTally) to `stage`; `other` falls by as much.
   */
  charge(stage: CpuStage, ms: number): void {
    this.ms[stage] += ms;
  }

  /** CPU ms of every other thread of the process since the meter was made (process CPU − this thread's). */
  offMainMs(): number {
    const p = process.cpuUsage(this.#processStart);
    return Math.max(0, (p.user + p.system) / 1000 - (threadCpuMs() - this.#threadStart));
  }

  /** The per-stage figures so far, with `other` = this thread's CPU since creation − Σ stages. */
  result(): StageCpu {
    const total = threadCpuMs() - this.#threadStart;
    const r = { ...this.ms };
    r.other = Math.max(0, total - (r.decode + r.detect + r.track + r.align + r.restore + r.paste + r.encode));
    return r;
  }
}

/**
 * CPU ms (user + system) of this process's children that have exited and been reaped, from the cutime and
 * cstime fields of /proc/self/stat (Linux; clock ticks taken as 100 per second, the kernel's USER_HZ on every
 * mainstream Linux). Undefined where /proc is not available. Differences of two readings give the CPU of the
 * children reaped in between, whole (all their threads), which /proc/<pid>/stat read while they run cannot
 * (it misses what they do after the last read, e.g. the encoder's final flush).
 */
export function reapedChildrenCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cutime = Number(f[16 - 3]);
    const cstime = Number(f[17 - 3]);
    return Number.isFinite(cutime) && Number.isFinite(cstime) ? (cutime + cstime) * 10 : undefined;
  } catch {
    return undefined;
  }
}
