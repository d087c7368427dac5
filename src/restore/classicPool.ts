import { Worker } from 'node:worker_threads';
import { FaceRestoreError, reviveError } from '../errors.ts';
import type { ClassicParams } from './classicKernel.ts';
import { CROP_BYTES } from './restorer.ts';
import type { ClassicWorkerData, FromClassicWorker, ToClassicWorker } from './classicWorker.ts';
import { siblingModule } from '../util/siblingModule.ts';

const WORKER_URL = siblingModule('classicWorker', import.meta.url);

/**
 * Crops a worker holds at once. Two, so that one crop's JS median runs while the previous one's libvips
 * blur and resize finish; more only holds shared memory (1.5 MB a crop) without keeping the cores busier.
 */
const PER_WORKER = 2;
/** Result buffers kept for reuse at most (a batch of 16 faces and a second batch in flight). */
const MAX_SPARE_RESULTS = 32;

/** Shared input and output memory of one crop in flight. */
interface Slot {
  input: SharedArrayBuffer;
  output: SharedArrayBuffer;
  inView: Uint8Array;
  outView: Uint8Array;
}

interface Job {
  crop: Uint8Array;
  w: number;
  resolve: (out: Uint8Array) => void;
  reject: (e: unknown) => void;
}

interface Running extends Job {
  slot: Slot;
  worker: Member;
}

interface Member {
  worker: Worker;
  inFlight: number;
  /** The worker thread's own CPU ms: its clock when it had loaded, and as of its last finished crop. */
  cpuAtReady: number;
  cpuMs: number;
}

/**
 * A fixed set of worker threads running the classic restorer's kernel on crops in shared memory (the
 * crop is copied into a SharedArrayBuffer, the worker writes its result into another; no pixels cross a
 * message). Crops beyond what the workers hold wait in a FIFO here, so any batch size works with bounded
 * memory. Results keep their request's identity: each `run` resolves with its own crop, whatever order
 * the workers finish in. Idle workers do not keep the process alive; `close()` terminates them.
 */
