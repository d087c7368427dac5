import type { FaceDetection, VideoFrame } from '../types.ts';
import type { FaceDetector } from '../detect/detector.ts';
import { iou } from '../geometry.ts';
import type { TrackRegion } from '../track/multiTracker.ts';

/** Copies a rectangle (whole pixels, inside the frame) out of an RGB24 frame. */
export function cropFrame(frame: VideoFrame, x: number, y: number, width: number, height: number): VideoFrame {
  if (!(Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && width > 0 && height > 0 && x + width <= frame.width && y + height <= frame.height)) {
    throw new TypeError(`Expected a whole-pixel rectangle inside the ${frame.width}×${frame.height} frame but received ${width}×${height} at (${x}, ${y})`);
  }
  const data = new Uint8Array(width * height * 3);
  for (let r = 0; r < height; r++) {
    const o = ((y + r) * frame.width + x) * 3;
    data.set(frame.data.subarray(o, o + width * 3), r * width * 3);
  }
  return { index: frame.index, pts: frame.pts, width, height, data };
}

/**
 * Runs the detector on each region only (cheap re-detection around tracked faces) and returns the
 * detections in frame pixels; overlapping regions' duplicates (IoU > 0.5) keep the higher score.
 */
export async function detectInRegions(detector: FaceDetector, frame: VideoFrame, regions: readonly TrackRegion[]): Promise<FaceDetection[]> {
  const found: FaceDetection[] = [];
  for (const r of regions) {
    const crop = cropFrame(frame, r.box.x, r.box.y, r.box.width, r.box.height);
    for (const d of await detector.detect(crop)) {
      found.push({
        score: d.score,
        box: { x: d.box.x + r.box.x, y: d.box.y + r.box.y, width: d.box.width, height: d.box.height },
        points: d.points.map(([px, py]) => [px + r.box.x, py + r.box.y] as const) as unknown as FaceDetection['points'],
      });
    }
  }
  found.sort((a, b) => b.score - a.score);
  const kept: FaceDetection[] = [];
  for (const d of found) if (!kept.some((k) => iou(k.box, d.box) > 0.5)) kept.push(d);
  return kept;
}
