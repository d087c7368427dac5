import type { Box, FaceDetection, FivePoints } from './types.ts';

/** Area of the intersection of two boxes. */
export function intersection(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Intersection over union of two boxes (0 when either is empty). */
export function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** Side of the square with the box's area, in pixels. */
export function boxSide(b: Box): number {
  return Math.sqrt(Math.max(0, b.width) * Math.max(0, b.height));
}

/** Centre of a box. */
export function boxCentre(b: Box): [number, number] {
  return [b.x + b.width / 2, b.y + b.height / 2];
}

/** Mean Euclidean distance between corresponding points. */
export function meanPointDistance(a: FivePoints, b: FivePoints): number {
  let s = 0;
  for (let i = 0; i < 5; i++) s += Math.hypot(a[i]![0] - b[i]![0], a[i]![1] - b[i]![1]);
  return s / 5;
}

/** Fraction of the box side that the inter-ocular distance is never taken below (profiles, where the eyes overlap). */
export const MIN_SCALE_FRACTION = 0.25;

/**
 * A face's length unit in pixels: the inter-ocular distance, floored at MIN_SCALE_FRACTION × the box side
 * so that profile views (eyes close together) keep a sensible unit. All tracking tolerances are multiples of it.
 */
export function faceScale(d: FaceDetection): number {
  const iod = Math.hypot(d.points[1][0] - d.points[0][0], d.points[1][1] - d.points[0][1]);
  return Math.max(iod, MIN_SCALE_FRACTION * boxSide(d.box), 1e-3);
}
