import type { Affine, Box, VideoFrame } from '../types.ts';
import { CROP_SIZE } from '../types.ts';
import { i420Layout, yuvCoefficients } from '../util/yuv.ts';
import { cropFootprint, similarityScale } from './align.ts';

/** Soft-mask geometry in frame pixels, derived from the face size (CodeFormer's paste-back recipe). */
export interface MaskGeometry {
  /** Distance from the crop's edge (frame px) below which the mask is 0. */
  inner0: number;
  /** Distance from the crop's edge (frame px) from which the mask is 1. */
  inner1: number;
}

/**
 * CodeFormer's recipe, expressed as distances: the warped crop's support is eroded by 2 px, then
 * w_edge = sqrt(mask area)/20, eroded by 2·w_edge and blurred over ≈ 2·w_edge. So the mask rises from
 * 0 at 2 + w_edge to 1 at 2 + 3·w_edge pixels inside the crop's edge. `faceSide` is the crop's side in
 * frame pixels (CROP_SIZE / scale).
 */
export function maskGeometry(faceSide: number): MaskGeometry {
  const wEdge = faceSide / 20;
  return { inner0: 2 + wEdge, inner1: 2 + 3 * wEdge };
}

/** Mask weight for a point `dist` frame pixels inside the crop's edge: 0, a smoothstep ramp, then 1. Monotone in dist. */
export function maskWeight(dist: number, g: MaskGeometry): number {
  if (dist <= g.inner0) return 0;
  if (dist >= g.inner1) return 1;
  const t = (dist - g.inner0) / (g.inner1 - g.inner0);
  return t * t * (3 - 2 * t);
}

/** A weight over a side² crop at the paste's alignment (e.g. the face hull), multiplying the soft mask. */
export interface CropWeight {
  /** Side of the crop whose coordinates `at` takes. */
  side: number;
  /** The weight at crop point (u, v) (continuous coordinates of the side² crop). */
  at: (u: number, v: number) => number;
  /**
   * Optional: a rectangle (the side² crop's coordinates) outside which `at` is 0. The paste then does not visit
   * frame pixels whose crop point lies outside it (with the face hull, about half of the crop's footprint).
   */
  support?: { u0: number; v0: number; u1: number; v1: number };
  /**
   * Optional: half-planes (nx, ny, c triples: nx·u + ny·v + c ≥ 0, in the same coordinates) inside all of which
   * `at` is exactly 1. The paste does not call `at` there (a multiplication by 1 changes nothing).
   */
  oneWhere?: Float64Array;
  /**
   * Optional: `at` is the hull weight of these edges (faceMask.ts's HullRegion.hull): 0 where any inside distance
   * nx·u + ny·v + c is ≤ 0, else smoothstep(min(d / feather, 1)) of the smallest distance d. The paste then
   * computes it itself from the edges that can matter in each stretch of a row (see pasteCrop).
   */
  hull?: { edges: Float64Array; feather: number };
}

/**
 * Blends a restored RGB24 crop back into the I420 frame in place, through the inverse of `toCrop`, with the
 * soft mask. Blending happens in YCbCr: the colour conversion is affine, so Y + m·(Y(restored) − Y) is the
 * luma of the RGB blend, and each chroma sample moves by the mean over its 2×2 luma pixels of m·(C(restored)
 * − C), which is the 2×2 mean of the RGB blend converted back (ffmpeg's nearest chroma upsampling). Only
 * samples with a positive mask weight somewhere under them are written; every other byte of the frame —
 * all of it outside the crop's footprint — stays bit-identical to the decoder's. Returns the footprint.
 */
