import { FaceRestoreError } from '../../errors.ts';
import { VideoDecoder, type ResampleReport } from '../../ingest/decoder.ts';
import { probeVideo } from '../../ingest/probe.ts';
import type { FrameSink } from '../../stream/sink.ts';
import type { FaceTracker, Reidentification, TrackerFrameSummary } from '../../track/tracker.ts';
import type { AnalyzedFrame, Face, StageCpu, StageTimes, VideoFrame, VideoInfo } from '../../types.ts';
import { reapedChildrenCpuMs, StageCpuMeter } from '../../util/cpuMeter.ts';
import { BoundedQueue } from '../../util/boundedQueue.ts';
import { FramePool } from '../../util/framePool.ts';
import { i420Layout } from '../../util/yuv.ts';
import { threadSessionsCpuMs } from '../../runtime/ortThread.ts';
import { readMaskImage } from '../../ingest/maskImage.ts';
import { frameMask } from '../../compose/inpaintMask.ts';
import { emptyStageTimes, FaceProcessor, type PreparedFrame } from '../../engine/faceProcessor.ts';
import type { Components } from '../../engine/components.ts';
import { FaceChooser, type FaceChoiceOptions } from '../../engine/faceChoice.ts';

/** Progress report, sent after each frame the sink takes. */
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
  /** Variable-rate input only: the resampling to `frameRate`, with the source frames it dropped and duplicated. */
  resampled?: ResampleReport;
  /** Frames handed to the sink. */
  frames: number;
  faces: number;
  framesWithFaces: number;
  /** True when the sink said it had all it needed before the input ended (see FrameSink.write). */
  endedBySink: boolean;
  restorer: string;
  detector: string;
  /** Wall-clock seconds for the whole run. */
  seconds: number;
  /** Wall-clock milliseconds per stage (awaited time); stages overlap, so they can add up to more than the wall time. */
  stageMs: StageTimes;
  /**
   * CPU milliseconds per stage over the run: main-thread CPU time of each stage's synchronous work (see
   * StageCpu), plus, for `detect`, the thread CPU of the detector's runs on its worker thread.
   */
  stageCpuMs: StageCpu;
  /** CPU milliseconds of this process's other threads over the run (ONNX Runtime's pools, GC helpers, the live worker), less the detector worker's (in stageCpuMs.detect). */
  offMainCpuMs: number;
  /** Of offMainCpuMs: the restorer's own worker threads (the classic restorer's pool; 0 for a restorer without them). */
  restoreWorkersCpuMs: number;
  /**
   * CPU milliseconds (user + system, all threads) of the ffmpeg children: `decode` the decoder, `encode` the
   * sink's (the encoder for a file; 0 for a sink without a process). Undefined where /proc is unavailable, or
   * when the sink ended the run before the input did. Counted from this process's reaped-children CPU, so
   * other children reaped during the run (another run in the same process) would be counted too.
   */
  childCpuMs: { decode: number; encode: number } | undefined;
  /**
   * CPU milliseconds per frame, everything together: the main thread's stages (as stageCpuMs / frames),
   * `offMain` (offMainCpuMs / frames; `restoreWorkers` is the part of it the restorer's worker threads used), `ffmpegDecode` and `ffmpegEncode` (childCpuMs / frames, 0 when unknown)
   * and `total`, their sum.
   */
  cpuMsPerFrame: StageCpu & { offMain: number; restoreWorkers: number; ffmpegDecode: number; ffmpegEncode: number; total: number };
  /** Peak resident memory of this process so far, MiB. */
  peakRssMB: number;
  /** With `faceChoice`: faces chosen for restoration, summed over frames (`faces` counts every face). */
  facesChosen?: number;
}

/** Per-run options. */
export interface RunOptions {
  onProgress?: (p: Progress) => void;
  /** Stops the run: it rejects with the signal's reason, the sink is aborted. */
  signal?: AbortSignal;
  /** Decode only from this time, seconds. */
  start?: number;
  /** Decode only this long, seconds. */
  duration?: number;
  /** A tracker for this run (default: a new one from the component set). */
  tracker?: FaceTracker;
  /** Called once with the probed input before the first frame. */
  onStart?: (info: VideoInfo) => void;
  /**
   * Called with each frame's tracked faces, in frame order (e.g. a tracks export); with `faceChoice`, also
   * the faces chosen for restoration. When the sink releases frames (`FrameSink.releasesFrames`: the file
   * encoder) the frame's `data` is reused for a later frame once this frame is written: copy what you keep.
   */
  onTracked?: (frame: VideoFrame, faces: readonly Face[], info: TrackerFrameSummary | undefined, chosen?: ReadonlySet<Face>) => void;
  /**
   * Which faces are restored (`--faces`, `--min-face`, `--reference`), chosen per track when the component
   * set tracks (a chosen track stays chosen while it is in the picture); the others are left untouched.
   */
  faceChoice?: Omit<FaceChoiceOptions, 'byTrack'>;
}

