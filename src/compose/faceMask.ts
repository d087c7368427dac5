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
 * A soft face mask over a size×size crop: 0 outside the convex hull of `points` (crop pixels, centres at
 * +0.5), rising with a smoothstep to 1 at `feather` pixels inside the hull's edge. Everything outside the
 * hull stays exactly 0, so a paste weighted by it leaves the frame's bytes there as they were.
 */
export function hullMask(points: readonly Point[], size: number, feather: number): Float32Array {
  const hull = convexHull(points);
  const out = new Float32Array(size * size);
  if (hull.length < 3) return out;
  // Hull edges as unit inward normals: for a convex polygon the distance inside is the minimum over edges.
  const n = hull.length;
  let area = 0;
  for (let i = 0; i < n; i++) {
    const a = hull[i]!, b = hull[(i + 1) % n]!;
    area += a[0] * b[1] - b[0] * a[1];
  }
  const sign = area > 0 ? 1 : -1;
  const edges = hull.map((a, i) => {
    const b = hull[(i + 1) % n]!;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]) || 1;
    // Inward normal of edge a→b.
    const nx = (-(b[1] - a[1]) / len) * sign;
    const ny = ((b[0] - a[0]) / len) * sign;
    return { nx, ny, c: -(nx * a[0] + ny * a[1]) };
  });
  let x0 = size, y0 = size, x1 = 0, y1 = 0;
  for (const [x, y] of hull) {
    x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
  }
  const f = Math.max(feather, 1e-6);
  for (let v = Math.max(0, Math.floor(y0)); v < Math.min(size, Math.ceil(y1) + 1); v++) {
    const py = v + 0.5;
    for (let u = Math.max(0, Math.floor(x0)); u < Math.min(size, Math.ceil(x1) + 1); u++) {
      const px = u + 0.5;
      let d = Infinity;
      for (const e of edges) d = Math.min(d, e.nx * px + e.ny * py + e.c);
      if (d <= 0) continue;
      const t = d >= f ? 1 : d / f;
      out[v * size + u] = t * t * (3 - 2 * t);
    }
  }
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
