import type { FaceTracker } from '../track/tracker.ts';
import type { Face, FaceDetection, VideoFrame } from '../types.ts';
import { placeFrame, type SegmentWindow } from './segmentWindow.ts';

/**
 * Wraps a segment run's tracker. Warm-up frames (before the segment's start) go through the real
 * tracker, so its state at the first owned frame is what it would be in a continuous run, but report no
 * faces: nothing is aligned, restored or pasted for frames that are not encoded. Frames past the end
 * (decoded while the run stops) skip the tracker too.
 */
export class WindowTracker implements FaceTracker {
  readonly #inner: FaceTracker;
  readonly #window: SegmentWindow;

  constructor(inner: FaceTracker, window: SegmentWindow) {
    this.#inner = inner;
    this.#window = window;
  }

  update(frame: VideoFrame, detections: readonly FaceDetection[]): Face[] {
    const place = placeFrame(this.#window, frame.pts);
    if (place === 'after') return [];
    const faces = this.#inner.update(frame, detections);
    return place === 'inside' ? faces : [];
  }
}
