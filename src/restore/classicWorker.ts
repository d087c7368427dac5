/**
 * Worker thread of the classic restorer's pool (classicPool.ts): restores crops that arrive in shared
 * memory and writes the results into shared memory, so no pixel is copied through a message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError, type SerializedError } from '../errors.ts';
import { ClassicKernel, type ClassicParams } from './classicKernel.ts';

/** Settings the pool starts a worker with (its `workerData`). */
export interface ClassicWorkerData {
  params: ClassicParams;
}

/** Messages to a worker: restore the crop in `input` with weight `w` into `output` (both CROP_BYTES, shared). */
export type ToClassicWorker = { type: 'run'; id: number; input: SharedArrayBuffer; output: SharedArrayBuffer; w: number };

/** Messages from a worker; `cpuMs` is the thread's CPU clock when it sent the message (see threadCpuMs). */
export type FromClassicWorker = { type: 'ready'; cpuMs: number } | { type: 'done'; id: number; cpuMs: number } | { type: 'failed'; id: number; error: SerializedError };

/** This thread's CPU time so far, ms (user + system; process CPU on a Node without threadCpuUsage). */
function threadCpuMs(): number {
  const p = process as NodeJS.Process & { threadCpuUsage?: () => NodeJS.CpuUsage };
  const u = p.threadCpuUsage ? p.threadCpuUsage() : process.cpuUsage();
  return (u.user + u.system) / 1000;
}

if (!parentPort) throw new Error('classicWorker.ts runs in a worker thread');
const port = parentPort;
const kernel = new ClassicKernel((workerData as ClassicWorkerData).params);

port.on('message', (m: ToClassicWorker) => {
  // Jobs overlap on purpose: one crop's median (JS, this thread) runs while another's blur and resize
  // (libvips, libuv's threads) are under way.
  kernel.run(new Uint8Array(m.input), m.w, new Uint8Array(m.output)).then(
    () => port.postMessage({ type: 'done', id: m.id, cpuMs: threadCpuMs() } satisfies FromClassicWorker),
    (e: unknown) => port.postMessage({ type: 'failed', id: m.id, error: serializeError(e) } satisfies FromClassicWorker),
  );
});
port.postMessage({ type: 'ready', cpuMs: threadCpuMs() } satisfies FromClassicWorker);