/**
 * Re-identification step of the tracking stage: descriptors for the faces the tracker asks for (face-api's
 * net, batched per frame), handed back to it; returns the frame with the faces' final ids. Time and CPU go to
 * the detect and track stages. Undefined, with a warning, when this run's tracker cannot re-identify (a job
 * segment's windowed tracker, a caller's own): the run goes on with ids per shot.
 */
function reidentifier(tracker: FaceTracker, components: Components, times: StageTimes, cpu: StageCpuMeter): ((a: AnalyzedFrame) => Promise<AnalyzedFrame>) | undefined {
  const describer = components.describer;
  if (!describer || !tracker.descriptorRequests || !tracker.identify) {
    components.hooks.onWarning?.(`reid: ${describer ? "this run's tracker does not re-identify (job segments and custom trackers do not)" : 'the component set has no face descriptor net'}; track ids stay per shot`);
    return undefined;
  }
  return async (a) => {
    const t = performance.now();
    let c = cpu.now();
    const want = tracker.descriptorRequests!();
    if (want.length === 0) return (cpu.add('track', c), a);
    c = cpu.add('track', c);
    // The crops are warped and the net run (ORT's Node binding runs it on this thread) before the first await.
    const pending = describer.describe(a.frame, want.map((w) => w.points));
    c = cpu.add('detect', c);
    const ds = await pending;
    c = cpu.now();
    const faces = tracker.identify!(a.frame, a.faces, new Map(want.map((w, i) => [w.trackId, ds[i]!])));
    cpu.add('track', c);
    times.detect += performance.now() - t;
    return { ...a, faces };
  };
}

/** `a` with the faces of a re-identified provisional id given the final id (and its w override, if any). */
function relabelled(a: AnalyzedFrame, r: Reidentification): AnalyzedFrame {
  if (!a.faces.some((f) => f.trackId === r.from)) return a;
  const faces = a.faces.map((f): Face & { provisionalId?: number } => (f.trackId === r.from ? { ...f, trackId: r.to, provisionalId: r.from, ...(r.fidelity === undefined ? {} : { fidelity: r.fidelity }) } : f));
  return { ...a, faces: faces.sort((x, y) => x.trackId - y.trackId) };
}

/** Reason the upstream stages are stopped with once the sink has all it needs (never surfaces). */
const SINK_DONE = Symbol('sink done');

/**
 * File-mode run on a component set the caller keeps (the job worker's pool, `Pipeline`): decode →
 * detect/track/align → batched restore → paste → `sink`, with bounded queues between the stages (never
 * drops a frame; output is in frame order). Ends when the input ends or when `sink.write` resolves to
 * `'done'`: then decoding stops, the sink is finished and the summary returned. On error or abort the
 * sink is aborted and the error rethrown; no child process is left either way. Does not close
 * `components`. Errors: E_CLOSED when `components` is closed, probe and decode errors, the sink's.
 */
