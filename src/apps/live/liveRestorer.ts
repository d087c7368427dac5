import { Worker } from 'node:worker_threads';
import { FaceRestoreError } from '../../errors.ts';
import type { FromWorker, ToWorker } from './frameWorker.ts';
import { FrameScheduler, type MissPolicy, type ScheduledFrame } from './frameScheduler.ts';
import { checkI420, drawPassthroughMarker } from '../../compose/i420.ts';
import type { FaceInfo, RestoreStats } from './protocol.ts';

/** An I420 frame as @roamhq/wrtc's RTCVideoSink gives it and RTCVideoSource takes it. */
export interface I420Frame {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Options of a LiveRestorer. */
export interface LiveRestorerOptions {
  /** Pipeline options (restorer, model, detector, fidelity …); validated by the worker. */
  pipeline: Record<string, unknown>;
  /** Latency budget, ms (see FrameScheduler). */
  budgetMs: number;
  /** Run the face detector every this many frames (the tracker predicts in between). Default 2. */
  detectEvery?: number;
  /**
   * Without a restorer (pass-through), how often faces are looked for (for the page's overlay), ms;
   * 0 never. Default 500: face finding competes with the codecs for the CPU (measured at 1280×720 on 2
   * cores: pass-through round trip p50 124–132 ms without it, 143–160 ms at every 200 ms), and a 2 Hz
   * overlay is enough where nothing is restored.
   */
  passthroughFacesEveryMs?: number;
  /** A frame that cannot be restored in time: `drop` (default) or `passthrough` (see MissPolicy). */
  onMiss?: MissPolicy;
  /** Paint a marker on frames that go out unrestored. Default true. */
  passthroughMarker?: boolean;
  /** Receives every outgoing frame, in order. */
  onFrame: (frame: I420Frame, restored: boolean) => void;
  /** Receives a fatal worker error (the restorer then passes every frame through). */
  onError?: (error: Error) => void;
}

const WORKER_URL = new URL('./frameWorker.ts', import.meta.url);

/**
 * Real-time restoration of a stream of I420 frames: a worker thread restores one frame at a time and
 * a FrameScheduler decides, within the latency budget, which frames are restored, passed through
 * (marked) or dropped. Output order is arrival order. `push` never blocks.
 */
export class LiveRestorer {
  readonly restorerName: string;
  readonly detectorName: string;
  /** False with restorer `none`: frames go straight out and the worker only finds faces for the overlay. */
  readonly restoring: boolean;
  readonly #worker: Worker;
  readonly #scheduler: FrameScheduler<I420Frame, I420Frame>;
  readonly #o: LiveRestorerOptions;
  #faces: FaceInfo[] = [];
  /** Pass-through mode: a copy of a frame is with the worker for face finding. */
  #detecting = false;
  #detectSeq = 0;
  #lastDetect = -Infinity;
  #failed = false;
  #closed = false;
  #size = { width: 0, height: 0 };
  // Per-second windows for the stats.
  #window = { in: 0, out: 0, latency: [] as number[], work: [] as number[], start: performance.now() };
  #last = { fpsIn: 0, fpsOut: 0, peerLatencyMs: 0, workMs: 0 };

