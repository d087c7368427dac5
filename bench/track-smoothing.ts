/**
 * Landmark smoothing benchmark on synthetic video with known truth.
 *
 * A real still is moved by a known smooth camera motion (translation, zoom, small rotation) plus one abrupt
 * step, rendered frame by frame with sharp's affine transform (still resized to 0.5, face ≈ 58 px between
 * the eyes, 640×360 frames). The still's five points are detected once on the untransformed still (copied
 * into a frame by a whole-pixel shift, so the detector sees the same context as in the moving frames);
 * transforming them gives every frame's true points. Each frame is then detected
 * and tracked, and three landmark series are compared with the truth:
 *   raw      the detector's points,
 *   causal   the tracker's smoothed points (MultiFaceTracker with its default LandmarkSmoother),
 *   gaussian the offline reference: a Gaussian of σ = 5 frames over the whole raw series (as KEEP, ECCV 2024).
 * Metrics: RMS landmark error (px and fraction of the true inter-ocular distance), jitter (RMS of the
 * frame-to-frame change of the error vector, step frame excluded), lag after the step (frames until at
 * least 80 % of the step's displacement is followed, on 3 frames in a row).
 *
 * Run: node bench/track-smoothing.ts [--frames 300] [--model path] — prints JSON. Import
 * runSmoothingBench for a shorter run (tests).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { FaceDetection, FivePoints, Point, VideoFrame } from '../src/types.ts';
import type { FaceDetector } from '../src/detect/detector.ts';
import { LANDMARK_SMOOTHER_REFINED, LandmarkSmoother, type LandmarkSmootherOptions } from '../src/track/landmarkSmoother.ts';
import { MultiFaceTracker } from '../src/track/multiTracker.ts';
import { YuNetDetector } from '../src/detect/yunet.ts';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import { Landmark68, RefinedDetector } from '../src/engine/landmarkRefiner.ts';
import { i420FromRgb } from '../test/helpers/media.ts';

/** Packed RGB24 → an I420 frame (BT.601 limited range, the frames' default), what detectors and trackers take. */
function i420Frame(index: number, width: number, height: number, rgb: Uint8Array): VideoFrame {
  return { ...i420FromRgb(rgb, width, height, undefined, index), pts: index / 30 };
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_STILL = path.resolve(here, '../../shared/stills/obama.jpg');
export const DEFAULT_MODEL = path.resolve(here, '../../shared/models/face_detection_yunet_2026may.onnx');

/** An RGB24 image in memory. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Continuous-coordinate affine map x' = A·x + t (pixel corners at integers, centres at +0.5). */
export interface Similarity {
  a: number;
  b: number;
  c: number;
  d: number;
  tx: number;
  ty: number;
}

/** Camera pose relative to the still, per frame. */
export interface Pose {
  /** Translation of the face centre from the frame centre, px. */
  dx: number;
  dy: number;
  /** Scale factor. */
  zoom: number;
  /** Rotation, radians. */
  angle: number;
}

export type MotionKind = 'calm' | 'brisk';

/** The step: an abrupt offset applied from `stepAt` on. */
export const STEP: Pose = { dx: 28, dy: -16, zoom: 1.06, angle: 0 };

/** A pure translation step of `px` pixels in STEP's direction (the 12 and 20 px steps). */
export function translationStep(px: number): Pose {
  const n = Math.hypot(STEP.dx, STEP.dy);
  return { dx: (STEP.dx / n) * px, dy: (STEP.dy / n) * px, zoom: 1, angle: 0 };
}

/** Smooth camera motion of the given kind at frame t, plus the step from `stepAt` on. */
export function poseAt(kind: MotionKind, t: number, stepAt: number, step: Pose = STEP): Pose {
  const s = (period: number, phase = 0): number => Math.sin((2 * Math.PI * t) / period + phase);
  const p: Pose =
    kind === 'calm'
      ? { dx: 40 * s(150) + 15 * s(47, 1), dy: 20 * s(110, 0.5) + 6 * s(37, 2), zoom: 1 + 0.06 * s(200, 0.3), angle: ((3 * Math.PI) / 180) * s(130, 1.2) }
      : { dx: 90 * s(70) + 20 * s(23, 1), dy: 40 * s(55, 0.5) + 10 * s(19, 2), zoom: 1 + 0.12 * s(90, 0.3), angle: ((8 * Math.PI) / 180) * s(60, 1.2) };
  if (t >= stepAt) {
    p.dx += step.dx;
    p.dy += step.dy;
    p.zoom *= step.zoom;
    p.angle += step.angle;
  }
  return p;
}

/** Map from still coordinates to frame coordinates: rotate/zoom about the still's face centre, put it at frame centre + (dx, dy). */
export function poseTransform(pose: Pose, faceCentre: Point, frameWidth: number, frameHeight: number): Similarity {
  const k = pose.zoom;
  const a = k * Math.cos(pose.angle);
  const c = k * Math.sin(pose.angle);
  const [fx, fy] = faceCentre;
  const ox = frameWidth / 2 + pose.dx;
  const oy = frameHeight / 2 + pose.dy;
  return { a, b: -c, c, d: a, tx: ox - (a * fx - c * fy), ty: oy - (c * fx + a * fy) };
}

export function applySimilarity(m: Similarity, p: Point): Point {
  return [m.a * p[0] + m.b * p[1] + m.tx, m.c * p[0] + m.d * p[1] + m.ty];
}

/**
 * Renders `image` through `m` (continuous coordinates) into a width × height frame with sharp's affine
 * (bicubic). sharp (libvips) maps pixel indices, X = a·x + b·y + odx, and places its output canvas at the
 * rounded minimum of the linearly transformed input corners; both facts were measured on sharp 0.35 with a
 * Gaussian blob (centroid within 0.01 px) and are compensated here. Only the part of the image that can
 * reach the frame is transformed.
 */
export async function renderFrame(image: RgbImage, m: Similarity, width: number, height: number): Promise<Uint8Array> {
  // Pre-image of the frame in the still, plus a margin for the interpolation kernel.
  const det = m.a * m.d - m.b * m.c;
  const inv = (X: number, Y: number): Point => {
    const x = X - m.tx;
    const y = Y - m.ty;
    return [(m.d * x - m.b * y) / det, (-m.c * x + m.a * y) / det];
  };
  const corners = [inv(0, 0), inv(width, 0), inv(0, height), inv(width, height)];
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[0]))) - 4);
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[1]))) - 4);
  const x1 = Math.min(image.width, Math.ceil(Math.max(...corners.map((p) => p[0]))) + 4);
  const y1 = Math.min(image.height, Math.ceil(Math.max(...corners.map((p) => p[1]))) + 4);
  const cw = x1 - x0;
  const ch = y1 - y0;
  const crop = new Uint8Array(cw * ch * 3);
  for (let y = 0; y < ch; y++) crop.set(image.data.subarray(((y0 + y) * image.width + x0) * 3, ((y0 + y) * image.width + x1) * 3), y * cw * 3);
  // In crop coordinates: X = A·x + t', t' = t + A·(x0, y0).
  const tx = m.tx + m.a * x0 + m.b * y0;
  const ty = m.ty + m.c * x0 + m.d * y0;
  const xs = [0, cw * m.a, ch * m.b, cw * m.a + ch * m.b];
  const ys = [0, cw * m.c, ch * m.d, cw * m.c + ch * m.d];
  const left = Math.round(Math.min(...xs));
  const top = Math.round(Math.min(...ys));
  // libvips: X_index = a·x_index + b·y_index + odx − left; with centres at +0.5 in continuous coordinates.
  const odx = tx - 0.5 + 0.5 * (m.a + m.b) + left;
  const ody = ty - 0.5 + 0.5 * (m.c + m.d) + top;
  const { data, info } = await sharp(crop, { raw: { width: cw, height: ch, channels: 3 } })
    .affine([m.a, m.b, m.c, m.d], { odx, ody, interpolator: 'bicubic', background: '#000000' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const out = new Uint8Array(width * height * 3);
  const rows = Math.min(height, info.height);
  const cols = Math.min(width, info.width);
  for (let y = 0; y < rows; y++) out.set(data.subarray(y * info.width * info.channels, (y * info.width + cols) * info.channels), y * width * 3);
  return out;
}

/** Loads a still, resizes it by `scale` (Lanczos) and pads it by `pad` px on every side (mirrored). */
export async function loadStill(file: string, scale: number, pad: number): Promise<{ image: RgbImage; unpadded: RgbImage; pad: number }> {
  const meta = await sharp(file).metadata();
  const w = Math.round(meta.width! * scale);
  const h = Math.round(meta.height! * scale);
  const base = sharp(file).removeAlpha().resize(w, h, { kernel: 'lanczos3' });
  const un = await base.clone().raw().toBuffer({ resolveWithObject: true });
  const ext = await sharp(un.data, { raw: { width: w, height: h, channels: 3 } })
    .extend({ top: pad, bottom: pad, left: pad, right: pad, extendWith: 'mirror' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    image: { width: ext.info.width, height: ext.info.height, data: new Uint8Array(ext.data) },
    unpadded: { width: w, height: h, data: new Uint8Array(un.data) },
    pad,
  };
}

/** Look-ahead of the `file` series (the product's `lookAhead` default), frames. */
export const FILE_LAG_DEFAULT = 8;

/** Metrics of one landmark series against the truth. */
export interface SeriesMetrics {
  /** RMS over frames and points of the landmark error, px. */
  rmsPx: number;
  /** RMS error per point (FivePoints order: eye left, eye right, nose, mouth left, mouth right), px. */
  rmsPerPointPx: number[];
  /** Mean error vector per point (systematic offset), px: [dx, dy] per point. */
  biasPerPointPx: Array<[number, number]>;
  /** The same as a fraction of the true inter-ocular distance (per frame). */
  rmsIod: number;
  /** RMS of the frame-to-frame change of the error vector (step frame excluded), px. */
  jitterPx: number;
  jitterIod: number;
  /** Jitter over frames more than 15 frames from the step only (the steady-state noise part). */
  jitterAwayFromStepPx: number;
  /**
   * Frames after the step until at least 80 % of the step is followed (the error's component along the
   * step displacement is ≤ 20 % of it) on 3 frames in a row; 0 = already on the step frame. null if never.
   */
  lagFrames: number | null;
  /** Fraction of the step not yet followed, on frames stepAt − 3 … stepAt + 8 (negative: overshoot; before the step: anticipation). */
  stepResidual: number[];
}

/** Gaussian smoothing of a series of point sets (σ in frames, kernel ±4σ, renormalised at the ends; missing frames skipped). */
export function gaussianSmooth(series: readonly (FivePoints | undefined)[], sigma: number): (FivePoints | undefined)[] {
  const r = Math.ceil(4 * sigma);
  const w = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  return series.map((cur, t) => {
    if (cur === undefined) return undefined;
    const acc = new Float64Array(10);
    let sw = 0;
    for (let k = -r; k <= r; k++) {
      const p = series[t + k];
      if (p === undefined) continue;
      const wk = w[k + r]!;
      sw += wk;
      for (let i = 0; i < 5; i++) {
        acc[2 * i]! += wk * p[i]![0];
        acc[2 * i + 1]! += wk * p[i]![1];
      }
    }
    const pt = (i: number): Point => [acc[2 * i]! / sw, acc[2 * i + 1]! / sw];
    return [pt(0), pt(1), pt(2), pt(3), pt(4)];
  });
}

/**
 * Computes SeriesMetrics; frames where `series` is missing are skipped (and break the difference chain).
 * `stepDisplacement`: each point's displacement caused by the step (truth with the step − truth without it)
 * at the step frame and after.
 */
export function seriesMetrics(
  series: readonly (FivePoints | undefined)[],
  truth: readonly FivePoints[],
  stepAt: number,
  stepDisplacement: readonly FivePoints[],
): SeriesMetrics {
  let se = 0;
  let seIod = 0;
  let n = 0;
  const sePt = new Float64Array(5);
  const sumPt = new Float64Array(10);
  let nPt = 0;
  let sj = 0;
  let sjIod = 0;
  let nj = 0;
  let sjAway = 0;
  let njAway = 0;
  const residual: number[] = [];
  let prev: Float64Array | undefined;
  for (let t = 0; t < truth.length; t++) {
    const p = series[t];
    const g = truth[t]!;
    const iod = Math.hypot(g[1][0] - g[0][0], g[1][1] - g[0][1]);
    if (p === undefined) {
      prev = undefined;
      residual.push(NaN);
      continue;
    }
    const e = new Float64Array(10);
    for (let i = 0; i < 5; i++) {
      e[2 * i] = p[i]![0] - g[i]![0];
      e[2 * i + 1] = p[i]![1] - g[i]![1];
      const d2 = e[2 * i]! ** 2 + e[2 * i + 1]! ** 2;
      se += d2;
      seIod += d2 / (iod * iod);
      n++;
      sePt[i]! += d2;
      sumPt[2 * i]! += e[2 * i]!;
      sumPt[2 * i + 1]! += e[2 * i + 1]!;
    }
    nPt++;
    const D = stepDisplacement[Math.max(0, t - stepAt)];
    if (D !== undefined) {
      let along = 0;
      let norm = 0;
      for (let i = 0; i < 5; i++) {
        along += e[2 * i]! * D[i]![0] + e[2 * i + 1]! * D[i]![1];
        norm += D[i]![0] ** 2 + D[i]![1] ** 2;
      }
      // The error along the step is −D while the step is not followed at all: residual = −along/|D|².
      residual.push(norm > 0 ? -along / norm : NaN);
    } else {
      residual.push(NaN);
    }
    if (prev !== undefined && t !== stepAt) {
      for (let i = 0; i < 5; i++) {
        const d2 = (e[2 * i]! - prev[2 * i]!) ** 2 + (e[2 * i + 1]! - prev[2 * i + 1]!) ** 2;
        sj += d2;
        sjIod += d2 / (iod * iod);
        nj++;
        if (Math.abs(t - stepAt) > 15) {
          sjAway += d2;
          njAway++;
        }
      }
    }
    prev = e;
  }
  let lagFrames: number | null = null;
  const followed = (t: number): boolean => t < residual.length && Math.abs(residual[t]!) <= 0.2;
  for (let k = 0; stepAt + k + 2 < truth.length; k++) {
    if (followed(stepAt + k) && followed(stepAt + k + 1) && followed(stepAt + k + 2)) {
      lagFrames = k;
      break;
    }
  }
  const stepResidual: number[] = [];
  for (let k = -3; k <= 8; k++) stepResidual.push(residual[stepAt + k] ?? NaN);
  return {
    rmsPx: Math.sqrt(se / n),
    rmsPerPointPx: Array.from(sePt, (v) => Math.sqrt(v / Math.max(1, nPt))),
    biasPerPointPx: Array.from({ length: 5 }, (_, i) => [sumPt[2 * i]! / Math.max(1, nPt), sumPt[2 * i + 1]! / Math.max(1, nPt)] as [number, number]),
    rmsIod: Math.sqrt(seIod / n),
    jitterPx: Math.sqrt(sj / Math.max(1, nj)),
    jitterIod: Math.sqrt(sjIod / Math.max(1, nj)),
    jitterAwayFromStepPx: Math.sqrt(sjAway / Math.max(1, njAway)),
    lagFrames,
    stepResidual,
  };
}

/** Result for one motion. */
export interface MotionResult {
  motion: MotionKind;
  frames: number;
  stepAt: number;
  /** Mean true inter-ocular distance, px. */
  iodPx: number;
  /** Speed of the face centre (truth), px/frame: mean and max (step excluded). */
  speedPx: { mean: number; max: number };
  /** Frames without a detection of the face. */
  missedDetections: number;
  /** Mean displacement of the points caused by the step, px. */
  stepPx: number;
  raw: SeriesMetrics;
  causal: SeriesMetrics;
  /** File mode: the tracker's points revised `fileLag` frames later (MultiFaceTracker.revisedPoints, the fixed-lag RTS pass), as runFile does. */
  file: SeriesMetrics;
  gaussian: SeriesMetrics;
  /** With keepSeries: per frame truth, detector points and the step displacement (from the step on). */
  series?: { truth: FivePoints[]; raw: (FivePoints | undefined)[]; step: FivePoints[] };
}

/** Options of runSmoothingBench. */
export interface SmoothingBenchOptions {
  detector: FaceDetector;
  /**
   * Detector whose points on the still are the truth (default `detector`): one truth for several detectors
   * measures their offsets from it, not only their consistency under motion.
   */
  truthDetector?: FaceDetector;
  /** Frames per motion. Default 300. */
  frames?: number;
  /** Frame of the step. Default frames / 2. */
  stepAt?: number;
  motions?: MotionKind[];
  stillPath?: string;
  /** Still resize factor before rendering. Default 0.5. */
  stillScale?: number;
  frameWidth?: number;
  frameHeight?: number;
  /** Smoother options for the causal series (defaults of LandmarkSmoother otherwise; the CLI passes LANDMARK_SMOOTHER_REFINED with --landmarks, as the product does). */
  smoothing?: LandmarkSmootherOptions;
  /** The step (default STEP: 32 px and 6 % zoom; translationStep(px) for a pure shift). */
  step?: Pose;
  /** Look-ahead of the file-mode series, frames. Default FILE_LAG_DEFAULT. */
  fileLag?: number;
  /** Include the truth and raw series in the result (parameter studies). */
  keepSeries?: boolean;
  /** Receives each rendered frame (e.g. to save a preview). */
  onFrame?: (frame: VideoFrame, truth: FivePoints) => void;
}

function centroidOf(p: FivePoints): Point {
  return [p.reduce((s, q) => s + q[0], 0) / 5, p.reduce((s, q) => s + q[1], 0) / 5];
}

/** Picks the detection whose points are nearest to `near` (one face in the still; guards against spurious ones). */
function nearest(dets: readonly FaceDetection[], near: Point): FaceDetection | undefined {
  let best: FaceDetection | undefined;
  let bestD = Infinity;
  for (const d of dets) {
    const c = centroidOf(d.points);
    const dist = Math.hypot(c[0] - near[0], c[1] - near[1]);
    if (dist < bestD) {
      bestD = dist;
      best = d;
    }
  }
  return best;
}

/** Runs the benchmark for each motion and returns the metrics. */
export async function runSmoothingBench(options: SmoothingBenchOptions): Promise<{ still: string; frameSize: [number, number]; stillPoints: FivePoints; results: MotionResult[] }> {
  const frames = options.frames ?? 300;
  const stepAt = options.stepAt ?? Math.floor(frames / 2);
  const W = options.frameWidth ?? 640;
  const H = options.frameHeight ?? 360;
  const stillPath = options.stillPath ?? DEFAULT_STILL;
  const pad = 400;
  const { image, unpadded } = await loadStill(stillPath, options.stillScale ?? 0.5, pad);
  // Truth: the detector's points on the untransformed still, seen in a frame like the others (the still
  // copied into the frame by a whole-pixel shift, so the detector sees the same context as in moved frames).
  const rough = await options.detector.detect(i420Frame(0, unpadded.width, unpadded.height, unpadded.data));
  if (rough.length === 0) throw new Error(`no face detected in the still ${stillPath}`);
  const faceCentre: Point = roundPoint(centroidOf(rough[0]!.points.map(([x, y]) => [x + pad, y + pad] as const) as unknown as FivePoints));
  const still = poseTransform({ dx: 0, dy: 0, zoom: 1, angle: 0 }, faceCentre, W, H);
  const stillFrame = i420Frame(0, W, H, await renderFrame(image, still, W, H));
  const base = nearest(await (options.truthDetector ?? options.detector).detect(stillFrame), [W / 2, H / 2]);
  if (base === undefined) throw new Error(`no face detected in the still ${stillPath} placed in a frame`);
  // Back to still coordinates (the placement is a whole-pixel translation).
  const stillPoints = base.points.map(([x, y]) => [x - still.tx, y - still.ty] as const) as unknown as FivePoints;
  const results: MotionResult[] = [];
  for (const motion of options.motions ?? (['calm', 'brisk'] as MotionKind[])) {
    const lag = options.fileLag ?? FILE_LAG_DEFAULT;
    // The product's file mode: the same tracker, each frame revised `lag` frames later (revisedPoints).
    const tracker = new MultiFaceTracker({ smoothing: options.smoothing ?? {}, shotCut: {}, lookAhead: lag });
    const file: (FivePoints | undefined)[] = [];
    const ids: (number | undefined)[] = [];
    const revise = (k: number) => (file[k] = (ids[k] !== undefined ? tracker.revisedPoints(ids[k]!, k) : undefined) ?? causal[k]);
    const truth: FivePoints[] = [];
    const step: FivePoints[] = [];
    const raw: (FivePoints | undefined)[] = [];
    const causal: (FivePoints | undefined)[] = [];
    let missed = 0;
    let trackId: number | undefined;
    for (let t = 0; t < frames; t++) {
      const m = poseTransform(poseAt(motion, t, stepAt, options.step), faceCentre, W, H);
      const g = stillPoints.map((p) => applySimilarity(m, p)) as unknown as FivePoints;
      truth.push(g);
      if (t >= stepAt) {
        const without = poseTransform(poseAt(motion, t, Infinity), faceCentre, W, H);
        step.push(stillPoints.map((p, i) => sub(g[i]!, applySimilarity(without, p))) as unknown as FivePoints);
      }
      const frame = i420Frame(t, W, H, await renderFrame(image, m, W, H));
      options.onFrame?.(frame, g);
      const dets = await options.detector.detect(frame);
      const d = nearest(dets, centroidOf(g));
      const ok = d !== undefined && Math.hypot(...(sub(centroidOf(d.points), centroidOf(g)) as [number, number])) < 0.5 * iodOf(g);
      if (!ok) missed++;
      raw.push(ok ? d.points : undefined);
      const faces = tracker.update(frame, ok ? [d] : []);
      const f = faces.find((x) => x.trackId === trackId) ?? faces[0];
      if (f !== undefined) trackId = f.trackId;
      causal.push(f?.points);
      ids.push(f?.trackId);
      if (t - lag >= 0) revise(t - lag);
    }
    const gauss = gaussianSmooth(raw, 5);
    for (let k = Math.max(0, frames - lag); k < frames; k++) revise(k);
    let speedSum = 0;
    let speedMax = 0;
    for (let t = 1; t < frames; t++) {
      if (t === stepAt) continue;
      const v = Math.hypot(...(sub(centroidOf(truth[t]!), centroidOf(truth[t - 1]!)) as [number, number]));
      speedSum += v;
      speedMax = Math.max(speedMax, v);
    }
    results.push({
      motion,
      frames,
      stepAt,
      iodPx: truth.reduce((s, g) => s + iodOf(g), 0) / frames,
      speedPx: { mean: speedSum / (frames - 2), max: speedMax },
      missedDetections: missed,
      stepPx: step.length === 0 ? 0 : step[0]!.reduce((s, d) => s + Math.hypot(d[0], d[1]), 0) / 5,
      raw: seriesMetrics(raw, truth, stepAt, step),
      causal: seriesMetrics(causal, truth, stepAt, step),
      file: seriesMetrics(file, truth, stepAt, step),
      gaussian: seriesMetrics(gauss, truth, stepAt, step),
      ...(options.keepSeries ? { series: { truth, raw, step } } : {}),
    });
  }
  return { still: stillPath, frameSize: [W, H], stillPoints, results };
}

function roundPoint(p: Point): Point {
  return [Math.round(p[0]), Math.round(p[1])];
}

function sub(a: Point, b: Point): Point {
  return [a[0] - b[0], a[1] - b[1]];
}

function iodOf(p: FivePoints): number {
  return Math.hypot(p[1][0] - p[0][0], p[1][1] - p[0][1]);
}

/** Smoother on a raw series alone (no tracker): for parameter studies. */
export function smoothSeries(raw: readonly (FivePoints | undefined)[], options: LandmarkSmootherOptions = {}): (FivePoints | undefined)[] {
  const s = new LandmarkSmoother(options);
  return raw.map((p) => {
    if (s.started) s.predict();
    if (p === undefined) return s.started ? s.points : undefined;
    return s.correct(p).points;
  });
}

function round(v: unknown): unknown {
  if (typeof v === 'number') return Math.round(v * 1000) / 1000;
  if (Array.isArray(v)) return v.map(round);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, round(x)]));
  return v;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  // --detector yunet|blazeface (default yunet), --landmarks: refine with the 68-point net, --truth
  // yunet|yunet+landmarks|blazeface|blazeface+landmarks: whose points on the still are the truth (default the detector's),
  // --passes n: landmark passes per detection (default 2).
  const make = async (spec: string): Promise<FaceDetector> => {
    const [kind, refine] = spec.split('+');
    const base = kind === 'blazeface' ? await BlazeFaceDetector.create({ intraOpThreads: 1 }) : await YuNetDetector.create({ modelPath: arg('--model') ?? DEFAULT_MODEL, intraOpThreads: 1 });
    return refine === 'landmarks' ? new RefinedDetector(base, await Landmark68.create({ intraOpThreads: 1, passes: Number(arg('--passes') ?? 2) })) : base;
  };
  const spec = `${arg('--detector') ?? 'yunet'}${args.includes('--landmarks') ? '+landmarks' : ''}`;
  const detector = await make(spec);
  const truthSpec = arg('--truth');
  const truthDetector = truthSpec && truthSpec !== spec ? await make(truthSpec) : undefined;
  try {
    const started = performance.now();
    // --smoothing '{"positionNoise":0.004}': LandmarkSmoother options for the causal series.
    const smoothing = arg('--smoothing') ? (JSON.parse(arg('--smoothing')!) as LandmarkSmootherOptions) : spec.endsWith('+landmarks') ? LANDMARK_SMOOTHER_REFINED : undefined;
    // --step-px n: a pure translation step of n px instead of STEP.
    const step = arg('--step-px') ? translationStep(Number(arg('--step-px'))) : undefined;
    const fileLag = arg('--file-lag') ? Number(arg('--file-lag')) : undefined;
    const out = await runSmoothingBench({ detector, truthDetector, smoothing, step, fileLag, frames: Number(arg('--frames') ?? 300), stillPath: arg('--still') ?? DEFAULT_STILL });
    process.stdout.write(`${JSON.stringify(round({ detector: spec, truth: truthSpec ?? spec, ...out, seconds: (performance.now() - started) / 1000 }), null, 2)}\n`);
  } finally {
    await detector.close();
    await truthDetector?.close();
  }
}
