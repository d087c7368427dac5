/**
 * Worker-thread side of LiveRestorer: runs a LiveFrameRestorer (component set, tracker with per-track
 * fidelity; frames restored one at a time, in place on their I420 planes). Restoring here keeps the restore
 * peer's main thread free for WebRTC frame delivery. Messages: frameWorkerProtocol.ts.
 */
import { parentPort } from 'node:worker_threads';
import { FaceRestoreError, serializeError } from '../../errors.ts';
import type { FromWorker, ToWorker } from './frameWorkerProtocol.ts';
import { LiveFrameRestorer } from './liveFrameRestorer.ts';

if (!parentPort) throw new Error('frameWorker.ts runs in a worker thread');
const port = parentPort;

/** Everything `init` builds; frames before it are refused. */
let loaded: LiveFrameRestorer | undefined;
let work: Promise<void> = Promise.resolve();

const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

port.on('message', (m: ToWorker) => {
  // One message at a time, in order (the main thread sends at most one frame before its answer).
  work = work.then(() => handle(m)).catch((e: unknown) => post({ type: 'fatal', error: serializeError(e) }));
});

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'init': {
      if (loaded) throw new FaceRestoreError('E_INTERNAL', 'init sent twice');
      loaded = await LiveFrameRestorer.create(m);
      const c = loaded.components;
      post({ type: 'ready', restorer: c.restorerName, detector: loaded.detector.name, restoring: c.restorer !== undefined });
      return;
    }
    case 'frame': {
      if (!loaded) throw new FaceRestoreError('E_INTERNAL', 'frame before init');
      const { index, pts, width, height, data } = m;
      try {
        const r = await loaded.restore({ index, pts, width, height, data });
        post({ type: 'done', index, pts, width, height, data, ...r }, [data.buffer as ArrayBuffer]);
      } catch (e) {
        post({ type: 'failed', index, error: serializeError(e) });
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
      await loaded?.close();
      loaded = undefined;
      post({ type: 'closed' });
      port.close();
      return;
    }
  }
}
