import { threadCpuMs } from '../util/cpuMeter.ts';

/**
 * Main-thread CPU spent inside ONNX Runtime's runs of the models that share one tally (e.g. every detection
 * model of a component set), so the per-stage CPU figures can charge inference to its stage.
 *
 * Why a tally of its own: ONNX Runtime's Node binding runs a session synchronously on the calling thread, but inside a
 * `setImmediate` callback that `InferenceSession.run` queues (the binding's 1.30 backend.js), not
 * inside the caller's synchronous section. A stage's `now()` … `add()` bracket around its call therefore never
 * sees the inference; it landed in `other` (measured at 1280×720 with BlazeFace and the 68-point net: `detect`
 * 2.1 ms per frame, `other` 15.4, of which the profile puts most inside that callback).
 */
export class RunCpuTally {
  /** Thread CPU ms inside the tallied runs so far. */
  ms = 0;
  /** Runs tallied so far. */
  runs = 0;

  /**
   * Runs `f` and adds its thread CPU (not counted as a run): for a model's pre- and post-processing that runs
   * after an await, where no caller's bracket sees it either. Never call it inside a stage bracket.
   */
  time<T>(f: () => T): T {
    const t = threadCpuMs();
    try {
      return f();
    } finally {
      this.ms += Math.max(0, threadCpuMs() - t);
    }
  }

  /** Adds one run's thread CPU (ms). */
  add(ms: number): void {
    this.ms += Math.max(0, ms);
    this.runs++;
  }
}
