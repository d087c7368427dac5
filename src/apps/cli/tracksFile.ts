import path from 'node:path';
import { commitPartial, discardPartial, partialPathFor } from '../../util/atomicFile.ts';
import { TrackExporter } from '../../track/trackExport.ts';
import type { RunOptions } from '../file/pipeline.ts';
import type { VideoInfo } from '../../types.ts';

/**
 * A tracks export written like every other output: streamed into a temporary file beside the target,
 * renamed into place on success, removed on failure.
 */
export class TracksFile {
  readonly target: string;
  readonly #partial: string;
  #exporter: TrackExporter | undefined;

  constructor(target: string) {
    this.target = target;
    this.#partial = partialPathFor(target);
  }

  /** The pipeline hook that opens the export once the input is known. */
  readonly onStart: NonNullable<RunOptions['onStart']> = (video: VideoInfo) => {
    this.#exporter = TrackExporter.toFile(this.#partial, { width: video.width, height: video.height, fps: video.fps, source: path.basename(video.path) });
  };

  /** The pipeline hook that records each frame. */
  readonly onTracked: NonNullable<RunOptions['onTracked']> = (frame, faces, info) => this.#exporter?.add(frame, faces, info);

  async commit(): Promise<void> {
    if (!this.#exporter) throw new Error('TracksFile.commit before the run started');
    this.#exporter.finish();
    await commitPartial(this.#partial, this.target);
  }

  async discard(): Promise<void> {
    try {
      this.#exporter?.finish();
    } catch {
      // The exporter may already be finished or broken; the file is removed either way.
    }
    await discardPartial(this.#partial);
  }
}
