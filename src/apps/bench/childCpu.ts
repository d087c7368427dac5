import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

/** CPU seconds used by this process's waited-for children, user and system; undefined off Linux. */
export interface ChildCpu {
  userSeconds: number;
  systemSeconds: number;
}

/**
 * Reads the kernel's accounting of waited-for children (cutime, cstime of /proc/self/stat). These are
 * what wait4() hands a parent: a child's own time plus that of every descendant it waited for in turn,
 * so one `facerestore restore` child counts with its ffmpeg decoder and encoder and its worker threads.
 * Node's process.resourceUsage() is RUSAGE_SELF only, hence /proc. Resolution: one clock tick (10 ms).
 * The difference of two readings is the CPU of the children that exited in between: the benchmark runs
 * one child at a time, so that is the measured run's whole process tree.
 */
export class ChildCpuMeter {
  readonly #ticksPerSecond: number;

  private constructor(ticksPerSecond: number) {
    this.#ticksPerSecond = ticksPerSecond;
  }

  /** A meter; on a system without /proc its readings are undefined. */
  static async create(): Promise<ChildCpuMeter> {
    let hz = 100; // USER_HZ on every mainstream Linux architecture; getconf confirms where it can
    try {
      const { stdout } = await promisify(execFile)('getconf', ['CLK_TCK']);
      const n = Number(stdout.trim());
      if (n > 0) hz = n;
    } catch {
      // no getconf: keep USER_HZ
    }
    return new ChildCpuMeter(hz);
  }

  /** Children's CPU so far, or undefined where /proc/self/stat cannot be read. */
  async read(): Promise<ChildCpu | undefined> {
    let stat: string;
    try {
      stat = await readFile('/proc/self/stat', 'utf8');
    } catch {
      return undefined;
    }
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, cutime 16, cstime 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cutime = Number(fields[16 - 3]);
    const cstime = Number(fields[17 - 3]);
    if (!Number.isFinite(cutime) || !Number.isFinite(cstime)) return undefined;
    return { userSeconds: cutime / this.#ticksPerSecond, systemSeconds: cstime / this.#ticksPerSecond };
  }

  /** Runs `fn` (which must start and wait for its children) and returns its result with the children's CPU seconds. */
  async measure<T>(fn: () => Promise<T>): Promise<{ result: T; wallSeconds: number; cpuSeconds: number | undefined }> {
    const before = await this.read();
    const t = performance.now();
    const result = await fn();
    const wallSeconds = (performance.now() - t) / 1000;
    const after = await this.read();
    const cpuSeconds = before && after ? after.userSeconds + after.systemSeconds - before.userSeconds - before.systemSeconds : undefined;
    return { result, wallSeconds, cpuSeconds };
  }
}
