import type { PipelineOptionsInput } from '../../engine/options.ts';
import { createRestorer } from '../../restore/createRestorer.ts';
import { CROP_BYTES } from '../../restore/restorer.ts';

/** Faces/s of the restorer alone at one batch size. */
export interface ThroughputFigure {
  batch: number;
  faces: number;
  seconds: number;
  facesPerSecond: number;
  secondsPerFace: number;
}

/**
 * The configured restorer's throughput on synthetic 512 crops, in this process. Each batch size is warmed
 * with one full batch first: a pooled restorer (the classic one's worker threads) compiles its kernels and
 * allocates its slots per worker, and one warm-up face reached one worker only (the first timed batch of 16
 * then paid for the rest: 65 faces/s against 123 from bench/classic-restorer.ts). Then at least `minCalls`
 * calls (default 3) and `facesPerBatchSize` faces are timed.
 */
export async function measureRestorer(pipeline: PipelineOptionsInput, batches: number[], facesPerBatchSize: number, minCalls = 3): Promise<{ name: string; throughput: ThroughputFigure[] }> {
  const restorer = await createRestorer({
    kind: pipeline.restorer ?? (pipeline.model ? 'onnx' : 'classic'),
    model: pipeline.model,
    device: pipeline.device,
    batch: Math.max(...batches),
    intraOpThreads: pipeline.threads,
    threadSpinning: pipeline.threadSpinning,
    cacheDir: pipeline.cacheDir,
  });
  if (!restorer) return { name: 'none (passthrough)', throughput: [] };
  const throughput: ThroughputFigure[] = [];
  try {
    const crop = new Uint8Array(CROP_BYTES).map((_, i) => (i * 2654435761) >>> 24);
    const weights = (n: number) => Array.from({ length: n }, (_, i) => (i % 3) / 2);
    for (const batch of batches) {
      await restorer.restore(Array.from({ length: batch }, () => crop), weights(batch));
      const faces = Math.max(batch * minCalls, facesPerBatchSize);
      const t = performance.now();
      for (let done = 0; done < faces; done += batch) {
        const n = Math.min(batch, faces - done);
        await restorer.restore(Array.from({ length: n }, () => crop), weights(n));
      }
      const seconds = (performance.now() - t) / 1000;
      throughput.push({ batch, faces, seconds, facesPerSecond: faces / seconds, secondsPerFace: seconds / faces });
    }
    return { name: restorer.name, throughput };
  } finally {
    await restorer.close();
  }
}
