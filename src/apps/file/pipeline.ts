import { FaceRestoreError } from '../../errors.ts';
import { VideoDecoder } from '../../ingest/decoder.ts';
import { probeVideo } from '../../ingest/probe.ts';
import type { Restorer } from '../../restore/restorer.ts';
import { FileSink, type FileSinkOptions } from '../../stream/fileSink.ts';
import type { FrameSink } from '../../stream/sink.ts';
import type { FaceDetector } from '../../detect/detector.ts';
import { type FaceTracker, type FidelityPolicy, type TrackerFrameSummary } from '../../track/tracker.ts';
import type { AnalyzedFrame, Face, StageCpu, StageTimes, VideoFrame, VideoInfo } from '../../types.ts';
import { reapedChildrenCpuMs, StageCpuMeter } from '../../util/cpuMeter.ts';
import { BoundedQueue } from '../../util/boundedQueue.ts';
import { emptyStageTimes, FaceProcessor, type PreparedFrame } from '../../engine/faceProcessor.ts';
import type { PipelineOptions, PipelineOptionsInput } from '../../engine/options.ts';
import { Components, type ComponentHooks } from '../../engine/components.ts';

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
  /** Wall-clock milliseconds per stage (awaited time); stages overlap, so they can add up to more than the wall time. */
  stageMs: StageTimes;
  /** Main-thread CPU milliseconds per stage over the run (thread CPU time of each stage's synchronous work; see StageCpu). */
  stageCpuMs: StageCpu;
  /** CPU milliseconds of this process's other threads over the run: ONNX Runtime's thread pools, worker threads, GC helpers. */
  offMainCpuMs: number;
  /**
   * CPU milliseconds (user + system, all threads) of the ffmpeg children: `decode` the decoder, `encode` the
   * sink's (the encoder for a file; 0 for a sink without a process). Undefined where /proc is unavailable.
   * Counted from this process's reaped-children CPU, so other children reaped during the run (another run
   * in the same process) would be counted too.
   */
  childCpuMs: { decode: number; encode: number } | undefined;
  /**
   * CPU milliseconds per frame, everything together: the main thread's stages (as stageCpuMs / frames),
   * `offMain` (offMainCpuMs / frames), `ffmpegDecode` and `ffmpegEncode` (childCpuMs / frames, 0 when unknown)
   * and `total`, their sum.
   */
  cpuMsPerFrame: StageCpu & { offMain: number; ffmpegDecode: number; ffmpegEncode: number; total: number };
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

/** Hooks for the library API (see ComponentHooks). */
export type PipelineHooks = ComponentHooks;

/**
 * File-mode orchestrator: decode → detect/track/align → batched restore → paste → sink, with bounded
 * queues between the stages (never drops a frame; output is in frame order). Owns its component set
 * (detector and restorer); `close()` aborts runs in flight and releases the components.
 */
export class Pipeline {
  readonly components: Components;
  readonly #runs = new Set<AbortController>();
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

  /** Runs the whole file through the stages into `sink`. On error the sink is aborted and the error rethrown. */
  async run(input: string, sink: FrameSink, run: RunOptions = {}): Promise<RunSummary> {
    if (this.#closed) throw new FaceRestoreError('E_CLOSED', 'pipeline is closed');
    const started = performance.now();
    const times = emptyStageTimes();
    const o = this.options;
    const info: VideoInfo = await probeVideo(input, o.ffprobePath);
    run.onStart?.(info);
    const cpu = new StageCpuMeter();
    const childStart = reapedChildrenCpuMs();
    let childAfterDecode: number | undefined;
    const decoder = await VideoDecoder.create(info, { ffmpegPath: o.ffmpegPath, start: run.start, duration: run.duration, cpu });
    const processor = new FaceProcessor(this.detector, run.tracker ?? this.newTracker(), this.restorer, times, true, cpu);
    const decoded = new BoundedQueue<VideoFrame>(o.queueDepth);
    const prepared = new BoundedQueue<PreparedFrame>(o.queueDepth);
    const composed = new BoundedQueue<AnalyzedFrame>(o.queueDepth);
    const queues = [decoded, prepared, composed];
    const stats = { frames: 0, faces: 0, framesWithFaces: 0 };
    const total = run.duration !== undefined ? Math.max(1, Math.round(run.duration * info.fps)) : info.frameCount;
    // One controller per run: the caller's signal and close() both stop it.
    const stop = new AbortController();
    const abort = () => queues.forEach((q) => q.fail(stop.signal.reason ?? new Error('aborted')));
    const forward = () => stop.abort(run.signal?.reason);
    stop.signal.addEventListener('abort', abort, { once: true });
    if (run.signal?.aborted) forward();
    run.signal?.addEventListener('abort', forward, { once: true });
    this.#runs.add(stop);

    const stages = [
      (async () => {
        let t = performance.now();
        for await (const frame of decoder.frames()) {
          times.decode += performance.now() - t;
          await decoded.push(frame);
          t = performance.now();
        }
        // The generator returns after ffmpeg has exited and been reaped: its CPU is in the children's total now.
        childAfterDecode = reapedChildrenCpuMs();
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
        // The sink starts with the first frame in hand, so it knows the frames' colour (to tag the output).
        let item = await composed.pop();
        await sink.start(item?.frame.colour ? { ...info, colour: item.frame.colour } : info);
        for (; item; item = await composed.pop()) {
          const t = performance.now();
          const c = cpu.now();
          const written = sink.write(item);
          cpu.add('encode', c);
          await written;
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
      run.signal?.removeEventListener('abort', forward);
      this.#runs.delete(stop);
      await decoder.close();
    }
    const childEnd = reapedChildrenCpuMs();
    const childCpuMs =
      childStart !== undefined && childEnd !== undefined && childAfterDecode !== undefined
        ? { decode: childAfterDecode - childStart, encode: childEnd - childAfterDecode }
        : undefined;
    const stageCpuMs = cpu.result();
    const offMainCpuMs = cpu.offMainMs();
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
      stageCpuMs,
      offMainCpuMs,
      childCpuMs,
      cpuMsPerFrame: perFrame(stageCpuMs, offMainCpuMs, childCpuMs, stats.frames),
      peakRssMB: process.resourceUsage().maxRSS / 1024,
    };
  }

  /** Aborts runs in flight (they reject with E_CLOSED), then releases the detector and restorer. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const run of this.#runs) run.abort(new FaceRestoreError('E_CLOSED', 'pipeline closed during a run'));
    await this.components.close();
  }
}

function perFrame(stage: StageCpu, offMain: number, child: RunSummary['childCpuMs'], frames: number): RunSummary['cpuMsPerFrame'] {
  const n = Math.max(1, frames);
  const out = Object.fromEntries(Object.entries(stage).map(([k, v]) => [k, v / n])) as unknown as StageCpu;
  const r = { ...out, offMain: offMain / n, ffmpegDecode: (child?.decode ?? 0) / n, ffmpegEncode: (child?.encode ?? 0) / n, total: 0 };
  r.total = Object.values(out).reduce((a, b) => a + b, 0) + r.offMain + r.ffmpegDecode + r.ffmpegEncode;
  return r;
}

/** Creates a file-mode pipeline (library entry point). */
export function createPipeline(options: PipelineOptionsInput = {}, hooks: PipelineHooks = {}): Promise<Pipeline> {
  return Pipeline.create(options, hooks);
}