export function pasteCrop(frame: VideoFrame, restored: Uint8Array, toCrop: Affine, size = CROP_SIZE, frameWeights?: Float32Array, cropWeight?: CropWeight): Box {
  // frameWeights (optional, one per frame pixel, e.g. a feathered inpainting mask) multiply the soft mask;
  // so does cropWeight (a weight at crop coordinates of a side² crop at the same alignment, e.g. the face hull).
  const cwAt = cropWeight?.at;
  const cwScale = cropWeight ? cropWeight.side / size : 0;
  const ones = cropWeight?.oneWhere && cropWeight.oneWhere.length >= 9 ? cropWeight.oneWhere : undefined;
  // The hull weight computed here (the same expressions as faceMask.ts's `at`), from the edges that can matter
  // in each stretch of a row where it is evaluated: an edge at least `feather` (plus a margin far above
  // rounding) inside at both ends of the stretch is so all along it (the distance is linear in x), so it can
  // neither make the weight 0 nor be a smallest distance below the feather, where the weight is no longer 1.
  // Leaving it out gives the same value; with the face hull, 2–4 of its ~23 edges remain per stretch.
  const hull = cwAt && cropWeight?.hull && cropWeight.hull.edges.length >= 9 ? cropWeight.hull : undefined;
  const hE = hull?.edges ?? new Float64Array(0);
  const hF = hull?.feather ?? 1;
  const near = new Int32Array(hE.length / 3);
  const { width: W, height: H, data } = frame;
  const rect = cropFootprint(toCrop, W, H, size);
  if (rect.width === 0 || rect.height === 0) return rect;
  const k = similarityScale(toCrop);
  const g = maskGeometry(size / k);
  const [a, b, c, d, e, f] = toCrop;
  const { cw, uOff, vOff } = i420Layout(W, H);
  const co = yuvCoefficients(frame.colour);
  const { kr, kg, kb, ky, ku, kv } = co;
  const Y0 = co.y0;
  const out = new Uint8ClampedArray(data.buffer, data.byteOffset, data.length);
  const last = size - 1;
  const cx0 = rect.x >> 1;
  const cx1 = (rect.x + rect.width + 1) >> 1;
  // Per chroma column of the current chroma row: Σ m, Σ m·U(restored), Σ m·V(restored).
  const accM = new Float64Array(cx1 - cx0);
  const accU = new Float64Array(cx1 - cx0);
  const accV = new Float64Array(cx1 - cx0);
  const yEnd = rect.y + rect.height;
  const xEnd = rect.x + rect.width;
  // Where a pixel can have a positive weight at all, in crop coordinates: inside the soft mask's zero line
  // (dist > inner0) and inside the crop weight's support. Each row visits only the pixels whose crop point
  // lies in that rectangle (an interval of the row: the crop point moves linearly along it), widened by two
  // pixels, so rounding in the interval's ends can never leave out a pixel the per-pixel test would keep;
  // every pixel visited goes through the same per-pixel test as before, so the result is bit-identical to
  // visiting the whole footprint (measured at 1280×720 with a face 200 px between the eyes and the face hull:
  // most of the footprint's pixels have weight 0, and visiting them was about half of the paste's time).
  const inner0 = g.inner0;
  const edge = inner0 * k;
  const sup = cropWeight?.support;
  const uLo = Math.max(edge, sup ? sup.u0 / cwScale : -Infinity), uHi = Math.min(size - edge, sup ? sup.u1 / cwScale : Infinity);
  const vLo = Math.max(edge, sup ? sup.v0 / cwScale : -Infinity), vHi = Math.min(size - edge, sup ? sup.v1 / cwScale : Infinity);
  for (let cy = rect.y >> 1; cy < (yEnd + 1) >> 1; cy++) {
    accM.fill(0);
    accU.fill(0);
    accV.fill(0);
    for (let y = Math.max(2 * cy, rect.y); y < Math.min(2 * cy + 2, yEnd); y++) {
      const py = y + 0.5;
      const xa = Math.max(rect.x, rowStart(a, b * py + c, uLo, uHi, d, e * py + f, vLo, vHi));
      const xb = Math.min(xEnd, rowEnd(a, b * py + c, uLo, uHi, d, e * py + f, vLo, vHi));
      // Pixels [oa, ob) have crop weight exactly 1 (inside every half-plane of oneWhere, narrowed by the margin).
      let oa = 0, ob = 0;
      if (ones) [oa, ob] = onesInterval(ones, cwScale, a, b * py + c, d, e * py + f);
      // The hull's edges near the stretch left of [oa, ob), then (from x = max(xa, ob)) those near the one right of it.
      let nNear = hull ? nearEdges(hE, hF, cwScale, a, b * py + c, d, e * py + f, xa, Math.min(xb, oa), near) : 0;
      const xRight = Math.max(xa, ob);
      for (let x = xa; x < xb; x++) {
        if (hull && x === xRight) nNear = nearEdges(hE, hF, cwScale, a, b * py + c, d, e * py + f, xRight, xb, near);
        const px = x + 0.5;
        const cu = a * px + b * py + c;
        const cv = d * px + e * py + f;
        const dist = Math.min(cu, cv, size - cu, size - cv) / k;
        // maskWeight is exactly 0 there (and 0 · 1 is 0): the same skip as below, before any other work.
        if (dist <= inner0 && !frameWeights) continue;
        let m = maskWeight(dist, g) * (frameWeights ? frameWeights[y * W + x]! : 1);
        if (m > 0 && cwAt && (x < oa || x >= ob)) {
          if (hull) {
            const hx = cu * cwScale, hy = cv * cwScale;
            let dMin = Infinity, w = 1;
            for (let j = 0; j < nNear; j++) {
              const i = near[j]!;
              const di = hE[i]! * hx + hE[i + 1]! * hy + hE[i + 2]!;
              if (di <= 0) {
                w = 0;
                break;
              }
              if (di < dMin) dMin = di;
            }
            if (w !== 0) {
              const t = dMin >= hF ? 1 : dMin / hF;
              w = t * t * (3 - 2 * t);
            }
            m *= w;
          } else m *= cwAt(cu * cwScale, cv * cwScale);
        }
        if (m <= 0) continue;
        // Bilinear sample of the restored crop at (cu, cv), integer-centred.
        const sx = Math.min(Math.max(cu - 0.5, 0), last);
        const sy = Math.min(Math.max(cv - 0.5, 0), last);
        const x0 = Math.min(Math.floor(sx), last - 1);
        const y0 = Math.min(Math.floor(sy), last - 1);
        const fx = sx - x0;
        const fy = sy - y0;
        const i00 = (y0 * size + x0) * 3;
        const i01 = i00 + size * 3;
        const r0 = restored[i00]!, r1 = restored[i01]!;
        const rt = r0 + (restored[i00 + 3]! - r0) * fx;
        const r = rt + (r1 + (restored[i01 + 3]! - r1) * fx - rt) * fy;
        const g0 = restored[i00 + 1]!, g1 = restored[i01 + 1]!;
        const gt = g0 + (restored[i00 + 4]! - g0) * fx;
        const gg = gt + (g1 + (restored[i01 + 4]! - g1) * fx - gt) * fy;
        const b0 = restored[i00 + 2]!, b1 = restored[i01 + 2]!;
        const bt = b0 + (restored[i00 + 5]! - b0) * fx;
        const bb = bt + (b1 + (restored[i01 + 5]! - b1) * fx - bt) * fy;
        const l = kr * r + kg * gg + kb * bb;
        const o = y * W + x;
        const yOld = data[o]!;
        out[o] = yOld + (Y0 + ky * l - yOld) * m;
        const j = (x >> 1) - cx0;
        accM[j]! += m;
        accU[j]! += m * (128 + ku * (bb - l));
        accV[j]! += m * (128 + kv * (r - l));
      }
    }
    const rows = 2 * cy + 1 < H ? 2 : 1;
    for (let j = 0; j < accM.length; j++) {
      const m = accM[j]!;
      if (m <= 0) continue;
      const cx = cx0 + j;
      const n = rows * (2 * cx + 1 < W ? 2 : 1);
      const ci = cy * cw + cx;
      const u = data[uOff + ci]!;
      const v = data[vOff + ci]!;
      out[uOff + ci] = u + (accU[j]! - u * m) / n;
      out[vOff + ci] = v + (accV[j]! - v * m) / n;
    }
  }
  return rect;
}

