import { FaceRestoreError } from '../errors.ts';
import { VideoDecoder } from '../ingest/decoder.ts';
import { probeVideo } from '../ingest/probe.ts';
import { createRestorer } from '../restore/createRestorer.ts';
import type { Restorer } from '../restore/restorer.ts';
import { FileSink, type FileSinkOptions } from '../stream/fileSink.ts';
import type { FrameSink } from '../stream/sink.ts';
import { createDetector } from '../track/createDetector.ts';
import type { FaceDetector } from '../track/detector.ts';
import { TrackFidelity } from '../track/fidelity.ts';
import { MultiFaceTracker } from '../track/multiTracker.ts';
import { ConstantFidelity, PerFrameTracker, type FaceTracker, type FidelityPolicy, type TrackerFrameSummary } from '../track/tracker.ts';
import type { AnalyzedFrame, Face, StageTimes, VideoFrame, VideoInfo } from '../types.ts';
import { BoundedQueue } from './boundedQueue.ts';
import { emptyStageTimes, FaceProcessor, type PreparedFrame } from './faceProcessor.ts';
import { parsePipelineOptions, type PipelineOptions, type PipelineOptionsInput } from './options.ts';

/** Progress report, sent after each encoded frame. */
export interface Progress {
  frames: number;
  /** Expected total (exact when the container declares it). */
  totalFrames: number;
  /** Frames per second since the start. */
  fps: number;
  /** Estimated seconds left. */
  etaSeconds: number;
}

/** What a run did. */
export interface RunSummary {
  input: string;
  output: string | undefined;
  width: number;
  height: number;
  frameRate: string;
  variableFrameRate: boolean;
  frames: number;
  faces: number;
  framesWithFaces: number;
  restorer: string;
  detector: string;
  /** Wall-clock seconds for the whole run. */
  seconds: number;
  /** Milliseconds per stage; stages overlap, so they can add up to more than the wall time. */
  stageMs: StageTimes;
  /** Peak resident memory of this process so far, MiB. */
  peakRssMB: number;
}

/** Per-run options. */
export interface RunOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Decode only from this time, seconds. */
  start?: number;
  /** Decode only this long, seconds. */
  duration?: number;
  /** A tracker for this run (default: the pipeline's tracker factory). */
  tracker?: FaceTracker;
  /** Called once with the probed input before the first frame. */
  onStart?: (info: VideoInfo) => void;
  /** Called with each frame's tracked faces, in frame order (e.g. a tracks export). */
  onTracked?: (frame: VideoFrame, faces: readonly Face[], info: TrackerFrameSummary | undefined) => void;
}

/** Hooks for the library API. */
export interface PipelineHooks {
  /** Makes a fresh tracker per run (tracking state must not leak between videos). */
  trackerFactory?: (policy: FidelityPolicy) => FaceTracker;
  /** Fidelity policy; default the constant `fidelity` option. */
  fidelityPolicy?: FidelityPolicy;
  onWarning?: (message: string) => void;
  onInfo?: (message: string) => void;
}

/**
 * File-mode orchestrator: decode → detect/track/align → batched restore → paste → sink, with bounded
 * queues between the stages (never drops a frame; output is in frame order). Owns its detector and
 * restorer; `close()` releases them.
 */
export class Pipeline {
  readonly options: PipelineOptions;
  readonly detector: FaceDetector;
  readonly restorer: Restorer | undefined;
  readonly #hooks: PipelineHooks;
  #closed = false;

  private constructor(options: PipelineOptions, detector: FaceDetector, restorer: Restorer | undefined, hooks: PipelineHooks) {
    this.options = options;
    this.detector = detector;
    this.restorer = restorer;
    this.#hooks = hooks;
  }

  /** Validates options (E_CONFIG) and loads the detector and restorer (model errors, E_DEVICE). */
  static async create(input: PipelineOptionsInput = {}, hooks: PipelineHooks = {}): Promise<Pipeline> {
    const o = parsePipelineOptions(input);
    const restorerKind = o.restorer ?? (o.model ? 'onnx' : 'classic');
    const common = { device: o.device, intraOpThreads: o.threads, threadSpinning: o.threadSpinning, onWarning: hooks.onWarning };
    const detector = await createDetector({ kind: o.detector, modelPath: o.detectorModel, scoreThreshold: o.detectorThreshold, ...common });
    try {
      const restorer = await createRestorer({ kind: restorerKind, model: o.model, batch: o.batch, cacheDir: o.cacheDir, onInfo: hooks.onInfo, ...common });
      return new Pipeline(o, detector, restorer, hooks);
    } catch (e) {
      await detector.close();
      throw e;
    }
  }

  /** Name of the restorer that runs (`none` when passthrough). */
  get restorerName(): string {
    return this.restorer?.name ?? 'none (passthrough)';
  }

