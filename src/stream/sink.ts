import type { AnalyzedFrame, VideoInfo } from '../types.ts';

/**
 * Where composed frames go, in frame order (file encoder, WebRTC track, a test's collector).
 * `write` may apply backpressure by resolving late; `finish` completes the output; `abort` drops it.
 */
export interface FrameSink {
  /** Called once before the first frame with the source's facts. */
  start(info: VideoInfo): Promise<void>;
  write(item: AnalyzedFrame): Promise<void>;
  /** Completes the output (e.g. closes the encoder and renames the file into place). */
  finish(): Promise<void>;
  /** Drops partial output. Idempotent; safe after finish. */
  abort(): Promise<void>;
}