export class ClassicPool {
  readonly #members: Member[];
  readonly #waiting: Job[] = [];
  readonly #running = new Map<number, Running>();
  readonly #free: Slot[] = [];
  /** Result buffers given back (release), handed out again with later results; at most MAX_SPARE_RESULTS. */
  readonly #spareResults: Uint8Array[] = [];
  readonly #isSpare = new WeakSet<Uint8Array>();
  #nextId = 0;
  #failure: FaceRestoreError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(workers: Worker[], cpuAtReady: number[]) {
    this.#members = workers.map((worker, i) => ({ worker, inFlight: 0, cpuAtReady: cpuAtReady[i]!, cpuMs: cpuAtReady[i]! }));
    for (const m of this.#members) {
      m.worker.on('message', (msg: FromClassicWorker) => this.#onMessage(msg));
      m.worker.on('error', (e) => this.#fail(new FaceRestoreError('E_INTERNAL', `classic restorer worker failed: ${e.message}`, { cause: e })));
      m.worker.on('exit', (code) => {
        if (!this.#closing) this.#fail(new FaceRestoreError('E_INTERNAL', `classic restorer worker exited (${code})`));
      });
      m.worker.unref();
    }
  }

  /**
   * Starts `size` workers (≥ 1) with the kernel's settings and waits until each has loaded.
   * @throws FaceRestoreError E_INTERNAL when a worker cannot start (the others are terminated)
   */
  static async create(size: number, params: ClassicParams): Promise<ClassicPool> {
    if (!Number.isInteger(size) || size < 1) throw new TypeError(`Expected a positive integer for the pool size but received ${size}`);
    const workers = Array.from({ length: size }, () => new Worker(WORKER_URL, { workerData: { params } satisfies ClassicWorkerData }));
    let cpuAtReady: number[];
    try {
      cpuAtReady = await Promise.all(workers.map((w) => ready(w)));
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw new FaceRestoreError('E_INTERNAL', `classic restorer worker did not start: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return new ClassicPool(workers, cpuAtReady);
  }

  /** Number of workers. */
  get size(): number {
    return this.#members.length;
  }

  /** The workers' thread ids (to check in tests that they are gone after close). */
  get threadIds(): number[] {
    return this.#members.map((m) => m.worker.threadId);
  }

  /**
   * CPU ms the workers' JS threads have used on crops (each thread's CPU clock at its last finished crop less
   * its clock once loaded, summed; start-up is not counted); libvips's threads, which the kernel's blur and
   * resize run on, are not in it.
   */
  get workerCpuMs(): number {
    return this.#members.reduce((s, m) => s + m.cpuMs - m.cpuAtReady, 0);
  }

  /** Restores one crop (CROP_BYTES, checked by the caller) with weight `w`; resolves to a new buffer. */
  run(crop: Uint8Array, w: number): Promise<Uint8Array> {
    if (this.#closing) return Promise.reject(new FaceRestoreError('E_CLOSED', 'the classic restorer is closed'));
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ crop, w, resolve, reject });
      this.#pump();
    });
  }

  /** Hands waiting crops to the least busy workers while they have room. */
  #pump(): void {
    while (this.#waiting.length > 0) {
      let m = this.#members[0]!;
      for (const o of this.#members) if (o.inFlight < m.inFlight) m = o;
      if (m.inFlight >= PER_WORKER) return;
      const job = this.#waiting.shift()!;
      const slot = this.#free.pop() ?? newSlot();
      slot.inView.set(job.crop);
      const id = this.#nextId++;
      this.#running.set(id, { ...job, slot, worker: m });
      if (m.inFlight++ === 0) m.worker.ref();
      m.worker.postMessage({ type: 'run', id, input: slot.input, output: slot.output, w: job.w } satisfies ToClassicWorker);
    }
  }

  /** Takes back result buffers the caller is done with (see Restorer.release). */
  release(outputs: readonly Uint8Array[]): void {
    for (const o of outputs) {
      if (o.length !== CROP_BYTES || this.#isSpare.has(o) || this.#spareResults.length >= MAX_SPARE_RESULTS) continue;
      this.#isSpare.add(o);
      this.#spareResults.push(o);
    }
  }

  #onMessage(msg: FromClassicWorker): void {
    if (msg.type === 'ready') return;
    const job = this.#running.get(msg.id);
    if (!job) return;
    this.#running.delete(msg.id);
    if (--job.worker.inFlight === 0) job.worker.worker.unref();
    if (msg.type === 'done') job.worker.cpuMs = msg.cpuMs;
    if (msg.type === 'done') {
      const spare = this.#spareResults.pop();
      if (spare) this.#isSpare.delete(spare);
      const out = spare ?? new Uint8Array(CROP_BYTES);
      out.set(job.slot.outView);
      job.resolve(out);
    }
    else job.reject(reviveError(msg.error));
    this.#free.push(job.slot);
    this.#pump();
  }

  /** A worker died or threw outside a job: every crop waiting or in flight fails, and so does every later run. */
  #fail(e: FaceRestoreError): void {
    this.#failure ??= e;
    this.#rejectAll(e);
  }

  #rejectAll(e: FaceRestoreError): void {
    for (const job of this.#waiting.splice(0)) job.reject(e);
    for (const job of this.#running.values()) job.reject(e);
    this.#running.clear();
    for (const m of this.#members) {
      m.inFlight = 0;
      m.worker.unref();
    }
  }

  /** Terminates the workers; crops still waiting or in flight fail with E_CLOSED. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#rejectAll(new FaceRestoreError('E_CLOSED', 'the classic restorer was closed before this crop was done'));
      await Promise.all(this.#members.map((m) => m.worker.terminate()));
    })();
    return this.#closing;
  }
}

function newSlot(): Slot {
  const input = new SharedArrayBuffer(CROP_BYTES);
  const output = new SharedArrayBuffer(CROP_BYTES);
  return { input, output, inView: new Uint8Array(input), outView: new Uint8Array(output) };
}

/** Resolves with the worker's CPU clock once it reports it has loaded; rejects when it fails or exits first. */
function ready(w: Worker): Promise<number> {
  return new Promise((resolve, reject) => {
    const done = (f: () => void): void => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      f();
    };
    const onMessage = (m: FromClassicWorker): void => {
      if (m.type === 'ready') done(() => resolve(m.cpuMs));
    };
    const onError = (e: Error): void => done(() => reject(e));
    const onExit = (code: number): void => done(() => reject(new Error(`exited (${code}) while loading`)));
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
  });
}
