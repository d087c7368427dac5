import type { FaceTracker, TrackerFrameSummary } from '../../track/tracker.ts';
import type { Box, Face, FaceDetection, VideoFrame } from '../../types.ts';
import { placeFrame, type SegmentWindow } from './segmentWindow.ts';

/**
 * Wraps a segment run's tracker. Warm-up frames (before the segment's start) go through the real
 * tracker, so its state at the first owned frame is close to what it is in a continuous run, but report
 * no faces: nothing is aligned, restored or pasted for frames that are not encoded. Frames past the end
 * (decoded while the run stops) are neither detected nor tracked. Detection cadence and region
 * re-detection are the inner tracker's.
 */
export class WindowTracker implements FaceTracker {
  readonly #inner: FaceTracker;
  readonly #window: SegmentWindow;
  #pastEnd = false;

  constructor(inner: FaceTracker, window: SegmentWindow) {
    this.#inner = inner;
    this.#window = window;
  }

  get lastFrame(): TrackerFrameSummary | undefined {
    return this.#inner.lastFrame;
  }

  needsDetection(frame: VideoFrame): boolean {
    this.#pastEnd = placeFrame(this.#window, frame.pts) === 'after';
    if (this.#pastEnd) return false;
    return this.#inner.needsDetection?.(frame) ?? true;
  }

  regions(frameWidth: number, frameHeight: number, margin?: number): Array<{ trackId: number; box: Box }> {
    return this.#pastEnd ? [] : (this.#inner.regions?.(frameWidth, frameHeight, margin) ?? []);
  }

  update(frame: VideoFrame, detections: readonly FaceDetection[] | undefined, options?: { partial?: boolean }): Face[] {
    const place = placeFrame(this.#window, frame.pts);
    if (place === 'after') return [];
    const faces = this.#inner.update(frame, detections, options);
    return place === 'inside' ? faces : [];
  }
}
