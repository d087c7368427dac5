import type { FaceDetection, VideoFrame } from '../types.ts';

/** Per-call options of FaceDetector.detect (a detector that does not know one ignores it). */
export interface DetectOptions {
  /**
   * Also return weaker candidates, down to this score, that overlap none of the faces found at the detector's
   * own threshold (those come out exactly as without the option). For a caller that checks such candidates
   * itself (TiledDetector's second look); ignored when not below the detector's threshold.
   */
  weakScoreThreshold?: number;
}

/** A face detector: one frame in, the faces in it out (boxes, scores and five alignment points). */
export interface FaceDetector {
  /** Detector name for logs and summaries, e.g. `blazeface-back-256`. */
  readonly name: string;
  /** Detects faces in an I420 frame (see VideoFrame). Results are in frame pixels, sorted by descending score. */
  detect(frame: VideoFrame, options?: DetectOptions): Promise<FaceDetection[]>;
  /** Releases the model. Idempotent. */
  close(): Promise<void>;
}
