import { FaceRestoreError } from '../../errors.ts';
import type { Restorer } from '../../restore/restorer.ts';
import { FileSink, type FileSinkOptions } from '../../stream/fileSink.ts';
import type { FrameSink } from '../../stream/sink.ts';
import type { FaceDetector } from '../../detect/detector.ts';
import type { FaceTracker, FidelityPolicy } from '../../track/tracker.ts';
import type { PipelineOptions, PipelineOptionsInput } from '../../engine/options.ts';
import { Components, type ComponentHooks } from '../../engine/components.ts';
import { runFile, type RunOptions, type RunSummary } from './runFile.ts';

export type { Progress, RunOptions, RunSummary } from './runFile.ts';

/** Hooks for the library API (see ComponentHooks). */
export type PipelineHooks = ComponentHooks;

/**
 * File-mode orchestrator for library callers: owns its component set (detector and restorer) and runs
 * files through it with `runFile`. `close()` aborts runs in flight (they reject with E_CLOSED) and
 * releases the components. Callers that keep their own component set use `runFile` directly.
 */
export class Pipeline {
  readonly components: Components;
  /** Runs in flight: their stop controller and their settling (close() waits for it). */
  readonly #runs = new Map<AbortController, Promise<unknown>>();
  #closed = false;

  private constructor(components: Components) {
    this.components = components;
  }

  /** Validates options (E_CONFIG) and loads the detector and restorer (model errors, E_DEVICE). */
  static async create(input: PipelineOptionsInput = {}, hooks: PipelineHooks = {}): Promise<Pipeline> {
    return new Pipeline(await Components.create(input, hooks));
  }

  /** Wraps a component set; the pipeline then owns it (its `close()` closes them). */
  static fromComponents(components: Components): Pipeline {
    return new Pipeline(components);
  }

  get options(): PipelineOptions {
    return this.components.options;
  }

  get detector(): FaceDetector {
    return this.components.detector;
  }

  get restorer(): Restorer | undefined {
    return this.components.restorer;
  }

  /** The execution provider the models run on (`auto` resolved). */
  get device(): string {
    return this.components.device;
  }

  /** Name of the restorer that runs (`none` when passthrough). */
  get restorerName(): string {
    return this.components.restorerName;
  }

  /** A fidelity policy per the options (default w, mode, per-track overrides), or the hook's. */
  newFidelityPolicy(): FidelityPolicy {
    return this.components.newFidelityPolicy();
  }

  /** A new tracker for one run (tracking state never carries over between videos). */
  newTracker(): FaceTracker {
    return this.components.newTracker();
  }

  /** Restores `input` into the file `output` (written atomically). */
  async restoreFile(input: string, output: string, encode: Omit<FileSinkOptions, 'output'> = {}, run: RunOptions = {}): Promise<RunSummary> {
    const sink = new FileSink({ ffmpegPath: this.options.ffmpegPath, ...encode, output, window: run.start !== undefined || run.duration !== undefined ? { start: run.start, duration: run.duration } : undefined });
    const summary = await this.run(input, sink, run);
    return { ...summary, output };
  }

  /** Runs the whole file through the stages into `sink` (see runFile). On error the sink is aborted and the error rethrown. */
  async run(input: string, sink: FrameSink, run: RunOptions = {}): Promise<RunSummary> {
    if (this.#closed) throw new FaceRestoreError('E_CLOSED', 'pipeline is closed');
    // One controller per run: close() stops it, and so does the caller's signal.
    const stop = new AbortController();
    const forward = () => stop.abort(run.signal?.reason);
    if (run.signal?.aborted) forward();
    run.signal?.addEventListener('abort', forward, { once: true });
    const running = runFile(this.components, input, sink, { ...run, signal: stop.signal });
    this.#runs.set(stop, running.catch(() => undefined));
    try {
      return await running;
    } finally {
      run.signal?.removeEventListener('abort', forward);
      this.#runs.delete(stop);
    }
  }

  /**
   * Aborts runs in flight (they reject with E_CLOSED) and waits for them to unwind (their ffmpeg
   * processes gone, no stage still inside the detector or restorer), then releases the detector and
   * restorer. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closing = new FaceRestoreError('E_CLOSED', 'pipeline closed during a run');
    for (const stop of this.#runs.keys()) stop.abort(closing);
    await Promise.all(this.#runs.values());
    await this.components.close();
  }
}

/** Creates a file-mode pipeline (library entry point). */
export function createPipeline(options: PipelineOptionsInput = {}, hooks: PipelineHooks = {}): Promise<Pipeline> {
  return Pipeline.create(options, hooks);
}
