import type { Affine, Box, FivePoints, Point } from '../types.ts';
import { CROP_SIZE } from '../types.ts';

/**
 * The FFHQ 512×512 alignment template (facexlib/CodeFormer), in the order of FivePoints:
 * eye on the image left, eye on the image right, nose tip, left and right mouth corners.
 */
export const FFHQ_TEMPLATE_512: FivePoints = [
  [192.98138, 239.94708],
  [318.90277, 240.1936],
  [256.63416, 314.01935],
  [201.26117, 371.41043],
  [313.08905, 371.15118],
];

/**
 * Least-squares similarity transform (rotation, uniform scale, translation: 4 degrees of freedom,
 * no reflection) mapping `from[i]` onto `to[i]`. Closed form: with both sets centred, the linear part
 * [a −b; b a] has a = Σ(p·q)/Σ|p|² and b = Σ(p×q)/Σ|p|².
 */
export function fitSimilarity(from: readonly Point[], to: readonly Point[]): Affine {
  const n = from.length;
  if (n < 2 || to.length !== n) throw new TypeError(`Expected two equally long point lists of at least 2 points but received ${n} and ${to.length}`);
  let mx = 0, my = 0, qx = 0, qy = 0;
  for (let i = 0; i < n; i++) {
    mx += from[i]![0];
    my += from[i]![1];
    qx += to[i]![0];
    qy += to[i]![1];
  }
  mx /= n; my /= n; qx /= n; qy /= n;
  let dot = 0, cross = 0, norm = 0;
  for (let i = 0; i < n; i++) {
    const px = from[i]![0] - mx, py = from[i]![1] - my;
    const ux = to[i]![0] - qx, uy = to[i]![1] - qy;
    dot += px * ux + py * uy;
    cross += px * uy - py * ux;
    norm += px * px + py * py;
  }
  if (norm === 0) throw new TypeError('Expected distinct points but received identical ones');
  const a = dot / norm;
  const b = cross / norm;
  return [a, -b, qx - (a * mx - b * my), b, a, qy - (b * mx + a * my)];
}

/** The transform from frame pixels to the 512 crop for a face's five points. */
export function alignmentFor(points: FivePoints, template: FivePoints = FFHQ_TEMPLATE_512): Affine {
  return fitSimilarity(points, template);
}

/** Applies an affine transform to a point. */
export function applyAffine(m: Affine, p: Point): Point {
  return [m[0] * p[0] + m[1] * p[1] + m[2], m[3] * p[0] + m[4] * p[1] + m[5]];
}

/** Inverse of an affine transform. */
export function invertAffine(m: Affine): Affine {
  const det = m[0] * m[4] - m[1] * m[3];
  if (det === 0) throw new TypeError('Expected an invertible transform');
  const ia = m[4] / det, ib = -m[1] / det, ic = -m[3] / det, id = m[0] / det;
  return [ia, ib, -(ia * m[2] + ib * m[5]), ic, id, -(ic * m[2] + id * m[5])];
}

/** Uniform scale of a similarity transform (crop pixels per frame pixel). */
export function similarityScale(m: Affine): number {
  return Math.sqrt(Math.abs(m[0] * m[4] - m[1] * m[3]));
}

/**
 * The frame rectangle covered by the crop (the crop square mapped back), clipped to the frame and
 * snapped outward to whole pixels. Paste-back touches only this rectangle.
 */
export function cropFootprint(toCrop: Affine, frameWidth: number, frameHeight: number, size = CROP_SIZE): Box {
  const inv = invertAffine(toCrop);
  const corners = ([[0, 0], [size, 0], [0, size], [size, size]] as Point[]).map((c) => applyAffine(inv, c));
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[0]))));
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[1]))));
  const x1 = Math.min(frameWidth, Math.ceil(Math.max(...corners.map((c) => c[0]))));
  const y1 = Math.min(frameHeight, Math.ceil(Math.max(...corners.map((c) => c[1]))));
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}