/**
 * The hull edges (index of each nx, ny, c triple) whose inside distance, at crop point (su·px + ou, sv·px + ov)·scale,
 * is below feather + 1e-6 at the first or the last pixel of [from, to) (pixel centres px = x + 0.5), into `out`;
 * returns how many. The distance is linear in px, so the others are at least the feather all along the stretch.
 */
function nearEdges(edges: Float64Array, feather: number, scale: number, su: number, ou: number, sv: number, ov: number, from: number, to: number, out: Int32Array): number {
  if (!(from < to)) return 0;
  const p0 = from + 0.5, p1 = to - 0.5;
  const u0 = (su * p0 + ou) * scale, v0 = (sv * p0 + ov) * scale;
  const u1 = (su * p1 + ou) * scale, v1 = (sv * p1 + ov) * scale;
  let n = 0;
  for (let i = 0; i + 2 < edges.length; i += 3) {
    const nx = edges[i]!, ny = edges[i + 1]!, c = edges[i + 2]!;
    if (Math.min(nx * u0 + ny * v0 + c, nx * u1 + ny * v1 + c) < feather + 1e-6) out[n++] = i;
  }
  return n;
}

/** Pixels of widening on each side of a row's interval (see pasteCrop): far more than any rounding in its ends. */
const ROW_MARGIN = 2;

