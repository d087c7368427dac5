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
 * The configured restorer's throughput on synthetic 512 crops, in this process, after one warm-up call
 * (first runs allocate). `none` measures nothing.
 */
export async function measureRestorer(pipeline: PipelineOptionsInput, batches: number[], facesPerBatchSize: number): Promise<{ name: string; throughput: ThroughputFigure[] }> {
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
    await restorer.restore([crop], [0.5]);
    for (const batch of batches) {
      const faces = Math.max(batch, facesPerBatchSize);
      const t = performance.now();
      for (let done = 0; done < faces; done += batch) {
        const n = Math.min(batch, faces - done);
        await restorer.restore(Array.from({ length: n }, () => crop), Array.from({ length: n }, (_, i) => (i % 3) / 2));
      }
      const seconds = (performance.now() - t) / 1000;
      throughput.push({ batch, faces, seconds, facesPerSecond: faces / seconds, secondsPerFace: seconds / faces });
    }
    return { name: restorer.name, throughput };
  } finally {
    await restorer.close();
  }
}
