import type { Box, Face, FaceDetection, FivePoints, VideoFrame } from '../types.ts';

/** What a tracker did on its last frame (for exports and logs). */
export interface TrackerFrameSummary {
  /** True when the frame starts a new shot. */
  cut: boolean;
  /** `full`: detected on the whole frame; `partial`: in track regions only; `none`: predicted. */
  detection: 'full' | 'partial' | 'none';
  /** With re-identification on: which ids are still provisional, and which were re-identified on this frame. */
  identity?: IdentityFrameSummary;
}

/** A provisional id replaced by an earlier track's id (re-identification). */
export interface Reidentification {
  /** The id the new track carried until now (provisional; never used again). */
  from: number;
  /** The earlier track's id it takes. */
  to: number;
  /** Distance between the two tracks' mean descriptors (below the threshold). */
  distance: number;
  /** The w override of `to`, if any (frames still held with `from` take it). */
  fidelity?: number;
}

/** Re-identification facts of one frame (see MultiFaceTracker.identify). */
export interface IdentityFrameSummary {
  /** Ids of live tracks whose identity is undecided (they may still be re-identified, renaming their earlier frames). */
  pending: number[];
  /** Renames decided on this frame. */
  reidentified: Reidentification[];
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
  /** Re-identification on: the faces of the last update that want a descriptor (empty when off). */
  descriptorRequests?(): Array<{ trackId: number; points: FivePoints }>;
  /** Re-identification on: takes the descriptors asked for (by track id) and returns the faces with final ids. */
  identify?(frame: VideoFrame, faces: readonly Face[], descriptors: ReadonlyMap<number, ArrayLike<number>>): Face[];
}

/** Chooses a face's fidelity weight w ∈ [0, 1]. */
export interface FidelityPolicy {
  fidelityFor(trackId: number, detection: FaceDetection, frame: VideoFrame): number;
  /** Forget per-track state when a track ends. */
  trackEnded?(trackId: number): void;
  /** The w override of a track, if the policy has one (re-identification carries it to held frames). */
  override?(trackId: number): number | undefined;
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
