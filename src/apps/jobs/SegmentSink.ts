import { FaceRestoreError } from '../../errors.ts';
import type { FrameSink, SinkWriteResult } from '../../stream/sink.ts';
import type { AnalyzedFrame, VideoInfo } from '../../types.ts';
import { decodeTime, placeFrame, type SegmentWindow } from './segmentWindow.ts';

/** Hooks of a SegmentSink. */
export interface SegmentSinkHooks {
  /** After each frame the segment keeps. */
  onFrame?: (kept: number) => void;
}

/**
 * A FrameSink in front of the segment's file sink that passes on only the frames the segment owns:
 * warm-up frames before its start are dropped (decoded, tracked, not encoded), and the first frame past
 * its end makes `write` resolve to `'done'` (the runner stops decoding and calls `finish`, which checks
 * and commits the segment). The check makes the boundaries frame-exact:
 * the frame count must be the planned one, and the first and last frames must be the planned ones
 * (within a quarter frame), so a duplicate or a missing frame at either boundary fails the segment
 * instead of reaching the output.
 */
export class SegmentSink implements FrameSink {
  readonly window: SegmentWindow;
  /** As the inner sink's (frames it drops are not kept either). */
  readonly releasesFrames: boolean;
  readonly #inner: FrameSink;
  readonly #hooks: SegmentSinkHooks;
  #kept = 0;
  #firstTime: number | undefined;
  #lastTime: number | undefined;
  #committed = false;
  /** A frame past the end has arrived: every frame of the segment has been seen. */
  #complete = false;
  #closed = false;

  constructor(inner: FrameSink, window: SegmentWindow, hooks: SegmentSinkHooks = {}) {
    this.#inner = inner;
    this.releasesFrames = inner.releasesFrames === true;
    this.window = window;
    this.#hooks = hooks;
  }

  /** Frames passed on so far. */
  get kept(): number {
    return this.#kept;
  }

  /** True once the segment's file is complete and in place. */
  get committed(): boolean {
    return this.#committed;
  }

  start(info: VideoInfo): Promise<void> {
    return this.#inner.start(info);
  }

  async write(item: AnalyzedFrame): Promise<SinkWriteResult> {
    if (this.#closed || this.#complete) return 'done';
    const place = placeFrame(this.window, item.frame.pts);
    if (place === 'before') return;
    if (place === 'after') {
      this.#complete = true;
      return 'done';
    }
    const t = decodeTime(this.window, item.frame.pts);
    if (this.#lastTime !== undefined && t <= this.#lastTime) {
      await this.#fail(`frame times went backwards or repeated (${t.toFixed(6)} s after ${this.#lastTime.toFixed(6)} s)`);
    }
    this.#firstTime ??= t;
    this.#lastTime = t;
    await this.#inner.write(item);
    this.#kept++;
    this.#hooks.onFrame?.(this.#kept);
  }

  /** Checks and commits the segment: after `'done'`, or when the decoder reached the end of its window (or of the file). */
  async finish(): Promise<void> {
    if (!this.#closed) await this.#commit();
  }

  async abort(): Promise<void> {
    if (this.#committed) return;
    this.#closed = true;
    await this.#inner.abort();
  }

  async #commit(): Promise<void> {
    this.#closed = true;
    const w = this.window;
    const tol = w.frameSeconds / 4;
    if (this.#kept === 0) await this.#fail('no frame of the segment was decoded (truncated or corrupt input)');
    if (w.frameCount !== null && this.#kept !== w.frameCount) {
      await this.#fail(`decoded ${this.#kept} of its ${w.frameCount} frames (${this.#kept < w.frameCount ? 'truncated or corrupt input' : 'duplicate frames'})`);
    }
    if (w.firstTime !== null && Math.abs(this.#firstTime! - w.firstTime) > tol) await this.#fail(`first frame at ${this.#firstTime!.toFixed(6)} s, planned ${w.firstTime.toFixed(6)} s`);
    if (w.lastTime !== null && Math.abs(this.#lastTime! - w.lastTime) > tol) await this.#fail(`last frame at ${this.#lastTime!.toFixed(6)} s, planned ${w.lastTime.toFixed(6)} s`);
    await this.#inner.finish();
    this.#committed = true;
  }

  async #fail(why: string): Promise<never> {
    this.#closed = true;
    await this.#inner.abort();
    throw new FaceRestoreError('E_DECODE', `segment ${this.window.index}: ${why}`, { details: { segment: this.window.index, kept: this.#kept } });
  }
}
