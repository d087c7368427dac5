/**
 * Photo throughput: images/s and faces/s of `restore` on still images, in this process, with the
 * configured restorer and with none (the difference is what restoration costs; the rest is reading,
 * detection and writing). Each image is run once untimed (warm-up), then every image `repeats` times.
 */
import path from 'node:path';
import { Components } from '../../engine/components.ts';
import type { PipelineOptionsInput } from '../../engine/options.ts';
import { runImage } from '../file/runImage.ts';

/** One restorer's figures over the photo set. */
export interface PhotoPass {
  restorer: string;
  /** Image runs timed (images × repeats). */
  images: number;
  /** Faces detected over those runs. */
  faces: number;
  /** Faces restored over those runs (0 with no restorer). */
  restored: number;
  seconds: number;
  imagesPerSecond: number;
  facesPerSecond: number;
}

export interface PhotoReport {
  /** Where the images came from: `clip frames` (stills taken from the bench clip) or `given`. */
  source: 'clip frames' | 'given';
  files: string[];
  sizes: string[];
  repeats: number;
  passes: PhotoPass[];
}

/** Measures `files` (still images) with the pipeline's restorer and with none; outputs go to `outDir`. */
export async function measurePhotos(pipeline: PipelineOptionsInput, files: readonly string[], outDir: string, repeats: number, source: PhotoReport['source']): Promise<PhotoReport> {
  const passes: PhotoPass[] = [];
  const sizes: string[] = [];
  for (const restorer of [undefined, 'none'] as const) {
    const components = await Components.create(restorer ? { ...pipeline, restorer } : pipeline);
    try {
      const out = (i: number) => path.join(outDir, `photo-${i}.jpg`);
      for (const [i, f] of files.entries()) {
        const s = await runImage(components, f, out(i));
        if (!restorer) sizes.push(`${s.width}x${s.height}`);
      }
      let faces = 0, restored = 0;
      const t = performance.now();
      for (let k = 0; k < repeats; k++) {
        for (const [i, f] of files.entries()) {
          const s = await runImage(components, f, out(i));
          faces += s.detected;
          restored += s.restored;
        }
      }
      const seconds = (performance.now() - t) / 1000;
      const images = files.length * repeats;
      passes.push({ restorer: components.restorerName, images, faces, restored, seconds, imagesPerSecond: images / seconds, facesPerSecond: faces / seconds });
    } finally {
      await components.close();
    }
  }
  return { source, files: [...files], sizes, repeats, passes };
}
