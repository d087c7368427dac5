import type { Point } from '../types.ts';

/** Convex hull (counter-clockwise in image coordinates' y-down sense: Andrew's monotone chain), without repeats. */
export function convexHull(points: readonly Point[]): Point[] {
  const p = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return p;
  const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const q of p) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, q) <= 0) lower.pop();
    lower.push(q);
  }
  const upper: Point[] = [];
  for (let i = p.length - 1; i >= 0; i--) {
    const q = p[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, q) <= 0) upper.pop();
    upper.push(q);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/**
 * The soft face weight at any point: 0 outside the convex hull of `points`, rising with a smoothstep to 1 at
 * `feather` pixels inside the hull's edge (distance to the nearest edge line: exact for a convex polygon).
 * Everything outside the hull is exactly 0, so a paste weighted by it leaves the frame's bytes there as they were.
 */
export function hullWeight(points: readonly Point[], feather: number): (x: number, y: number) => number {
  return hullRegion(points, feather).at;
}

/** hullWeight's function, with where it is 0 and where it is exactly 1 (for a paste that skips those pixels, see CropWeight). */
export interface HullRegion {
  /** The weight (hullWeight). */
  at: (x: number, y: number) => number;
  /** The points' bounding box: the weight is 0 outside it. Undefined for a degenerate hull (weight 0 everywhere). */
  support: { u0: number; v0: number; u1: number; v1: number } | undefined;
  /**
   * Half-planes (nx, ny, c triples: nx·x + ny·y + c ≥ 0) whose intersection is where the weight is exactly 1:
   * at least `feather` inside every edge line (`at` computes 1 there: t = 1 and 1·1·(3 − 2·1) = 1).
   */
  oneWhere: Float64Array;
  /**
   * What `at` computes, as data: the hull's edges (nx, ny, c triples, unit inward normals: the inside distance is
   * nx·x + ny·y + c) and the feather used (`at` is 0 where any distance is ≤ 0, else smoothstep(min(d / feather, 1))).
   */
  hull: { edges: Float64Array; feather: number } | undefined;
}

/** The hull weight of `points` with its support and its region of weight 1 (see HullRegion). */
export function hullRegion(points: readonly Point[], feather: number): HullRegion {
  const hull = convexHull(points);
  if (hull.length < 3) return { at: () => 0, support: undefined, oneWhere: new Float64Array(0), hull: undefined };
  const n = hull.length;
  let area = 0;
  for (let i = 0; i < n; i++) {
    const a = hull[i]!, b = hull[(i + 1) % n]!;
    area += a[0] * b[1] - b[0] * a[1];
  }
  const sign = area > 0 ? 1 : -1;
  // Edges as unit inward normals (nx, ny) and offsets c: inside distance = nx·x + ny·y + c.
  const e = new Float64Array(3 * n);
  hull.forEach((a, i) => {
    const b = hull[(i + 1) % n]!;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1;
    const nx = (-(b[1] - a[1]) / len) * sign;
    const ny = ((b[0] - a[0]) / len) * sign;
    e[3 * i] = nx;
    e[3 * i + 1] = ny;
    e[3 * i + 2] = -(nx * a[0] + ny * a[1]);
  });
  const f = Math.max(feather, 1e-6);
  const at = (x: number, y: number): number => {
    let d = Infinity;
    for (let i = 0; i < 3 * n; i += 3) {
      const di = e[i]! * x + e[i + 1]! * y + e[i + 2]!;
      if (di <= 0) return 0;
      if (di < d) d = di;
    }
    const t = d >= f ? 1 : d / f;
    return t * t * (3 - 2 * t);
  };
  const oneWhere = e.slice();
  for (let i = 2; i < 3 * n; i += 3) oneWhere[i]! -= f;
  const us = points.map((p) => p[0]), vs = points.map((p) => p[1]);
  return { at, support: { u0: Math.min(...us), v0: Math.min(...vs), u1: Math.max(...us), v1: Math.max(...vs) }, oneWhere, hull: { edges: e, feather: f } };
}

/** hullWeight sampled at every pixel centre of a size×size crop (for inspection and tests). */
export function hullMask(points: readonly Point[], size: number, feather: number): Float32Array {
  const w = hullWeight(points, feather);
  const out = new Float32Array(size * size);
  for (let v = 0; v < size; v++) for (let u = 0; u < size; u++) out[v * size + u] = w(u + 0.5, v + 0.5);
  return out;
}

/**
 * The points whose hull is the face region: the 68 iBUG landmarks plus the brows (17–26) lifted by 0.3 of the
 * chin-to-nose-bridge distance (8 → 27) along that axis, so the forehead above the brows belongs to the face.
 */
export function faceRegionPoints(lm68: readonly Point[]): Point[] {
  if (lm68.length !== 68) throw new TypeError(`Expected 68 landmark points but received ${lm68.length}`);
  const chin = lm68[8]!, bridge = lm68[27]!;
  const ux = bridge[0] - chin[0], uy = bridge[1] - chin[1];
  const lifted: Point[] = [];
  for (let i = 17; i <= 26; i++) lifted.push([lm68[i]![0] + 0.3 * ux, lm68[i]![1] + 0.3 * uy]);
  return [...lm68, ...lifted];
}
