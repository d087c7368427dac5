import type { AnalyzedFrame, VideoInfo } from '../types.ts';

/**
 * What `FrameSink.write` may resolve to: nothing (keep sending frames), or `'done'`: the sink has all
 * it needs (a segment past its last frame, a capture of N frames). The runner then stops decoding,
 * sends no further frame, calls `finish()` and resolves normally with its summary.
 */
export type SinkWriteResult = void | 'done';

/**
 * Where composed frames go, in frame order (file encoder, WebRTC track, a job segment, a test's
 * collector). `write` may apply backpressure by resolving late, and may end the run early by resolving
 * to `'done'`; `finish` completes the output; `abort` drops it.
 */
export interface FrameSink {
  /**
   * True when the sink holds no reference to a frame's pixels once `write` has resolved (an encoder that has
   * handed them to the kernel, a sink that drops them): the runner may then reuse the frame's buffer for a
   * later frame. Absent or false: every frame keeps its own buffer (a sink that collects frames).
   */
  readonly releasesFrames?: boolean;
  /** Called once before the first frame with the source's facts. */
  start(info: VideoInfo): Promise<void>;
  /** Takes one frame; resolves to `'done'` when no further frame is needed (see SinkWriteResult). */
  write(item: AnalyzedFrame): Promise<SinkWriteResult>;
  /** Completes the output (e.g. closes the encoder and renames the file into place). Called once, also after `'done'`. */
  finish(): Promise<void>;
  /** Drops partial output. Idempotent; safe after finish. */
  abort(): Promise<void>;
}
