import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultBlazeFaceModel } from '../src/detect/blazeface.ts';
import { OrtModel, type TensorData } from '../src/runtime/ort.ts';
import { RunCpuTally } from '../src/runtime/runCpuTally.ts';
import { threadCpuMs } from '../src/util/cpuMeter.ts';

/** Spins this thread for about `ms` of its CPU. */
function burn(ms: number): void {
  const end = threadCpuMs() + ms;
  let x = 0;
  while (threadCpuMs() < end) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error('unreachable');
}

// The bundled BlazeFace graph (one NHWC float input [1,256,256,3]), one intra-op thread: the run's CPU is this thread's.
describe('RunCpuTally: the main thread CPU inside ONNX Runtime runs', () => {
  let model: OrtModel;
  const tally = new RunCpuTally();
  const input = new Float32Array(256 * 256 * 3).map((_, i) => Math.sin(i * 0.37) * 0.9);
  const feeds = (): Record<string, TensorData> => ({ [model.inputs[0]!.name]: { type: 'float32', dims: [1, 256, 256, 3], data: input } });

  beforeAll(async () => {
    model = await OrtModel.create(await readFile(defaultBlazeFaceModel()), { intraOpThreads: 1, name: 'blazeface', cpuTally: tally });
    await model.run(feeds()); // warm-up
  });
  afterAll(async () => {
    await model?.close();
  });

  it('counts each run, and the runs are most of what the thread did; a bracket around the call sees almost none of it', async () => {
    const start = { ms: tally.ms, runs: tally.runs };
    let bracketed = 0;
    const t0 = threadCpuMs();
    for (let i = 0; i < 12; i++) {
      const c = threadCpuMs();
      const pending = model.run(feeds());
      bracketed += threadCpuMs() - c; // what a stage's now() … add() around the call sees
      await pending;
    }
    const loop = threadCpuMs() - t0;
    const ran = tally.ms - start.ms;
    expect(tally.runs - start.runs).toBe(12);
    expect(ran).toBeGreaterThan(0.6 * loop);
    expect(ran).toBeLessThanOrEqual(loop + 1e-6);
    // ORT runs the session in a callback of its own, after the caller's synchronous section: why the tally exists.
    expect(bracketed).toBeLessThan(0.25 * ran);
  });

  it('leaves out the event loop work queued around a run (callbacks before and after it)', async () => {
    const start = tally.ms;
    const t0 = threadCpuMs();
    let burnt = 0;
    for (let i = 0; i < 6; i++) {
      const b0 = threadCpuMs();
      setImmediate(() => burn(15)); // queued before the run's callback
      const pending = model.run(feeds());
      setImmediate(() => burn(15)); // and after it
      await pending;
      await new Promise((r) => setImmediate(r));
      burnt += 30;
      expect(threadCpuMs() - b0).toBeGreaterThanOrEqual(30 - 1e-6);
    }
    const loop = threadCpuMs() - t0;
    const ran = tally.ms - start;
    expect(ran).toBeGreaterThan(0);
    expect(ran).toBeLessThanOrEqual(loop - 0.9 * burnt);
  });
});
