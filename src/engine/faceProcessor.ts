import { alignmentFor } from '../compose/align.ts';
import { pasteCrop } from '../compose/paste.ts';
import { warpToCrop } from '../compose/warp.ts';
import type { Restorer } from '../restore/restorer.ts';
import type { FaceDetector } from '../detect/detector.ts';
import type { FaceTracker } from '../track/tracker.ts';
import { detectInRegions } from './regionDetect.ts';
import type { AlignedFace, AnalyzedFrame, Box, Face, StageTimes, VideoFrame } from '../types.ts';

/** A frame with its faces aligned and cropped, waiting for restoration. */
export interface PreparedFrame extends AnalyzedFrame {
  aligned: AlignedFace[];
}

/** Restored frame plus the rectangles that paste-back may have changed. */
export interface ComposedFrame extends AnalyzedFrame {
  changed: Box[];
}

/**
 * The per-frame work shared by file and live modes: detect → track → align (warp crops), and
 * restore (batched across frames) → paste back. Holds no frames between calls; timing goes to `times`.
 */
export class FaceProcessor {
  readonly detector: FaceDetector;
  readonly tracker: FaceTracker;
  readonly restorer: Restorer | undefined;
  readonly times: StageTimes;
  /** Re-detect inside tracked regions on frames between full detections. */
  readonly regionDetection: boolean;

  constructor(detector: FaceDetector, tracker: FaceTracker, restorer: Restorer | undefined, times: StageTimes, regionDetection = true) {
    this.regionDetection = regionDetection;
    this.detector = detector;
    this.tracker = tracker;
    this.restorer = restorer;
    this.times = times;
  }

  /**
   * Detects, tracks and aligns the faces of one frame. Frames must come in order. Follows the tracker's
   * detection cadence: a full pass when it asks for one, else re-detection inside its tracks' regions
   * (when `regionDetection`), else prediction alone.
   */
  async prepare(frame: VideoFrame): Promise<PreparedFrame> {
    let t = performance.now();
    let faces: Face[];
    if (this.tracker.needsDetection?.(frame) ?? true) {
      faces = this.tracker.update(frame, await this.detector.detect(frame));
    } else {
      const regions = this.regionDetection ? (this.tracker.regions?.(frame.width, frame.height) ?? []) : [];
      faces = regions.length > 0
        ? this.tracker.update(frame, await detectInRegions(this.detector, frame, regions), { partial: true })
        : this.tracker.update(frame, undefined);
    }
    this.times.detect += performance.now() - t;
    t = performance.now();
    const aligned: AlignedFace[] = faces.map((face) => {
      const toCrop = alignmentFor(face.points);
      return { face, toCrop, crop: warpToCrop(frame, toCrop) };
    });
    this.times.align += performance.now() - t;
    return { frame, faces, aligned };
  }

  /**
   * Restores every face of `frames` in one restorer call (one w per face), then pastes each back into
   * its frame in place. Returns the frames in the order given.
   */
  async compose(frames: readonly PreparedFrame[]): Promise<ComposedFrame[]> {
    const all = frames.flatMap((f) => f.aligned);
    let restored: Uint8Array[] = [];
    if (this.restorer && all.length > 0) {
      const t = performance.now();
      restored = await this.restorer.restore(all.map((a) => a.crop), all.map((a) => a.face.fidelity));
      this.times.restore += performance.now() - t;
    }
    const t = performance.now();
    let k = 0;
    const out = frames.map((f) => {
      const changed: Box[] = [];
      for (const a of f.aligned) {
        const r = restored[k++];
        if (r) changed.push(pasteCrop(f.frame, r, a.toCrop));
      }
      return { frame: f.frame, faces: f.faces, changed };
    });
    this.times.paste += performance.now() - t;
    return out;
  }
}

/** Zeroed stage timings. */
export function emptyStageTimes(): StageTimes {
  return { decode: 0, detect: 0, align: 0, restore: 0, paste: 0, encode: 0 };
}
