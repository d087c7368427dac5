import { alignmentFor, FFHQ_TEMPLATE_512 } from '../compose/align.ts';
import { warpToCrop } from '../compose/warp.ts';
import { DESCRIPTOR_INPUT, DESCRIPTOR_LENGTH, faceApiDescriptorGraph, faceApiDescriptorManifest } from '../models/faceRecognition.ts';
import { FaceRestoreError } from '../errors.ts';
import { OrtModel, sessionChoice, type OrtSessionChoice } from '../runtime/ort.ts';
import type { Affine, FivePoints, VideoFrame } from '../types.ts';

/**
 * Where the descriptor net's 150 px input square lies in the FFHQ-aligned 512 crop of a face (template
 * pixels). face-api crops the face for its descriptor with dlib's rule (FaceLandmarks.alignDlib): a square
 * of side (mean eye-to-mouth-centre distance) / 0.45, centred horizontally on the centroid of the two eye
 * centres and the mouth centre, which lies at 0.43 of its height. Here that rule is applied to the template's
 * points, so the crop is the same square but rotated upright by the five-point fit (face-api's is axis-aligned).
 */
export const DESCRIPTOR_SQUARE = (() => {
  const [le, re, , ml, mr] = FFHQ_TEMPLATE_512;
  const mouth = [(ml[0] + mr[0]) / 2, (ml[1] + mr[1]) / 2] as const;
  const dist = (p: readonly [number, number]) => Math.hypot(mouth[0] - p[0], mouth[1] - p[1]);
  const side = (dist(le) + dist(re)) / 2 / 0.45;
  const cx = (le[0] + re[0] + mouth[0]) / 3;
  const cy = (le[1] + re[1] + mouth[1]) / 3;
  return { cx, cy: cy - 0.43 * side + side / 2, side };
})();

/** The frame → 150 px descriptor input transform for a face with these five points. */
export function descriptorInputTransform(points: FivePoints): Affine {
  const [a, b, c, d, e, f] = alignmentFor(points);
  const k = DESCRIPTOR_INPUT / DESCRIPTOR_SQUARE.side;
  const ox = DESCRIPTOR_SQUARE.cx - DESCRIPTOR_SQUARE.side / 2;
  const oy = DESCRIPTOR_SQUARE.cy - DESCRIPTOR_SQUARE.side / 2;
  return [a * k, b * k, (c - ox) * k, d * k, e * k, (f - oy) * k];
}

/** Euclidean distance of two descriptors (face-api's measure: same person below about 0.6). */
export function descriptorDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new TypeError(`Expected descriptors of equal length but received ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/** A 150 px RGB input mirrored left–right. */
function mirrored(x: Float32Array): Float32Array {
  const S = DESCRIPTOR_INPUT;
  const out = new Float32Array(x.length);
  for (let y = 0; y < S; y++) for (let c = 0; c < S; c++) {
    const a = (y * S + c) * 3, b = (y * S + S - 1 - c) * 3;
    out[a] = x[b]!; out[a + 1] = x[b + 1]!; out[a + 2] = x[b + 2]!;
  }
  return out;
}

/**
 * face-api's 128-D face descriptor network (converted to ONNX at load, see models/faceRecognition.ts) on the
 * product's ONNX Runtime gateway. One run per call for all the faces given (batched).
 */
export class FaceDescriptor {
  readonly #model: OrtModel;

  private constructor(model: OrtModel) {
    this.#model = model;
  }

  /**
   * Builds the net from face-api's weights (`weightsManifest`: default the installed @vladmandic/face-api's
   * face_recognition_model manifest) and loads it. Errors: E_MODEL_MISSING naming the weights when they are
   * not there (the package not installed, a file removed), E_MODEL_INVALID when they do not fit.
   */
  static async create(options: OrtSessionChoice & { weightsManifest?: string } = {}): Promise<FaceDescriptor> {
    let graph: Uint8Array;
    try {
      graph = await faceApiDescriptorGraph(options.weightsManifest ?? faceApiDescriptorManifest());
    } catch (e) {
      const missing = (e instanceof FaceRestoreError && e.code === 'E_MODEL_MISSING') || (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' || (e as NodeJS.ErrnoException).code === 'ENOENT';
      if (!missing) throw e;
      throw new FaceRestoreError('E_MODEL_MISSING', `re-identification needs face-api's face descriptor weights (face_recognition_model-weights_manifest.json and its shard, shipped in the npm package @vladmandic/face-api, model/), which cannot be read: ${(e as Error).message}`, { cause: e });
    }
    return new FaceDescriptor(await OrtModel.create(graph, { ...sessionChoice(options), name: 'face_descriptor_128 (face-api)' }));
  }

  /** The net's output for N×150×150×3 RGB (0–255): N×128. */
  async run(input: Float32Array, n: number): Promise<Float32Array> {
    const out = await this.#model.run({ input: { type: 'float32', dims: [n, DESCRIPTOR_INPUT, DESCRIPTOR_INPUT, 3], data: input } });
    return out.descriptor!.data as Float32Array;
  }

  /** The 150 px RGB input (as floats) for a face with these five points. */
  static input(frame: VideoFrame, points: FivePoints): Float32Array {
    return Float32Array.from(warpToCrop(frame, descriptorInputTransform(points), DESCRIPTOR_INPUT));
  }

  /**
   * One descriptor per face (five points each), in one batched run. With `mirror`, each face's descriptor
   * is the mean of its crop's and its mirrored crop's (twice the cost; steadier across poses).
   */
  async describe(frame: VideoFrame, faces: readonly FivePoints[], options: { mirror?: boolean } = {}): Promise<Float32Array[]> {
    if (faces.length === 0) return [];
    const S = DESCRIPTOR_INPUT * DESCRIPTOR_INPUT * 3;
    const views = options.mirror ? 2 : 1;
    const batch = new Float32Array(views * faces.length * S);
    faces.forEach((p, i) => {
      const x = FaceDescriptor.input(frame, p);
      batch.set(x, views * i * S);
      if (views === 2) batch.set(mirrored(x), (2 * i + 1) * S);
    });
    const out = await this.run(batch, views * faces.length);
    return faces.map((_, i) => {
      const d = out.slice(views * i * DESCRIPTOR_LENGTH, (views * i + 1) * DESCRIPTOR_LENGTH);
      if (views === 2) for (let k = 0; k < DESCRIPTOR_LENGTH; k++) d[k] = (d[k]! + out[(2 * i + 1) * DESCRIPTOR_LENGTH + k]!) / 2;
      return d;
    });
  }

  async close(): Promise<void> {
    await this.#model.close();
  }
}
