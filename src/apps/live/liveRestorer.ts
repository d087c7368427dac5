import { Worker } from 'node:worker_threads';
import { checkI420, drawPassthroughMarker } from '../../compose/i420.ts';
import { parsePortableOptions, type LocalSettingsInput, type PortableOptionsInput } from '../../engine/options.ts';
import { FaceRestoreError, reviveError } from '../../errors.ts';
import { TypedEmitter } from '../../util/typedEmitter.ts';
import { FrameScheduler, type MissPolicy, type ScheduledFrame } from './frameScheduler.ts';
import type { FromWorker, ToWorker } from './frameWorkerProtocol.ts';
import type { FaceInfo, RestoreStats } from './protocol.ts';
import { siblingModule } from '../../util/siblingModule.ts';
import { DEFAULT_REFINE_EVERY, MAX_REFINE_EVERY } from './peerConfig.ts';

/** An I420 frame as @roamhq/wrtc's RTCVideoSink gives it and RTCVideoSource takes it, with its time. */
export interface I420Frame {
  width: number;
  height: number;
  data: Uint8Array;
  /**
   * Presentation time, seconds since the stream started. @roamhq/wrtc 0.10's sink frames carry no
   * timestamp (only width, height, rotation, data), so the restore peer uses the receive time.
   */
  pts: number;
}

/** Events of a LiveRestorer. */
export type LiveRestorerEvents = {
  /** A frame goes out (every frame, in arrival order): restored, or passed through unrestored. */
  frame: [frame: I420Frame, restored: boolean];
  /** One frame could not be restored (it went out unrestored or was dropped, per the miss policy). */
  framefailed: [index: number, error: FaceRestoreError];
  /** The worker failed for good: from now on every frame passes through. */
  failed: [error: FaceRestoreError];
};

/** Options of a LiveRestorer. */
export interface LiveRestorerOptions {
  /** What to run (restorer, model, detector, fidelity …): portable options, validated here (E_CONFIG). */
  pipeline: PortableOptionsInput;
  /** This machine's settings for the worker (cache folder for built models). Default none. */
  local?: LocalSettingsInput;
  /** Latency budget, ms (see FrameScheduler). */
  budgetMs: number;
  /** Run the face detector every this many frames (the tracker predicts in between). Default 2. */
  detectEvery?: number;
  /**
   * With landmark refinement (`landmarks`, the default): the 68-point net runs on every this many full
   * detections, and on any with a new face; the others carry each face's last refinement over (LiveDetector).
   * An integer in 1…MAX_REFINE_EVERY (E_CONFIG otherwise). Default DEFAULT_REFINE_EVERY (3).
   */
  refineEvery?: number;
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
  /** Where a listener's exception goes (default the console); it never reaches the frame path. */
  onListenerError?: (event: string, error: unknown) => void;
}

const WORKER_URL = siblingModule('frameWorker', import.meta.url);

/**
 * Real-time restoration of a stream of I420 frames: a worker thread restores one frame at a time and
 * a FrameScheduler decides, within the latency budget, which frames are restored, passed through
 * (marked) or dropped. Output frames are `frame` events, in arrival order. `push` never blocks.
 */
export class LiveRestorer extends TypedEmitter<LiveRestorerEvents> {
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
  /** Worker time by part, summed over every frame the worker finished (RestoreStats.stagesMs). */
  readonly #stages = { frames: 0, detect: 0, convert: 0, refine: 0, warp: 0, restore: 0, paste: 0, total: 0 };

  private constructor(worker: Worker, ready: Extract<FromWorker, { type: 'ready' }>, o: LiveRestorerOptions) {
    super(o.onListenerError);
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
    worker.on('error', (e) => this.#fatal(new FaceRestoreError('E_INTERNAL', `restore worker: ${e.message}`, { cause: e })));
  }

  /** Validates the options (E_CONFIG), starts the worker thread and loads the detector and restorer in it (their errors, revived). */
  static async create(o: LiveRestorerOptions): Promise<LiveRestorer> {
    const options = parsePortableOptions(o.pipeline);
    const refineEvery = o.refineEvery ?? DEFAULT_REFINE_EVERY;
    if (!Number.isInteger(refineEvery) || refineEvery < 1 || refineEvery > MAX_REFINE_EVERY) {
      throw new FaceRestoreError('E_CONFIG', `Expected an integer in 1…${MAX_REFINE_EVERY} for refineEvery but received ${refineEvery}`);
    }
    const worker = new Worker(WORKER_URL);
    try {
      const ready = await new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve, reject) => {
        // Only these listeners come off afterwards (removeAllListeners would also drop the Worker's own bookkeeping).
        const settle = (result: () => void) => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
          result();
        };
        const onMessage = (m: FromWorker) => {
          if (m.type === 'ready') settle(() => resolve(m));
          else if (m.type === 'fatal') settle(() => reject(reviveError(m.error)));
        };
        const onError = (e: Error) => settle(() => reject(new FaceRestoreError('E_INTERNAL', `restore worker: ${e.message}`, { cause: e })));
        const onExit = (code: number) => settle(() => reject(new FaceRestoreError('E_INTERNAL', `restore worker exited (${code}) while loading`)));
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
        worker.postMessage({ type: 'init', options, local: o.local ?? {}, detectEvery: o.detectEvery ?? 2, refineEvery } satisfies ToWorker);
      });
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
      this.#worker.postMessage({ type: 'frame', index: this.#detectSeq++, pts: frame.pts, width: frame.width, height: frame.height, data: copy } satisfies ToWorker, [copy.buffer]);
    }
    this.#window.out++;
    this.#window.latency.push(0);
    this.safeEmit('frame', frame, false);
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
      stagesMs: { ...this.#stages },
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
    this.#worker.postMessage({ type: 'frame', index: item.seq, pts: f.pts, width: f.width, height: f.height, data: copy } satisfies ToWorker, [copy.buffer]);
  }

  #emit(item: ScheduledFrame<I420Frame>, result: I420Frame | undefined): void {
    if (this.#closed) return;
    const frame = result ?? item.frame;
    if (!result && this.#o.passthroughMarker !== false) drawPassthroughMarker(frame.data, frame.width, frame.height);
    this.#window.out++;
    this.#window.latency.push(performance.now() - item.arrival);
    this.safeEmit('frame', frame, result !== undefined);
  }

  #onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'done': {
        this.#faces = m.faces;
        this.#window.work.push(m.ms);
        const st = this.#stages;
        st.frames++;
        for (const k of ['detect', 'convert', 'refine', 'warp', 'restore', 'paste', 'total'] as const) st[k] += m.stagesMs[k];
        if (!this.restoring) {
          this.#detecting = false;
          return;
        }
        // A frame without faces comes back unchanged: it still counts as restored (nothing to restore).
        this.#scheduler.complete(m.index, { width: m.width, height: m.height, data: m.data, pts: m.pts });
        return;
      }
      case 'failed':
        if (!this.restoring) this.#detecting = false;
        else this.#scheduler.complete(m.index, undefined);
        this.safeEmit('framefailed', m.index, reviveError(m.error));
        return;
      case 'fatal':
        this.#fatal(reviveError(m.error));
        return;
      default:
        return;
    }
  }

  #fatal(e: FaceRestoreError): void {
    if (this.#failed) return;
    this.#failed = true;
    this.safeEmit('failed', e);
    const seq = this.#scheduler.inFlightSeq;
    if (seq !== undefined) this.#scheduler.complete(seq, undefined);
  }
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}
