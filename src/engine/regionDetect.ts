import type { FaceDetection, VideoFrame } from '../types.ts';
import type { FaceDetector } from '../detect/detector.ts';
import { iou } from '../geometry.ts';
import { i420Layout } from '../util/yuv.ts';
import type { TrackRegion } from '../track/multiTracker.ts';

/**
 * Copies a rectangle (whole pixels, inside the frame) out of an I420 frame. The copy starts at even
 * coordinates (the rectangle grows by at most one pixel left and up) so its chroma samples are the frame's
 * own; the returned frame's `x`, `y` say where it starts.
 */
export function cropFrame(frame: VideoFrame, x: number, y: number, width: number, height: number): VideoFrame & { x: number; y: number } {
  if (!(Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && width > 0 && height > 0 && x + width <= frame.width && y + height <= frame.height)) {
    throw new TypeError(`Expected a whole-pixel rectangle inside the ${frame.width}×${frame.height} frame but received ${width}×${height} at (${x}, ${y})`);
  }
  const x0 = x & ~1;
  const y0 = y & ~1;
  const w = width + (x - x0);
  const h = height + (y - y0);
  const from = i420Layout(frame.width, frame.height);
  const to = i420Layout(w, h);
  const data = new Uint8Array(to.size);
  for (let r = 0; r < h; r++) {
    const o = (y0 + r) * frame.width + x0;
    data.set(frame.data.subarray(o, o + w), r * w);
  }
  for (let r = 0; r < to.ch; r++) {
    const o = ((y0 >> 1) + r) * from.cw + (x0 >> 1);
    data.set(frame.data.subarray(from.uOff + o, from.uOff + o + to.cw), to.uOff + r * to.cw);
    data.set(frame.data.subarray(from.vOff + o, from.vOff + o + to.cw), to.vOff + r * to.cw);
  }
  const crop = { index: frame.index, pts: frame.pts, width: w, height: h, data, x: x0, y: y0 };
  return frame.colour ? { ...crop, colour: frame.colour } : crop;
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
        box: { x: d.box.x + crop.x, y: d.box.y + crop.y, width: d.box.width, height: d.box.height },
        points: d.points.map(([px, py]) => [px + crop.x, py + crop.y] as const) as unknown as FaceDetection['points'],
      });
    }
  }
  found.sort((a, b) => b.score - a.score);
  const kept: FaceDetection[] = [];
  for (const d of found) if (!kept.some((k) => iou(k.box, d.box) > 0.5)) kept.push(d);
  return kept;
}
