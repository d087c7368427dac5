import type { Box, Face, FaceDetection, FivePoints, VideoFrame } from '../types.ts';

/** What a tracker did on its last frame (for exports and logs). */
export interface TrackerFrameSummary {
  /** True when the frame starts a new shot. */
  cut: boolean;
  /** `full`: detected on the whole frame; `partial`: in track regions only; `none`: predicted. */
  detection: 'full' | 'partial' | 'none';
}

/**
 * Turns per-frame detections into tracked faces (stable ids, smoothed points, a fidelity weight each).
 * Called once per frame, in frame order.
 */
export interface FaceTracker {
  /**
   * Faces on `frame`. `detections` is undefined on frames the tracker said need no detection (it then
   * predicts); `partial` marks detections made only inside `regions()`.
   */
  update(frame: VideoFrame, detections: readonly FaceDetection[] | undefined, options?: { partial?: boolean }): Face[];
  /** Whether `frame` needs a full detection pass (detection cadence). Absent: always. */
  needsDetection?(frame: VideoFrame): boolean;
  /** Regions worth re-detecting in on a frame without a full pass. */
  regions?(frameWidth: number, frameHeight: number, margin?: number): Array<{ trackId: number; box: Box }>;
  /** What the last update did. */
  readonly lastFrame?: TrackerFrameSummary | undefined;
  /** A recent frame's points of a track revised with later frames (file mode's look-ahead); absent or undefined: keep them. */
  revisedPoints?(trackId: number, frameIndex: number): FivePoints | undefined;
}

/** Chooses a face's fidelity weight w ∈ [0, 1]. */
export interface FidelityPolicy {
  fidelityFor(trackId: number, detection: FaceDetection, frame: VideoFrame): number;
  /** Forget per-track state when a track ends. */
  trackEnded?(trackId: number): void;
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
 * Stateless, so any frame can be processed on its own (segments of a job reproduce a single run exactly).
 */
export class PerFrameTracker implements FaceTracker {
  readonly #policy: FidelityPolicy;
  constructor(policy: FidelityPolicy) {
    this.#policy = policy;
  }
  update(frame: VideoFrame, detections: readonly FaceDetection[] | undefined): Face[] {
    return (detections ?? []).map((d, i) => ({ ...d, trackId: i, rawPoints: d.points, fidelity: this.#policy.fidelityFor(i, d, frame) }));
  }
}