export async function runFile(components: Components, input: string, sink: FrameSink, run: RunOptions = {}): Promise<RunSummary> {
  if (components.closed) throw new FaceRestoreError('E_CLOSED', 'the component set is closed');
  const started = performance.now();
  const times = emptyStageTimes();
  const o = components.options;
  const info: VideoInfo = await probeVideo(input, o.ffprobePath);
  run.signal?.throwIfAborted();
  run.onStart?.(info);
  const cpu = new StageCpuMeter();
  const restoreWorkersStart = components.restorer?.workerCpuMs ?? 0;
  const detectorThreadStart = threadSessionsCpuMs();
  const inferenceStart = { detect: components.inferenceCpu.detect.ms, restore: components.inferenceCpu.restore.ms };
  const childStart = reapedChildrenCpuMs();
  let childAfterDecode: number | undefined;
  // A sink that keeps no frame lets the decoded buffers go round again (fewer full GCs: util/framePool.ts).
  const pool = sink.releasesFrames === true ? new FramePool(i420Layout(info.width, info.height).size) : undefined;
  /** The decoded buffer of each frame in flight, given back to the pool once the sink has written the frame. */
  const decodedData = new Map<number, Uint8Array>();
  const decoder = await VideoDecoder.create(info, { ffmpegPath: o.ffmpegPath, start: run.start, duration: run.duration, cpu, pool });
  // The inpainting mask is in frame coordinates: read once per run at this video's size.
  const inpaint = o.inpaintMask && components.inpainter ? { restorer: components.inpainter, mask: frameMask(await readMaskImage(o.inpaintMask, info.width, info.height, o.ffmpegPath), info.width, info.height) } : undefined;
  const processor = new FaceProcessor(components.detector, run.tracker ?? components.newTracker({ lookAhead: o.lookAhead, identity: o.reid === true }), components.restorer, times, true, cpu, {
    upscaler: components.upscaler,
    faceUpsample: o.faceUpsample,
    colorizer: components.colorizer,
    inpaint,
    faceRegion: components.faceRegion,
    chooser: run.faceChoice ? new FaceChooser({ ...run.faceChoice, byTrack: o.track }) : undefined,
    // Prepared frames' crops are read by nothing after compose (the stages below hand on composed frames only).
    reuseCrops: true,
    spareCrops: Math.max(4, o.batch),
  });
  const decoded = new BoundedQueue<VideoFrame>(o.queueDepth);
  const prepared = new BoundedQueue<PreparedFrame>(o.queueDepth);
  const composed = new BoundedQueue<AnalyzedFrame>(o.queueDepth);
  const queues = [decoded, prepared, composed];
  const failAll = (e: unknown) => queues.forEach((q) => q.fail(e));
  const stats = { frames: 0, faces: 0, framesWithFaces: 0 };
  const total = run.duration !== undefined ? Math.max(1, Math.round(run.duration * info.fps)) : info.frameCount;
  let endedBySink = false;
  let facesChosen = 0;
  /** Faces chosen per frame index, counted when the frame is written (frames prepared past a sink's end are not). */
  const chosenIn = new Map<number, number>();
  const onAbort = () => failAll(run.signal!.reason ?? new FaceRestoreError('E_CLOSED', 'run aborted'));
  if (run.signal?.aborted) onAbort();
  run.signal?.addEventListener('abort', onAbort, { once: true });

  const stages = [
    (async () => {
      let t = performance.now();
      for await (const frame of decoder.frames()) {
        times.decode += performance.now() - t;
        if (pool) decodedData.set(frame.index, frame.data);
        await decoded.push(frame);
        t = performance.now();
      }
      // The generator returns after ffmpeg has exited and been reaped: its CPU is in the children's total now.
      childAfterDecode = reapedChildrenCpuMs();
      decoded.close();
    })(),
    (async () => {
      // Look-ahead (file mode): a frame waits `lookAhead` frames after tracking, then takes its faces' points
      // revised with those frames (fixed-lag smoothing) before it is aligned. Memory: lookAhead frames.
      const lag = processor.tracker.revisedPoints ? o.lookAhead : 0;
      const waiting: Array<{ a: AnalyzedFrame; info: TrackerFrameSummary | undefined }> = [];
      const reid = o.reid === true ? reidentifier(processor.tracker, components, times, cpu) : undefined;
      const release = async (w: (typeof waiting)[number]) => {
        const faces = lag === 0 ? w.a.faces : w.a.faces.map((face) => {
          const points = processor.tracker.revisedPoints!(face.trackId, w.a.frame.index);
          return points ? { ...face, points } : face;
        });
        // Faces are chosen after look-ahead, on the points they are aligned with (in frame order).
        const analyzed = { frame: w.a.frame, faces };
        const choice = await processor.choose(analyzed);
        run.onTracked?.(w.a.frame, faces, w.info, choice?.chosen);
        if (choice) chosenIn.set(w.a.frame.index, choice.chosen.size);
        await prepared.push(processor.align(analyzed, choice));
      };
      for (let f = await decoded.pop(); f; f = await decoded.pop()) {
        let a = await processor.analyze(f);
        if (reid) {
          a = await reid(a);
          // Frames still waiting for look-ahead carry the provisional id: they take the final one (and its w override) before alignment.
          for (const r of processor.tracker.lastFrame?.identity?.reidentified ?? []) for (const w of waiting) w.a = relabelled(w.a, r);
        }
        waiting.push({ a, info: processor.tracker.lastFrame });
        if (waiting.length > lag) await release(waiting.shift()!);
      }
      while (waiting.length > 0) await release(waiting.shift()!);
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
      const s = components.upscaler?.scale ?? 1;
      const outInfo = s === 1 ? info : { ...info, width: info.width * s, height: info.height * s };
      await sink.start(item?.frame.colour ? { ...outInfo, colour: item.frame.colour } : outInfo);
      for (; item; item = await composed.pop()) {
        const t = performance.now();
        const c = cpu.now();
        const writing = sink.write(item);
        cpu.add('encode', c);
        const said = await writing;
        if (pool) {
          pool.give(decodedData.get(item.frame.index)!);
          decodedData.delete(item.frame.index);
        }
        times.encode += performance.now() - t;
        stats.frames++;
        stats.faces += item.faces.length;
        facesChosen += chosenIn.get(item.frame.index) ?? 0;
        chosenIn.delete(item.frame.index);
        if (item.faces.length) stats.framesWithFaces++;
        if (run.onProgress) {
          const elapsed = (performance.now() - started) / 1000;
          const fps = stats.frames / Math.max(elapsed, 1e-3);
          run.onProgress({ frames: stats.frames, totalFrames: total, fps, etaSeconds: Math.max(0, total - stats.frames) / Math.max(fps, 1e-3) });
        }
        if (said === 'done') {
          // Nothing more is needed: stop decoding at once (frames in flight are dropped), then finish.
          endedBySink = true;
          failAll(SINK_DONE);
          await decoder.close();
          break;
        }
      }
      const t = performance.now();
      await sink.finish();
      times.encode += performance.now() - t;
    })(),
  ];
  try {
    // The first failure stops every stage; allSettled then waits for all of them to unwind.
    stages.forEach((s) => s.catch(failAll));
    const results = await Promise.allSettled(stages);
    const sinkStage = results[results.length - 1]!;
    // Once the sink has finished what it asked to end, what the stopped stages say no longer matters.
    const failure = endedBySink && sinkStage.status === 'fulfilled' ? undefined : results.find((r) => r.status === 'rejected' && r.reason !== SINK_DONE);
    if (failure) throw (failure as PromiseRejectedResult).reason;
  } catch (e) {
    await sink.abort();
    throw e;
  } finally {
    run.signal?.removeEventListener('abort', onAbort);
    await decoder.close();
  }
  const childEnd = reapedChildrenCpuMs();
  const childCpuMs =
    childStart !== undefined && childEnd !== undefined && childAfterDecode !== undefined && !endedBySink
      ? { decode: childAfterDecode - childStart, encode: childEnd - childAfterDecode }
      : undefined;
  // The models' runs on this thread happened outside every stage bracket (RunCpuTally says why): theirs, not `other`.
  cpu.charge('detect', components.inferenceCpu.detect.ms - inferenceStart.detect);
  cpu.charge('restore', components.inferenceCpu.restore.ms - inferenceStart.restore);
  const stageCpuMs = cpu.result();
  const restoreWorkersCpuMs = Math.max(0, (components.restorer?.workerCpuMs ?? 0) - restoreWorkersStart);
  // The detector is the model that runs on a worker thread (see Components): its runs' thread CPU is the
  // detect stage's, not "other threads" (another run in this process at the same time would be counted too).
  const workerMs = threadSessionsCpuMs() - detectorThreadStart;
  stageCpuMs.detect += workerMs;
  const offMainCpuMs = Math.max(0, cpu.offMainMs() - workerMs);
  return {
    input,
    output: undefined,
    width: info.width,
    height: info.height,
    frameRate: info.frameRate,
    variableFrameRate: info.variableFrameRate,
    ...(decoder.resampling() ? { resampled: decoder.resampling() } : {}),
    ...stats,
    endedBySink,
    restorer: components.restorerName,
    detector: components.detector.name,
    seconds: (performance.now() - started) / 1000,
    stageMs: times,
    stageCpuMs,
    offMainCpuMs,
    restoreWorkersCpuMs,
    childCpuMs,
    cpuMsPerFrame: perFrame(stageCpuMs, offMainCpuMs, restoreWorkersCpuMs, childCpuMs, stats.frames),
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    ...(processor.chooser ? { facesChosen } : {}),
  };
}

function perFrame(stage: StageCpu, offMain: number, workers: number, child: RunSummary['childCpuMs'], frames: number): RunSummary['cpuMsPerFrame'] {
  const n = Math.max(1, frames);
  const out = Object.fromEntries(Object.entries(stage).map(([k, v]) => [k, v / n])) as unknown as StageCpu;
  const r = { ...out, offMain: offMain / n, restoreWorkers: workers / n, ffmpegDecode: (child?.decode ?? 0) / n, ffmpegEncode: (child?.encode ?? 0) / n, total: 0 };
  r.total = Object.values(out).reduce((a, b) => a + b, 0) + r.offMain + r.ffmpegDecode + r.ffmpegEncode;
  return r;
}
