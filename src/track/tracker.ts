import type { Face, FaceDetection, VideoFrame } from '../types.ts';

/**
 * Turns per-frame detections into tracked faces (stable ids, smoothed points, a fidelity weight each).
 * Called once per frame, in frame order.
 */
export interface FaceTracker {
  update(frame: VideoFrame, detections: readonly FaceDetection[]): Face[];
}

/** Chooses a face's fidelity weight w ∈ [0, 1]. */
export interface FidelityPolicy {
  fidelityFor(trackId: number, detection: FaceDetection, frame: VideoFrame): number;
}

/** The same w for every face. */
export class ConstantFidelity implements FidelityPolicy {
  readonly w: number;
  constructor(w: number) {
    this.w = w;
  }
  fidelityFor(): number {
    return this.w;
  }
}

/**
 * No tracking: each detection is its own face, numbered within the frame, points unsmoothed.
 * The tracking module's tracker replaces this when enabled.
 */
export class PerFrameTracker implements FaceTracker {
  readonly #policy: FidelityPolicy;
  constructor(policy: FidelityPolicy) {
    this.#policy = policy;
  }
  update(frame: VideoFrame, detections: readonly FaceDetection[]): Face[] {
    return detections.map((d, i) => ({ ...d, trackId: i, rawPoints: d.points, fidelity: this.#policy.fidelityFor(i, d, frame) }));
  }
}
