import { alignmentFor, applyAffine, invertAffine } from '../compose/align.ts';
import { affineCropToTensor } from '../detect/affineCrop.ts';
import type { FaceDetector } from '../detect/detector.ts';
import { faceApiLandmark68Graph, LANDMARK68_INPUT } from '../models/faceLandmark68.ts';
import { OrtModel, sessionChoice, type OrtSessionChoice } from '../runtime/ort.ts';
import type { RunCpuTally } from '../runtime/runCpuTally.ts';
import type { Affine, FaceDetection, FivePoints, Point, VideoFrame } from '../types.ts';

/**
 * Where the landmark net's 112 px input square lies in the FFHQ-aligned 512 crop of a face: centre and side,
 * in template pixels. face-api feeds the net a face detector's box padded to a square; this square (eyes at
 * 36 % and the mouth at 64 % of its height) is the box its SSD detector draws around an upright face, here
 * placed from the five points so the net sees the face upright and at one scale whatever the detector.
 */
export const LANDMARK_SQUARE = { cx: 256, cy: 310, side: 360 } as const;

/** iBUG 68-point indices of the parts the five points come from (0-based, image left = subject's right). */
export const IBUG = {
  eyeLeft: [36, 37, 38, 39, 40, 41],
  eyeRight: [42, 43, 44, 45, 46, 47],
  noseTip: 30,
  mouthLeft: 48,
  mouthRight: 54,
  /** Face outline for a hull: jaw 0–16 and the brows 17–26. */
  outline: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17],
} as const;

/**
 * The five alignment points (FivePoints order) from 68 iBUG points: eye centres as the means of the eye
 * contours (36–41, 42–47), nose tip 30, mouth corners 48 and 54.
 */
export function fivePointsFrom68(p: readonly Point[]): FivePoints {
  if (p.length !== 68) throw new TypeError(`Expected 68 landmark points but received ${p.length}`);
  const mean = (idx: readonly number[]): Point => {
    let x = 0, y = 0;
    for (const i of idx) {
      x += p[i]![0];
      y += p[i]![1];
    }
    return [x / idx.length, y / idx.length];
  };
  return [mean(IBUG.eyeLeft), mean(IBUG.eyeRight), p[IBUG.noseTip]!, p[IBUG.mouthLeft]!, p[IBUG.mouthRight]!];
}

/** The frame → 112 px net input transform for a face with these five points. */
export function landmarkInputTransform(points: FivePoints): Affine {
  const toTemplate = alignmentFor(points);
  const k = LANDMARK68_INPUT / LANDMARK_SQUARE.side;
  const ox = LANDMARK_SQUARE.cx - LANDMARK_SQUARE.side / 2;
  const oy = LANDMARK_SQUARE.cy - LANDMARK_SQUARE.side / 2;
  const [a, b, c, d, e, f] = toTemplate;
  return [a * k, b * k, (c - ox) * k, d * k, e * k, (f - oy) * k];
}

/** Options for Landmark68.create. */
export interface Landmark68Options extends OrtSessionChoice {
  /** Refinement passes per detection (each re-crops around the previous pass's points). Default 2. */
  passes?: number;
}

/**
 * face-api's 68-point landmark network (converted to ONNX at load, see models/faceLandmark68.ts) on the
 * product's ONNX Runtime gateway. One run per call for all the faces given (batched).
 */
export class Landmark68 {
  readonly #model: OrtModel;
  readonly passes: number;
  readonly #cpuTally: RunCpuTally | undefined;

  private constructor(model: OrtModel, passes: number, cpuTally: RunCpuTally | undefined) {
    this.#model = model;
    this.passes = passes;
    this.#cpuTally = cpuTally;
  }

  static async create(options: Landmark68Options = {}): Promise<Landmark68> {
    const passes = options.passes ?? 2;
    if (!Number.isInteger(passes) || passes < 1) throw new TypeError(`Expected a whole number ≥ 1 for passes but received ${passes}`);
    const model = await OrtModel.create(await faceApiLandmark68Graph(), { ...sessionChoice(options), name: 'face_landmark_68 (face-api)' });
    return new Landmark68(model, passes, options.cpuTally);
  }

  /** The net's raw output for N×112×112×3 RGB (0–255): N×136, x, y interleaved, fractions of 112. */
  async run(input: Float32Array, n: number): Promise<Float32Array> {
    const out = await this.#model.run({ input: { type: 'float32', dims: [n, LANDMARK68_INPUT, LANDMARK68_INPUT, 3], data: input } });
    return out.landmarks!.data as Float32Array;
  }

