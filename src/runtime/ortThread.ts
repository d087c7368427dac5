/**
 * An ONNX Runtime session on its own worker thread. ORT's Node binding runs a session synchronously on the
 * calling thread (its `run` is a blocking native call inside a `setImmediate`), so on the main thread every
 * inference blocks the event loop: the decoder's and encoder's pipes go unserviced and the codecs stall
 * behind the model. Here the session lives in a worker (see ortWorker.ts); `run` posts the feeds there and
 * the event loop stays free. Feeds and outputs are copied (structured clone).
 */
import { Worker } from 'node:worker_threads';
import { FaceRestoreError, type ErrorCode } from '../errors.ts';
import type { Provider } from '../types.ts';
import type { TensorData, TensorSpec } from './ort.ts';

/** What crosses to the worker to open a session (callbacks stay here; warnings come back as messages). */
export interface ThreadSessionOptions {
  device?: string;
  intraOpThreads?: number;
  threadSpinning?: boolean;
  name: string;
  cudaDeviceId?: number;
  strictDevice?: boolean;
}

/** A typed error as data, revived on this side (code, message, details). */
interface ErrorData {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

type Reply =
  | { id: number; ok: true; value: unknown; cpuMs?: number }
  | { id: number; ok: false; error: ErrorData }
  | { id: -1; note: 'warning' | 'info'; message: string };

// Source checkouts run the .ts files (type stripping); the compiled package runs .js beside this file.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './ortWorker.ts' : './ortWorker.js', import.meta.url);

let cpuTotal = 0;

/**
 * CPU ms (thread CPU time, user + system) that every worker-thread session of this process has spent inside
 * its runs so far; differences of two readings give what was spent in between. (A process-wide tally, like
 * process.cpuUsage: the workers' threads are not visible to the main thread's clock.)
 */
export function threadSessionsCpuMs(): number {
  return cpuTotal;
}

/** A session in a worker thread; see the module comment. */
export class ThreadSession {
  inputs: readonly TensorSpec[] = [];
  outputs: readonly TensorSpec[] = [];
  provider: Provider = 'cpu';
  readonly #name: string;
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  #nextId = 0;
  #dead: Error | undefined;

  private constructor(name: string, notes: { onWarning?: (m: string) => void; onInfo?: (m: string) => void }) {
    this.#name = name;
    this.#worker = new Worker(WORKER_URL);
    this.#worker.on('message', (r: Reply) => {
      if ('note' in r) {
        (r.note === 'warning' ? notes.onWarning : notes.onInfo)?.(r.message);
        return;
      }
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if ('value' in r) {
        if (r.cpuMs) cpuTotal += r.cpuMs;
        p.resolve(r.value);
      }
      else if ('error' in r) p.reject(new FaceRestoreError(r.error.code, r.error.message, r.error.details ? { details: r.error.details } : {}));
    });
    this.#worker.on('error', (e) => this.#fail(new FaceRestoreError('E_MODEL_RUN', `model ${name}: its worker thread failed: ${e.message}`, { cause: e })));
    this.#worker.on('exit', (code) => this.#fail(new FaceRestoreError('E_CLOSED', `model ${name}: its worker thread exited (${code})`)));
  }

  /** Starts a worker and opens the model there; errors are the ones OrtModel.create throws. */
  static async open(bytes: Uint8Array, options: ThreadSessionOptions, notes: { onWarning?: (m: string) => void; onInfo?: (m: string) => void } = {}): Promise<ThreadSession> {
    const s = new ThreadSession(options.name, notes);
    try {
      const opened = (await s.#call({ op: 'open', bytes, options })) as { inputs: TensorSpec[]; outputs: TensorSpec[]; provider: Provider };
      s.inputs = opened.inputs;
      s.outputs = opened.outputs;
      s.provider = opened.provider;
      return s;
    } catch (e) {
      await s.#worker.terminate();
      throw e;
    }
  }

  #fail(e: Error): void {
    this.#dead ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  #call(msg: Record<string, unknown>): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise<unknown>((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...msg, id });
    });
  }

  /** Runs the session on the worker (the caller has checked the feeds). */
  async run(feeds: Readonly<Record<string, TensorData>>): Promise<Record<string, TensorData>> {
    try {
      return (await this.#call({ op: 'run', feeds })) as Record<string, TensorData>;
    } catch (e) {
      if (e instanceof FaceRestoreError) throw e;
      throw new FaceRestoreError('E_MODEL_RUN', `model ${this.#name}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Releases the session and stops the worker. Idempotent. */
  async release(): Promise<void> {
    if (!this.#dead) await this.#call({ op: 'close' }).catch(() => undefined);
    this.#dead ??= new FaceRestoreError('E_CLOSED', `model ${this.#name} is closed`);
    await this.#worker.terminate();
  }
}
