/**
 * Worker-thread side of LiveRestorer: owns a component set (detector, restorer) and one tracker with
 * per-track fidelity, and restores one I420 frame at a time, in place (detect → track → align → restore →
 * paste all work on the I420 planes; only the faces' crops are RGB). Restoring here keeps the restore peer's
 * main thread free for WebRTC frame delivery. Messages: frameWorkerProtocol.ts.
 */
import { parentPort } from 'node:worker_threads';
import { Components } from '../../engine/components.ts';
import { emptyStageTimes, FaceProcessor } from '../../engine/faceProcessor.ts';
import { RefinedDetector } from '../../engine/landmarkRefiner.ts';
import { withLocalSettings } from '../../engine/options.ts';
import { FaceRestoreError, serializeError } from '../../errors.ts';
import { TrackFidelity } from '../../track/fidelity.ts';
import type { FaceTracker } from '../../track/tracker.ts';
import type { VideoFrame } from '../../types.ts';
import type { FaceDetector } from '../../detect/detector.ts';
import type { FrameStagesMs, FromWorker, ToWorker } from './frameWorkerProtocol.ts';
import { LiveDetector } from './liveDetector.ts';
import type { FaceInfo } from './protocol.ts';

if (!parentPort) throw new Error('frameWorker.ts runs in a worker thread');
const port = parentPort;

/** Everything `init` builds; frames before it are refused. */
interface Loaded {
  components: Components;
  processor: FaceProcessor;
  tracker: FaceTracker;
  /** The tracker's policy, kept to change w while running. */
  policy: TrackFidelity;
  /** The detector frames go to: with landmarks, refining every `refineEvery`-th detection only. */
  detector: FaceDetector;
}

let loaded: Loaded | undefined;
let work: Promise<void> = Promise.resolve();

const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

port.on('message', (m: ToWorker) => {
  // One message at a time, in order (the main thread sends at most one frame before its answer).
  work = work.then(() => handle(m)).catch((e: unknown) => post({ type: 'fatal', error: serializeError(e) }));
});

async function load(m: Extract<ToWorker, { type: 'init' }>): Promise<Loaded> {
  // ORT threads must not spin between runs here: the cores are shared with the video codecs.
  const components = await Components.create(withLocalSettings({ ...m.options, threadSpinning: false }, m.local));
  try {
    // Live mode always tracks (stable ids for the per-face slider) and a camera has no shot cuts. Without
    // a restorer, frames come here only now and then (for the overlay): detect on each.
    const { tracker, policy } = components.newTrackerWithPolicy({ forceTracking: true, detectEvery: components.restorer ? m.detectEvery : 1, shotCut: false });
    if (!(policy instanceof TrackFidelity)) throw new FaceRestoreError('E_INTERNAL', 'live tracking needs a per-track fidelity policy');
    // With landmarks, the 68-point net runs on every refineEvery-th detection (LiveDetector); it closes with the components.
    const d = components.detector;
    const detector = d instanceof RefinedDetector ? new LiveDetector(d.inner, d.landmarks, m.refineEvery) : d;
    // Between full detections the tracker predicts (no region re-detection: it costs a detector run).
    const processor = new FaceProcessor(detector, tracker, components.restorer, emptyStageTimes(), false, undefined, { faceRegion: components.faceRegion });
    return { components, processor, tracker, policy, detector };
  } catch (e) {
    await components.close();
    throw e;
  }
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'init': {
      if (loaded) throw new FaceRestoreError('E_INTERNAL', 'init sent twice');
      loaded = await load(m);
      const c = loaded.components;
      post({ type: 'ready', restorer: c.restorerName, detector: loaded.detector.name, restoring: c.restorer !== undefined });
      return;
    }
    case 'frame': {
      if (!loaded) throw new FaceRestoreError('E_INTERNAL', 'frame before init');
      try {
        post(await restoreFrame(loaded, m), [m.data.buffer as ArrayBuffer]);
      } catch (e) {
        post({ type: 'failed', index: m.index, error: serializeError(e) });
      }
      return;
    }
    case 'fidelity': {
      if (!loaded) return;
      if (m.trackId === null) {
        if (m.w !== null) loaded.policy.setDefault(m.w);
      } else loaded.policy.setOverride(m.trackId, m.w ?? undefined);
      return;
    }
    case 'close': {
      await loaded?.components.close();
      loaded = undefined;
      post({ type: 'closed' });
      port.close();
      return;
    }
  }
}

/** Restores one frame in place (its I420 buffer) and says what it found, and where the time went. */
async function restoreFrame(l: Loaded, m: Extract<ToWorker, { type: 'frame' }>): Promise<Extract<FromWorker, { type: 'done' }>> {
  const t = performance.now();
  const { width, height, data, index, pts } = m;
  const restorer = l.components.restorer;
  const times = l.processor.times;
  const before = { ...times };
  const cpuDetect = l.processor.cpu.ms.detect;
  const live = l.detector instanceof LiveDetector ? l.detector : undefined;
  // WebRTC frames are I420 already (BT.601 limited range, the VideoFrame default): detection, the warp and
  // the paste work on the planes in place; only the faces' crops are RGB.
  const frame: VideoFrame = { index, pts, width, height, data };
  const refineBefore = live?.spent.refineMs ?? 0;
  const prepared = restorer
    ? await l.processor.prepare(frame)
    : await (async () => {
        const t0 = performance.now();
        const found = await l.detector.detect(frame);
        times.detect += performance.now() - t0;
        return { frame, faces: l.tracker.update(frame, found), aligned: [] };
      })();
  const refine = (live?.spent.refineMs ?? 0) - refineBefore;
  let restored = false;
  if (restorer && prepared.aligned.length > 0) {
    for (const composed of await l.processor.compose([prepared])) restored = composed.changed.length > 0;
  }
  const faces: FaceInfo[] = prepared.faces.map((f) => ({
    trackId: f.trackId,
    box: { x: f.box.x / width, y: f.box.y / height, width: f.box.width / width, height: f.box.height / height },
    w: Math.min(1, Math.max(0, f.fidelity)),
    overridden: l.policy.override(f.trackId) !== undefined,
  }));
  const ms = performance.now() - t;
  const stagesMs: FrameStagesMs = {
    detect: Math.max(0, times.detect - before.detect - refine),
    convert: l.processor.cpu.ms.detect - cpuDetect,
    refine,
    warp: times.align - before.align,
    restore: times.restore - before.restore,
    paste: times.paste - before.paste,
    total: ms,
  };
  return { type: 'done', index, pts, width, height, data, restored, faces, ms, stagesMs };
}