  /** A fidelity policy per the options (default w, mode, per-track overrides), or the hook's. */
  newFidelityPolicy(): FidelityPolicy {
    if (this.#hooks.fidelityPolicy) return this.#hooks.fidelityPolicy;
    const o = this.options;
    if (!o.track && o.fidelityMode === 'fixed' && Object.keys(o.fidelityOverrides).length === 0) return new ConstantFidelity(o.fidelity);
    const policy = new TrackFidelity({ w: o.fidelity, mode: o.fidelityMode });
    for (const [id, w] of Object.entries(o.fidelityOverrides)) policy.setOverride(Number(id), w);
    return policy;
  }

  /** A new tracker for one run (tracking state never carries over between videos). */
  newTracker(): FaceTracker {
    const policy = this.newFidelityPolicy();
    if (this.#hooks.trackerFactory) return this.#hooks.trackerFactory(policy);
    return this.options.track ? new MultiFaceTracker({ fidelity: policy, detectEvery: this.options.detectEvery }) : new PerFrameTracker(policy);
  }

  /** Restores `input` into the file `output` (written atomically). */
  async restoreFile(input: string, output: string, encode: Omit<FileSinkOptions, 'output'> = {}, run: RunOptions = {}): Promise<RunSummary> {
    const sink = new FileSink({ ffmpegPath: this.options.ffmpegPath, ...encode, output, window: run.start !== undefined || run.duration !== undefined ? { start: run.start, duration: run.duration } : undefined });
    const summary = await this.run(input, sink, run);
    return { ...summary, output };
  }

  /** Runs the whole file through the stages into `sink`. On error the sink is aborted and the error rethrown. */
  async run(input: string, sink: FrameSink, run: RunOptions = {}): Promise<RunSummary> {
    if (this.#closed) throw new FaceRestoreError('E_CLOSED', 'pipeline is closed');
    const started = performance.now();
    const times = emptyStageTimes();
    const o = this.options;
    const info: VideoInfo = await probeVideo(input, o.ffprobePath);
    run.onStart?.(info);
    const decoder = await VideoDecoder.create(info, { ffmpegPath: o.ffmpegPath, start: run.start, duration: run.duration });
    const processor = new FaceProcessor(this.detector, run.tracker ?? this.newTracker(), this.restorer, times);
    const decoded = new BoundedQueue<VideoFrame>(o.queueDepth);
    const prepared = new BoundedQueue<PreparedFrame>(o.queueDepth);
    const composed = new BoundedQueue<AnalyzedFrame>(o.queueDepth);
    const queues = [decoded, prepared, composed];
    const stats = { frames: 0, faces: 0, framesWithFaces: 0 };
    const total = run.duration !== undefined ? Math.max(1, Math.round(run.duration * info.fps)) : info.frameCount;
    const abort = () => queues.forEach((q) => q.fail(run.signal?.reason ?? new Error('aborted')));
    run.signal?.addEventListener('abort', abort, { once: true });

    const stages = [
      (async () => {
        let t = performance.now();
        for await (const frame of decoder.frames()) {
          times.decode += performance.now() - t;
          await decoded.push(frame);
          t = performance.now();
        }
        decoded.close();
      })(),
      (async () => {
        for (let f = await decoded.pop(); f; f = await decoded.pop()) {
          const p = await processor.prepare(f);
          run.onTracked?.(p.frame, p.faces, processor.tracker.lastFrame);
          await prepared.push(p);
        }
        prepared.close();
      })(),
      (async () => {
        // Fill a batch of faces across consecutive frames (file mode waits for it; nothing is dropped).
        const maxFrames = Math.max(o.batch * 2, o.queueDepth);
        for (let first = await prepared.pop(); first; first = await prepared.pop()) {
          const group = [first];
          let faces = first.aligned.length;
          while (faces < o.batch && group.length < maxFrames) {
            const next = await prepared.pop();
            if (!next) break;
            group.push(next);
            faces += next.aligned.length;
          }
          for (const c of await processor.compose(group)) await composed.push(c);
        }
        composed.close();
      })(),
      (async () => {
        await sink.start(info);
        for (let item = await composed.pop(); item; item = await composed.pop()) {
          const t = performance.now();
          await sink.write(item);
          times.encode += performance.now() - t;
          stats.frames++;
          stats.faces += item.faces.length;
          if (item.faces.length) stats.framesWithFaces++;
          if (run.onProgress) {
            const elapsed = (performance.now() - started) / 1000;
            const fps = stats.frames / Math.max(elapsed, 1e-3);
            run.onProgress({ frames: stats.frames, totalFrames: total, fps, etaSeconds: Math.max(0, total - stats.frames) / Math.max(fps, 1e-3) });
          }
        }
        const t = performance.now();
        await sink.finish();
        times.encode += performance.now() - t;
      })(),
    ];
    try {
      // The first failure stops every stage; allSettled then waits for all of them to unwind.
      stages.forEach((s) => s.catch((e) => queues.forEach((q) => q.fail(e))));
      const results = await Promise.allSettled(stages);
      const failure = results.find((r) => r.status === 'rejected');
      if (failure) throw (failure as PromiseRejectedResult).reason;
    } catch (e) {
      await sink.abort();
      throw e;
    } finally {
      run.signal?.removeEventListener('abort', abort);
      await decoder.close();
    }
    return {
      input,
      output: undefined,
      width: info.width,
      height: info.height,
      frameRate: info.frameRate,
      variableFrameRate: info.variableFrameRate,
      ...stats,
      restorer: this.restorerName,
      detector: this.detector.name,
      seconds: (performance.now() - started) / 1000,
      stageMs: times,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
    };
  }

  /** Releases the detector and restorer. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.detector.close(), this.restorer?.close()]);
  }
}

/** Creates a file-mode pipeline (library entry point). */
export function createPipeline(options: PipelineOptionsInput = {}, hooks: PipelineHooks = {}): Promise<Pipeline> {
  return Pipeline.create(options, hooks);
}
