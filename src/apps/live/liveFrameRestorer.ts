import type { FaceDetector } from '../../detect/detector.ts';
import { Components } from '../../engine/components.ts';
import { emptyStageTimes, FaceProcessor } from '../../engine/faceProcessor.ts';
import { RefinedDetector } from '../../engine/landmarkRefiner.ts';
import { withLocalSettings } from '../../engine/options.ts';
import { FaceRestoreError } from '../../errors.ts';
import { TrackFidelity } from '../../track/fidelity.ts';
import type { FaceTracker } from '../../track/tracker.ts';
import type { VideoFrame } from '../../types.ts';
import type { FrameStagesMs, ToWorker } from './frameWorkerProtocol.ts';
import { LiveDetector } from './liveDetector.ts';
import type { FaceInfo } from './protocol.ts';

/** What one live frame gave: whether a face was pasted, the faces for the overlay, and where the time went. */
export interface LiveFrameResult {
  restored: boolean;
  faces: FaceInfo[];
  /** Wall ms of the whole frame. */
  ms: number;
  stagesMs: FrameStagesMs;
}

/**
 * The live restore worker's frame path (frameWorker.ts runs it in a worker thread; bench/live-worker.ts runs it
 * in-process): a component set (detector, restorer), one tracker with per-track fidelity, and restoration of
 * one I420 frame at a time, in place (detect → track → align → restore → paste all work on the I420 planes;
 * only the faces' crops are RGB). Owns its components: `close()` releases them (idempotent).
 */
export class LiveFrameRestorer {
  readonly components: Components;
  readonly processor: FaceProcessor;
  readonly tracker: FaceTracker;
  /** The tracker's policy (per-track w, changed while running). */
  readonly policy: TrackFidelity;
  /** The detector frames go to: with landmarks, refining every `refineEvery`-th detection only (LiveDetector). */
  readonly detector: FaceDetector;
  #closed = false;

  private constructor(components: Components, processor: FaceProcessor, tracker: FaceTracker, policy: TrackFidelity, detector: FaceDetector) {
    this.components = components;
    this.processor = processor;
    this.tracker = tracker;
    this.policy = policy;
    this.detector = detector;
  }

  /** Loads the components of an `init` message (their errors as they come: model missing, E_CONFIG, …). */
  static async create(m: Omit<Extract<ToWorker, { type: 'init' }>, 'type'>): Promise<LiveFrameRestorer> {
    // ORT threads must not spin between runs here: the cores are shared with the video codecs. `auto` and
    // `blazeface-reseed` are one BlazeFace pass here: a tiled pass (0.5–1.5 s) would stall a live stream.
    const detector = m.options.detector === 'auto' || m.options.detector === 'blazeface-reseed' ? 'blazeface' : m.options.detector;
    const components = await Components.create(withLocalSettings({ ...m.options, threadSpinning: false, ...(detector ? { detector } : {}) }, m.local));
    try {
      // Live mode always tracks (stable ids for the per-face slider) and a camera has no shot cuts. Without
      // a restorer, frames come here only now and then (for the overlay): detect on each.
      const { tracker, policy } = components.newTrackerWithPolicy({ forceTracking: true, detectEvery: components.restorer ? m.detectEvery : 1, shotCut: false });
      if (!(policy instanceof TrackFidelity)) throw new FaceRestoreError('E_INTERNAL', 'live tracking needs a per-track fidelity policy');
      // With landmarks, the 68-point net runs on every refineEvery-th detection (LiveDetector); it closes with the components.
      const d = components.detector;
      const detector = d instanceof RefinedDetector ? new LiveDetector(d.inner, d.landmarks, m.refineEvery) : d;
      // Between full detections the tracker predicts (no region re-detection: it costs a detector run). Frames go
      // one at a time and nothing reads a frame's crops after its compose: their buffers serve the next frames.
      const processor = new FaceProcessor(detector, tracker, components.restorer, emptyStageTimes(), false, undefined, { faceRegion: components.faceRegion, reuseCrops: true });
      return new LiveFrameRestorer(components, processor, tracker, policy, detector);
    } catch (e) {
      await components.close();
      throw e;
    }
  }

  /** Restores one frame in place (its I420 buffer) and says what it found, and where the time went. */
  async restore(frame: VideoFrame): Promise<LiveFrameResult> {
    if (this.#closed) throw new FaceRestoreError('E_INTERNAL', 'frame after close');
    const t = performance.now();
    const { width, height } = frame;
    const restorer = this.components.restorer;
    const times = this.processor.times;
    const before = { ...times };
    const cpuDetect = this.processor.cpu.ms.detect;
    const live = this.detector instanceof LiveDetector ? this.detector : undefined;
    const refineBefore = live?.spent.refineMs ?? 0;
    // WebRTC frames are I420 already (BT.601 limited range, the VideoFrame default): detection, the warp and
    // the paste work on the planes in place.
    const prepared = restorer
      ? await this.processor.prepare(frame)
      : await (async () => {
          const t0 = performance.now();
          const found = await this.detector.detect(frame);
          times.detect += performance.now() - t0;
          return { frame, faces: this.tracker.update(frame, found), aligned: [] };
        })();
    const refine = (live?.spent.refineMs ?? 0) - refineBefore;
    let restored = false;
    if (restorer && prepared.aligned.length > 0) {
      for (const composed of await this.processor.compose([prepared])) restored = composed.changed.length > 0;
    }
    const faces: FaceInfo[] = prepared.faces.map((f) => ({
      trackId: f.trackId,
      box: { x: f.box.x / width, y: f.box.y / height, width: f.box.width / width, height: f.box.height / height },
      w: Math.min(1, Math.max(0, f.fidelity)),
      overridden: this.policy.override(f.trackId) !== undefined,
    }));
    const ms = performance.now() - t;
    const stagesMs: FrameStagesMs = {
      detect: Math.max(0, times.detect - before.detect - refine),
      convert: this.processor.cpu.ms.detect - cpuDetect,
      refine,
      warp: times.align - before.align,
      restore: times.restore - before.restore,
      paste: times.paste - before.paste,
      total: ms,
    };
    return { restored, faces, ms, stagesMs };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.components.close();
  }
}
