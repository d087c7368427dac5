import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { FaceRestoreError } from '../errors.ts';

/** Exit of a child process. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Options of ChildRunner.start. */
export interface RunnerOptions {
  /** Bytes of stderr kept for error messages (the tail). Default 64 KiB. */
  stderrLimit?: number;
  /** Called with each complete stderr line. */
  onStderrLine?: (line: string) => void;
  /**
   * The child's stdout: this socket (duplicated into the child, then closed here; `child.stdout` is null)
   * instead of a pipe. See util/socketPair.ts.
   */
  stdout?: Socket;
}

/**
 * A spawned child with piped stdio, a bounded tail of its stderr, and an idempotent kill.
 * Spawning lives here; argument lists come from pure builders elsewhere.
 */
export class ChildRunner {
  readonly command: string;
  readonly args: readonly string[];
  readonly child: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  #stderr = '';
  readonly #stderrLimit: number;
  #onStderrLine: ((line: string) => void) | undefined;
  #pending = '';

  private constructor(command: string, args: readonly string[], options: RunnerOptions) {
    this.command = command;
    this.args = args;
    this.#stderrLimit = options.stderrLimit ?? 64 * 1024;
    this.#onStderrLine = options.onStderrLine;
    this.child = spawn(command, args as string[], { stdio: ['pipe', options.stdout ?? 'pipe', 'pipe'] });
    // The child has its own copy of the socket now; this process reads through the other end.
    options.stdout?.destroy();
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => resolve({ code, signal }));
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => this.#takeStderr(chunk));
    // EPIPE on stdin when the child exits early is reported through the exit status instead.
    this.child.stdin!.on('error', () => undefined);
  }

  /**
   * Starts `command`. Rejects with E_FFMPEG_MISSING-style errors through `missingCode` when the
   * executable cannot be found.
   */
  static async start(
    command: string,
    args: readonly string[],
    options: RunnerOptions & { missingCode?: 'E_FFMPEG_MISSING' } = {},
  ): Promise<ChildRunner> {
    const runner = new ChildRunner(command, args, options);
    await new Promise<void>((resolve, reject) => {
      runner.child.once('spawn', () => resolve());
      runner.child.once('error', (e: NodeJS.ErrnoException) => {
        reject(
          new FaceRestoreError(options.missingCode ?? 'E_INTERNAL', e.code === 'ENOENT' ? `${command} not found on PATH: install it (Debian: apt-get install ffmpeg)` : `cannot start ${command}: ${e.message}`, { cause: e }),
        );
      });
    });
    return runner;
  }

  /** The last part of stderr (bounded). */
  get stderr(): string {
    return this.#stderr;
  }

  /** The last non-empty stderr lines, for error messages; lines that report errors are preferred over progress lines. */
  stderrTail(lines = 5): string {
    const all = this.#stderr.split('\n').map((l) => l.trim()).filter(Boolean);
    const errors = all.filter((l) => /error|invalid|corrupt|fail|no such|not found|unable|cannot/i.test(l));
    return (errors.length ? errors : all).slice(-lines).join(' | ');
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Kills the process (SIGKILL after `graceMs` if SIGTERM is ignored) and waits for it. Idempotent. */
  async kill(graceMs = 2000): Promise<ProcessExit> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      timer.unref();
      const exit = await this.exited;
      clearTimeout(timer);
      return exit;
    }
    return this.exited;
  }

  #takeStderr(chunk: string): void {
    this.#stderr += chunk;
    if (this.#stderr.length > this.#stderrLimit) this.#stderr = this.#stderr.slice(-this.#stderrLimit);
    if (!this.#onStderrLine) return;
    this.#pending += chunk;
    let nl: number;
    while ((nl = this.#pending.indexOf('\n')) >= 0) {
      this.#onStderrLine(this.#pending.slice(0, nl));
      this.#pending = this.#pending.slice(nl + 1);
    }
  }
}
