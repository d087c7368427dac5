import type { AnalyzedFrame, VideoInfo } from '../types.ts';
import type { FrameSink } from './sink.ts';

/** A sink that drops frames (analysis-only runs such as `facerestore track`). Counts what it saw. */
export class NullSink implements FrameSink {
  frames = 0;
  readonly releasesFrames = true;
  async start(_info: VideoInfo): Promise<void> {}
  async write(_item: AnalyzedFrame): Promise<void> {
    this.frames++;
  }
  async finish(): Promise<void> {}
  async abort(): Promise<void> {}
}