  private constructor(worker: Worker, ready: Extract<FromWorker, { type: 'ready' }>, o: LiveRestorerOptions) {
    this.#worker = worker;
    this.#o = o;
    this.restorerName = ready.restorer;
    this.detectorName = ready.detector;
    this.restoring = ready.restoring;
    this.#scheduler = new FrameScheduler<I420Frame, I420Frame>(o.budgetMs, {
      dispatch: (item) => this.#dispatch(item),
      emit: (item, result) => this.#emit(item, result),
      now: () => performance.now(),
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
    }, o.onMiss ?? 'drop');
    worker.on('message', (m: FromWorker) => this.#onMessage(m));
    worker.on('error', (e) => this.#fatal(e));
  }

  /** Starts the worker thread and loads the detector and restorer in it. */
  static async create(o: LiveRestorerOptions): Promise<LiveRestorer> {
    const worker = new Worker(WORKER_URL);
    let onMessage: ((m: FromWorker) => void) | undefined;
    let onError: ((e: Error) => void) | undefined;
    let onExit: ((code: number) => void) | undefined;
    try {
      const ready = await new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve, reject) => {
        onMessage = (m) => {
          if (m.type === 'ready') resolve(m);
          else if (m.type === 'fatal') reject(new FaceRestoreError('E_CONFIG', `restore worker: ${m.message}`));
        };
        onError = reject;
        onExit = (code) => reject(new FaceRestoreError('E_INTERNAL', `restore worker exited (${code}) while loading`));
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
        worker.postMessage({ type: 'init', pipeline: o.pipeline, detectEvery: o.detectEvery ?? 2 } satisfies ToWorker);
      });
      // Only these listeners (removeAllListeners would also drop the Worker's own bookkeeping).
      worker.off('message', onMessage!);
      worker.off('error', onError!);
      worker.off('exit', onExit!);
      return new LiveRestorer(worker, ready, o);
    } catch (e) {
      await worker.terminate();
      throw e;
    }
  }

  /** A decoded frame arrived (never blocks; the frame's buffer now belongs to the restorer). */
  push(frame: I420Frame): void {
    if (this.#closed) return;
    checkI420(frame.data, frame.width, frame.height);
    this.#size = { width: frame.width, height: frame.height };
    this.#window.in++;
    if (this.restoring) {
      this.#scheduler.push(frame);
      return;
    }
    // Nothing to restore: the frame goes out now, unmarked; the worker looks for faces when it is free.
    const c = this.#scheduler.counters;
    c.framesIn++;
    c.passedThrough++;
    const every = this.#o.passthroughFacesEveryMs ?? 500;
    const now = performance.now();
    if (every > 0 && !this.#detecting && !this.#failed && now - this.#lastDetect >= every) {
      this.#detecting = true;
      this.#lastDetect = now;
      const copy = new Uint8Array(frame.data);
      this.#worker.postMessage({ type: 'frame', seq: this.#detectSeq++, width: frame.width, height: frame.height, data: copy } satisfies ToWorker, [copy.buffer]);
    }
    this.#window.out++;
    this.#window.latency.push(0);
    this.#o.onFrame(frame, false);
  }

  /** Sets a face's w (trackId) or the default (trackId null); w null removes a face's override. */
  setFidelity(trackId: number | null, w: number | null): void {
    if (!this.#closed) this.#worker.postMessage({ type: 'fidelity', trackId, w } satisfies ToWorker);
  }

  /** Faces of the last restored frame. */
  get faces(): FaceInfo[] {
    return this.#faces;
  }

  /** Counters and per-second rates (rates refresh at most once a second). */
  stats(): RestoreStats {
    const now = performance.now();
    const w = this.#window;
    const span = now - w.start;
    if (span >= 1000) {
      this.#last = { fpsIn: (w.in * 1000) / span, fpsOut: (w.out * 1000) / span, peerLatencyMs: median(w.latency), workMs: median(w.work) };
      this.#window = { in: 0, out: 0, latency: [], work: [], start: now };
    }
    const c = this.#scheduler.counters;
    return {
      ...this.#last,
      framesIn: c.framesIn,
      restored: c.restored,
      passedThrough: c.passedThrough,
      dropped: c.dropped,
      width: this.#size.width,
      height: this.#size.height,
      restorer: this.#failed ? `${this.restorerName} (failed: passing through)` : this.restorerName,
      budgetMs: this.#o.budgetMs,
    };
  }

  /** Stops the worker (after releasing its models). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#scheduler.close();
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage({ type: 'close' } satisfies ToWorker);
    const timer = setTimeout(() => void this.#worker.terminate(), 3000);
    await exited;
    clearTimeout(timer);
  }

  #dispatch(item: ScheduledFrame<I420Frame>): void {
    if (this.#failed) {
      queueMicrotask(() => this.#scheduler.complete(item.seq, undefined));
      return;
    }
    const f = item.frame;
    // The worker gets a copy: the original stays here to be passed through if the restore is late.
    const copy = new Uint8Array(f.data);
    this.#worker.postMessage({ type: 'frame', seq: item.seq, width: f.width, height: f.height, data: copy } satisfies ToWorker, [copy.buffer]);
  }

  #emit(item: ScheduledFrame<I420Frame>, result: I420Frame | undefined): void {
    if (this.#closed) return;
    const frame = result ?? item.frame;
    if (!result && this.#o.passthroughMarker !== false) drawPassthroughMarker(frame.data, frame.width, frame.height);
    this.#window.out++;
    this.#window.latency.push(performance.now() - item.arrival);
    this.#o.onFrame(frame, result !== undefined);
  }

  #onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'done': {
        this.#faces = m.faces;
        this.#window.work.push(m.ms);
        if (!this.restoring) {
          this.#detecting = false;
          return;
        }
        // A frame without faces comes back unchanged: it still counts as restored (nothing to restore).
        this.#scheduler.complete(m.seq, { width: m.width, height: m.height, data: m.data });
        return;
      }
      case 'failed':
        if (!this.restoring) this.#detecting = false;
        else this.#scheduler.complete(m.seq, undefined);
        return;
      case 'fatal':
        this.#fatal(new FaceRestoreError('E_INTERNAL', `restore worker: ${m.message}`));
        return;
      default:
        return;
    }
  }

  #fatal(e: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#o.onError?.(e);
    const seq = this.#scheduler.inFlightSeq;
    if (seq !== undefined) this.#scheduler.complete(seq, undefined);
  }
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}