  /** The 112 px RGB input (as floats) for a face with these points, and its transform. */
  static input(frame: VideoFrame, points: FivePoints): { toInput: Affine; rgb: Float32Array } {
    const toInput = landmarkInputTransform(points);
    const rgb = new Float32Array(LANDMARK68_INPUT * LANDMARK68_INPUT * 3);
    affineCropToTensor(frame, invertAffine(toInput), LANDMARK68_INPUT, rgb);
    return { toInput, rgb };
  }

  /**
   * The 68 points (frame pixels) of each face, starting from its five points: `passes` rounds of crop,
   * run, and re-crop around the five points derived from the result. Each pass's crops are warped straight
   * into the batch tensor (the same values as Landmark68.input's, without a copy per face).
   */
  async landmarks(frame: VideoFrame, start: readonly FivePoints[]): Promise<Point[][]> {
    let points = [...start];
    let result: Point[][] = [];
    if (points.length === 0) return result;
    const S = LANDMARK68_INPUT;
    // The crops and the points' mapping back are this model's CPU; the tally (when given) counts them. After
    // this await nothing here runs inside a caller's synchronous stage bracket, so nothing is counted twice.
    await undefined;
    const timed = <T>(f: () => T): T => (this.#cpuTally ? this.#cpuTally.time(f) : f());
    for (let pass = 0; pass < this.passes; pass++) {
      const { batch, back } = timed(() => {
        const batch = new Float32Array(points.length * S * S * 3);
        const back = points.map((p, i) => {
          const fromInput = invertAffine(landmarkInputTransform(p));
          affineCropToTensor(frame, fromInput, S, batch, i * S * S * 3);
          return fromInput;
        });
        return { batch, back };
      });
      const out = await this.run(batch, points.length);
      timed(() => {
        result = back.map((m, i) => Array.from({ length: 68 }, (_, j) => applyAffine(m, [out[i * 136 + 2 * j]! * S, out[i * 136 + 2 * j + 1]! * S])));
        points = result.map(fivePointsFrom68);
      });
    }
    return result;
  }

  async close(): Promise<void> {
    await this.#model.close();
  }
}

/**
 * Where the refined points are trusted: below `trustBelow` (mean distance of the five refined points from
 * the detector's, in the detector's inter-ocular distances) they replace the detector's; from `fallBackAt`
 * on the detector's are kept; in between the two are blended linearly. The 68-point net places a frontal
 * layout on profile faces (measured on short_hamilton_clip.mp4: frontal faces 0.04–0.28, profiles
 * 0.4–2.1), where it would misplace the crop worse than the detector does.
 */
export const REFINE_TRUST = { trustBelow: 0.35, fallBackAt: 0.7 } as const;

/** How far (in the detector's IOD) the refined five points lie from the detector's, averaged over the points. */
export function refinementDistance(detected: FivePoints, refined: FivePoints, boxWidth: number): number {
  const iod = Math.max(Math.hypot(detected[1][0] - detected[0][0], detected[1][1] - detected[0][1]), 0.1 * boxWidth, 1e-6);
  let sum = 0;
  for (let k = 0; k < 5; k++) sum += Math.hypot(refined[k]![0] - detected[k]![0], refined[k]![1] - detected[k]![1]);
  return sum / 5 / iod;
}

/**
 * A detector whose detections' five points are replaced by the ones derived from the 68-point net (eye
 * centres, nose tip, mouth corners) where the net is trusted (REFINE_TRUST); box and score stay the
 * detector's. Detections whose points it replaced fully carry the 68 points (`landmarks68`). Owns both models.
 */
export class RefinedDetector implements FaceDetector {
  readonly name: string;
  readonly inner: FaceDetector;
  readonly landmarks: Landmark68;

  constructor(inner: FaceDetector, landmarks: Landmark68) {
    this.inner = inner;
    this.landmarks = landmarks;
    this.name = `${inner.name}+landmark68`;
  }

  async detect(frame: VideoFrame): Promise<FaceDetection[]> {
    const found = await this.inner.detect(frame);
    const lm = await this.landmarks.landmarks(frame, found.map((d) => d.points));
    return found.map((d, i) => {
      const refined = fivePointsFrom68(lm[i]!);
      const dist = refinementDistance(d.points, refined, d.box.width);
      if (dist <= REFINE_TRUST.trustBelow) return { ...d, points: refined, landmarks68: lm[i]! };
      if (dist >= REFINE_TRUST.fallBackAt) return d;
      const w = (dist - REFINE_TRUST.trustBelow) / (REFINE_TRUST.fallBackAt - REFINE_TRUST.trustBelow);
      const points = refined.map((p, k) => [p[0] + w * (d.points[k]![0] - p[0]), p[1] + w * (d.points[k]![1] - p[1])] as const) as unknown as FivePoints;
      return { ...d, points };
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.inner.close(), this.landmarks.close()]);
  }
}
