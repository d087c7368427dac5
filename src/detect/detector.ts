import type { FaceDetection, VideoFrame } from '../types.ts';

/** A face detector: one frame in, the faces in it out (boxes, scores and five alignment points). */
export interface FaceDetector {
  /** Detector name for logs and summaries, e.g. `blazeface-back-256`. */
  readonly name: string;
  /** Detects faces in an I420 frame (see VideoFrame). Results are in frame pixels, sorted by descending score. */
  detect(frame: VideoFrame): Promise<FaceDetection[]>;
  /** Releases the model. Idempotent. */
  close(): Promise<void>;
}
