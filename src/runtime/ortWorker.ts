/** Worker-thread side of ThreadSession (ortThread.ts): one OrtModel, opened and run on this thread. */
import { parentPort } from 'node:worker_threads';
import { FaceRestoreError } from '../errors.ts';
import { OrtModel, type TensorData } from './ort.ts';
import type { ThreadSessionOptions } from './ortThread.ts';
import type { Device } from '../types.ts';

let model: OrtModel | undefined;

/** This thread's CPU ms (user + system); 0 on a Node without process.threadCpuUsage. */
function threadCpuMs(): number {
  const p = process as NodeJS.Process & { threadCpuUsage?: () => NodeJS.CpuUsage };
  const u = p.threadCpuUsage?.();
  return u ? (u.user + u.system) / 1000 : 0;
}
const port = parentPort!;

port.on('message', async (msg: { id: number; op: 'open' | 'run' | 'close'; bytes?: Uint8Array; options?: ThreadSessionOptions; feeds?: Record<string, TensorData> }) => {
  try {
    if (msg.op === 'open') {
      const o = msg.options!;
      model = await OrtModel.create(msg.bytes!, {
        ...o,
        device: o.device as Device | undefined,
        offThread: false,
        onWarning: (message) => port.postMessage({ id: -1, note: 'warning', message }),
        onInfo: (message) => port.postMessage({ id: -1, note: 'info', message }),
      });
      port.postMessage({ id: msg.id, ok: true, value: { inputs: model.inputs, outputs: model.outputs, provider: model.provider } });
    } else if (msg.op === 'run') {
      if (!model) throw new FaceRestoreError('E_CLOSED', 'model is not open');
      const c0 = threadCpuMs();
      const out = await model.run(msg.feeds!);
      port.postMessage({ id: msg.id, ok: true, value: out, cpuMs: threadCpuMs() - c0 });
    } else {
      await model?.close();
      model = undefined;
      port.postMessage({ id: msg.id, ok: true, value: null });
    }
  } catch (e) {
    const err = e instanceof FaceRestoreError ? e : new FaceRestoreError('E_MODEL_RUN', (e as Error).message);
    port.postMessage({ id: msg.id, ok: false, error: { code: err.code, message: err.message, details: err.details } });
  }
});
