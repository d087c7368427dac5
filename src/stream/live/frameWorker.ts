/**
 * Worker-thread side of LiveRestorer: owns a Pipeline's detector and restorer and a tracker with
 * per-track fidelity, and restores one I420 frame at a time (detect → track → align → restore → paste,
 * then only the changed rectangles are converted back to I420). Restoring here keeps the restore peer's
 * main thread free for WebRTC frame delivery.
 */
import { parentPort } from 'node:worker_threads';
import { alignmentFor, invertAffine } from '../../compose/align.ts';
import { warpToCrop } from '../../compose/warp.ts';
import { emptyStageTimes, FaceProcessor, type PreparedFrame } from '../../pipeline/faceProcessor.ts';
import { Pipeline } from '../../pipeline/pipeline.ts';
import { TrackFidelity } from '../../track/fidelity.ts';
import { MultiFaceTracker } from '../../track/multiTracker.ts';
import type { FaceTracker } from '../../track/tracker.ts';
import { CROP_SIZE, type Affine, type Box, type VideoFrame } from '../../types.ts';
import { i420ToRgb, i420ToRgbRegion, rgbToI420Region } from './i420.ts';
import type { FaceInfo } from './protocol.ts';

/** Messages to the worker. */
export type ToWorker =
  | { type: 'init'; pipeline: Record<string, unknown>; detectEvery: number }
  | { type: 'frame'; seq: number; width: number; height: number; data: Uint8Array }
  | { type: 'fidelity'; trackId: number | null; w: number | null }
  | { type: 'close' };

/** Messages from the worker. */
export type FromWorker =
  | { type: 'ready'; restorer: string; detector: string; restoring: boolean }
  | { type: 'done'; seq: number; width: number; height: number; data: Uint8Array; restored: boolean; faces: FaceInfo[]; ms: number }
  | { type: 'failed'; seq: number; message: string }
  | { type: 'fatal'; message: string }
  | { type: 'closed' };

if (!parentPort) throw new Error('frameWorker.ts runs in a worker thread');
const port = parentPort;

let pipeline: Pipeline | undefined;
let processor: FaceProcessor | undefined;
let tracker: MultiFaceTracker | undefined;
let policy: TrackFidelity | undefined;
let rgb: Uint8Array | undefined;
let work: Promise<void> = Promise.resolve();

const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

port.on('message', (m: ToWorker) => {
  // One message at a time, in order (the main thread sends at most one frame before its answer).
  work = work.then(() => handle(m)).catch((e: Error) => post({ type: 'fatal', message: e.message }));
});

/**
 * FaceProcessor.prepare for live frames: the detector runs only when the tracker asks (every
 * `detectEvery` frames, or while a new face is unconfirmed), and on the other frames only the pixels the
 * crops sample are converted from I420.
 */
async function prepare(frame: VideoFrame, i420: Uint8Array): Promise<PreparedFrame> {
  const { width, height } = frame;
  const detect = tracker!.needsDetection(frame.index);
  let detections;
  if (detect) {
    i420ToRgb(i420, width, height, frame.data);
    detections = await pipeline!.detector.detect(frame);
  }
  const faces = tracker!.update(frame, detections);
  // Without a restorer (pass-through) only the faces are wanted (for the page's overlay).
  if (!processor!.restorer) return { frame, faces, aligned: [] };
  const aligned = faces.map((face) => {
    const toCrop = alignmentFor(face.points);
    if (!detect) i420ToRgbRegion(i420, width, height, frame.data, cropSource(toCrop));
    return { face, toCrop, crop: warpToCrop(frame, toCrop) };
  });
  return { frame, faces, aligned };
}

/** The frame rectangle a crop samples (and paste-back writes), with a 2 px margin for bilinear taps. */
function cropSource(toCrop: Affine): Box {
  const inv = invertAffine(toCrop);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const [u, v] of [[0, 0], [CROP_SIZE, 0], [0, CROP_SIZE], [CROP_SIZE, CROP_SIZE]] as const) {
    xs.push(inv[0] * u + inv[1] * v + inv[2]);
    ys.push(inv[3] * u + inv[4] * v + inv[5]);
  }
  const x = Math.floor(Math.min(...xs)) - 2;
  const y = Math.floor(Math.min(...ys)) - 2;
  return { x, y, width: Math.ceil(Math.max(...xs)) + 2 - x, height: Math.ceil(Math.max(...ys)) + 2 - y };
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'init': {
      const w = typeof m.pipeline.fidelity === 'number' ? m.pipeline.fidelity : 0.5;
      policy = new TrackFidelity({ w });
      // Live tracking: stable ids for the per-face slider; the tracker's smoothing keeps pastes steady.
      // Webcams have no shot cuts; detection runs every `detectEvery` frames, the tracker predicts between.
      const factory = (p: typeof policy) => new MultiFaceTracker({ fidelity: p, detectEvery: m.detectEvery, shotCut: false });
      pipeline = await Pipeline.create(m.pipeline, { fidelityPolicy: policy, trackerFactory: factory as (p: unknown) => FaceTracker });
      tracker = pipeline.newTracker() as MultiFaceTracker;
      processor = new FaceProcessor(pipeline.detector, tracker, pipeline.restorer, emptyStageTimes());
      post({ type: 'ready', restorer: pipeline.restorerName, detector: pipeline.detector.name, restoring: pipeline.restorer !== undefined });
      return;
    }
    case 'frame': {
      if (!processor || !policy) throw new Error('frame before init');
      const t = performance.now();
      try {
        const { width, height, data } = m;
        const size = width * height * 3;
        if (!rgb || rgb.length !== size) rgb = new Uint8Array(size);
        const frame: VideoFrame = { index: m.seq, pts: m.seq / 30, width, height, data: rgb };
        const prepared = await prepare(frame, data);
        let restored = false;
        if (processor.restorer && prepared.aligned.length > 0) {
          const [composed] = await processor.compose([prepared]);
          for (const box of composed!.changed) rgbToI420Region(rgb, width, height, data, box);
          restored = composed!.changed.length > 0;
        }
        const faces: FaceInfo[] = prepared.faces.map((f) => ({
          trackId: f.trackId,
          box: { x: f.box.x / width, y: f.box.y / height, width: f.box.width / width, height: f.box.height / height },
          w: Math.min(1, Math.max(0, f.fidelity)),
          overridden: policy!.override(f.trackId) !== undefined,
        }));
        post({ type: 'done', seq: m.seq, width, height, data, restored, faces, ms: performance.now() - t }, [data.buffer as ArrayBuffer]);
      } catch (e) {
        post({ type: 'failed', seq: m.seq, message: (e as Error).message });
      }
      return;
    }
    case 'fidelity': {
      if (!policy) return;
      if (m.trackId === null) {
        if (m.w !== null) policy.setDefault(m.w);
      } else policy.setOverride(m.trackId, m.w ?? undefined);
      return;
    }
    case 'close': {
      await pipeline?.close();
      pipeline = undefined;
      processor = undefined;
      post({ type: 'closed' });
      port.close();
      return;
    }
  }
}