/**
 * The range of px (pixel centres) where lo < slope·px + off < hi, as [from, to]; the whole line (±Infinity)
 * for a slope too small to divide by safely (then the row is not narrowed by this coordinate).
 */
function pxRange(slope: number, off: number, lo: number, hi: number): [number, number] {
  if (Math.abs(slope) < 1e-9) return [-Infinity, Infinity];
  const p = (lo - off) / slope, q = (hi - off) / slope;
  return p < q ? [p, q] : [q, p];
}

/** First pixel of a row that can have a positive weight (crop point (u, v) inside [uLo, uHi] × [vLo, vHi]), widened. */
function rowStart(su: number, ou: number, uLo: number, uHi: number, sv: number, ov: number, vLo: number, vHi: number): number {
  const from = Math.max(pxRange(su, ou, uLo, uHi)[0], pxRange(sv, ov, vLo, vHi)[0]);
  return from === -Infinity ? -Infinity : Math.floor(from - 0.5) - ROW_MARGIN;
}

/** One past the last pixel of a row that can have a positive weight, widened (see rowStart). */
function rowEnd(su: number, ou: number, uLo: number, uHi: number, sv: number, ov: number, vLo: number, vHi: number): number {
  const to = Math.min(pxRange(su, ou, uLo, uHi)[1], pxRange(sv, ov, vLo, vHi)[1]);
  return to === Infinity ? Infinity : Math.ceil(to - 0.5) + 1 + ROW_MARGIN;
}

/**
 * The pixels [from, to) of a row whose crop point (u, v) = (su·px + ou, sv·px + ov)·scale lies inside every
 * half-plane of `planes` by at least 1e-6 (far above the rounding of the weight's own arithmetic, ~1e-10 at
 * crop coordinates below 10^4), narrowed by ROW_MARGIN pixels at each end; empty when there are none.
 */
function onesInterval(planes: Float64Array, scale: number, su: number, ou: number, sv: number, ov: number): [number, number] {
  let lo = -Infinity, hi = Infinity;
  for (let i = 0; i + 2 < planes.length; i += 3) {
    const nx = planes[i]!, ny = planes[i + 1]!, c = planes[i + 2]!;
    // nx·u + ny·v + c as a function of px: slope·px + icpt, wanted ≥ 1e-6.
    const slope = (nx * su + ny * sv) * scale;
    const icpt = (nx * ou + ny * ov) * scale + c - 1e-6;
    if (Math.abs(slope) < 1e-9) {
      // Parallel to the row: the value hardly moves along it (< 1e-5 over 10^4 px); kept only with room to spare.
      if (icpt < 1e-4) return [0, 0];
      continue;
    }
    const at = -icpt / slope;
    if (slope > 0) lo = Math.max(lo, at);
    else hi = Math.min(hi, at);
  }
  if (!(lo < hi)) return [0, 0];
  // Pixel x has its centre at x + 0.5: x from ⌈lo − 0.5⌉, to ⌊hi − 0.5⌋, each narrowed by the margin.
  const from = lo === -Infinity ? -Infinity : Math.ceil(lo - 0.5) + ROW_MARGIN;
  const to = hi === Infinity ? Infinity : Math.floor(hi - 0.5) + 1 - ROW_MARGIN;
  return from < to ? [from, to] : [0, 0];
}
