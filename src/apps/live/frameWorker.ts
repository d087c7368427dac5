/**
 * Worker-thread side of LiveRestorer: owns a Pipeline's detector and restorer and a tracker with
 * per-track fidelity, and restores one I420 frame at a time, in place (detect → track → align → restore →
 * paste all work on the I420 planes; only the faces' crops are RGB). Restoring here keeps the restore peer's
 * main thread free for WebRTC frame delivery.
 */
import { parentPort } from 'node:worker_threads';
import { emptyStageTimes, FaceProcessor } from '../../engine/faceProcessor.ts';
import { Pipeline } from '../file/pipeline.ts';
import { TrackFidelity } from '../../track/fidelity.ts';
import { MultiFaceTracker } from '../../track/multiTracker.ts';
import type { FaceTracker } from '../../track/tracker.ts';
import type { VideoFrame } from '../../types.ts';
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
let work: Promise<void> = Promise.resolve();

const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

port.on('message', (m: ToWorker) => {
  // One message at a time, in order (the main thread sends at most one frame before its answer).
  work = work.then(() => handle(m)).catch((e: Error) => post({ type: 'fatal', message: e.message }));
});

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'init': {
      // Live mode always tracks (stable ids for the per-face slider) and has no shot cuts; the policy the
      // pipeline builds from the options (default w, mode, overrides) is kept to change w while running.
      // ORT threads must not spin between runs here: the cores are shared with the video codecs.
      const options = { ...m.pipeline, track: true, detectEvery: m.detectEvery, threadSpinning: false };
      let created: TrackFidelity | undefined;
      pipeline = await Pipeline.create(options, {
        trackerFactory: (p) => {
          if (p instanceof TrackFidelity) created = p;
          // Without a restorer, frames come here only now and then (for the overlay): detect on each.
          return new MultiFaceTracker({ fidelity: p, detectEvery: pipeline?.restorer ? m.detectEvery : 1, shotCut: false });
        },
      });
      tracker = pipeline.newTracker() as MultiFaceTracker;
      policy = created ?? new TrackFidelity({ w: pipeline.options.fidelity });
      // Between full detections the tracker predicts (no region re-detection: it costs a detector run).
      processor = new FaceProcessor(pipeline.detector, tracker, pipeline.restorer, emptyStageTimes(), false);
      post({ type: 'ready', restorer: pipeline.restorerName, detector: pipeline.detector.name, restoring: pipeline.restorer !== undefined });
      return;
    }
    case 'frame': {
      if (!processor || !policy) throw new Error('frame before init');
      const t = performance.now();
      try {
        const { width, height, data } = m;
        // WebRTC frames are I420 already (BT.601 limited range, the VideoFrame default): used as they are.
        const frame: VideoFrame = { index: m.seq, pts: m.seq / 30, width, height, data };
        const prepared = processor.restorer
          ? await processor.prepare(frame)
          : { frame, faces: tracker!.update(frame, await pipeline!.detector.detect(frame)), aligned: [] };
        let restored = false;
        if (processor.restorer && prepared.aligned.length > 0) {
          const [composed] = await processor.compose([prepared]);
          restored = composed!.changed.length > 0;
        }
        const fw = frame.width;
        const fh = frame.height;
        const faces: FaceInfo[] = prepared.faces.map((f) => ({
          trackId: f.trackId,
          box: { x: f.box.x / fw, y: f.box.y / fh, width: f.box.width / fw, height: f.box.height / fh },
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
