/**
 * A user-supplied face-embedding model (ArcFace-style: input float32 [N,3,112,112] RGB in [-1, 1], output
 * one vector per face), used by `--reference` to tell whether a face looks like the reference face. Each
 * face is aligned to the ArcFace 112×112 template from the same five points the restorer's crop uses.
 * No identity model ships with facerestore: the caller names one (`--reference-model`).
 */
import { FaceRestoreError } from '../errors.ts';
import { OrtModel, sessionChoice, type OrtSessionChoice, type TensorSpec } from '../runtime/ort.ts';
import { alignmentFor } from '../compose/align.ts';
import { warpToCrop } from '../compose/warp.ts';
import type { FivePoints, VideoFrame } from '../types.ts';

/** Side of the embedding model's square input. */
export const EMBED_SIZE = 112;

/** The ArcFace (insightface) 112×112 five-point template, in the order of FivePoints. */
export const ARCFACE_TEMPLATE_112: FivePoints = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

export interface FaceEmbedderOptions extends OrtSessionChoice {
  modelPath: string | Uint8Array;
  /** Name in messages; default the file name. */
  name?: string;
}

/** Cosine similarity of two vectors (0 when either is all zeros). */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new TypeError(`Expected two vectors of one length but received ${a.length} and ${b.length}`);
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** The aligned 112×112 RGB24 crop of a face for the embedding model. */
export function embeddingCrop(frame: VideoFrame, points: FivePoints): Uint8Array {
  return warpToCrop(frame, alignmentFor(points, ARCFACE_TEMPLATE_112), EMBED_SIZE);
}

/** Loads an embedding model and turns aligned faces into vectors through the ORT gateway. */
export class FaceEmbedder {
  readonly name: string;
  readonly #model: OrtModel;
  readonly #input: TensorSpec;
  readonly #output: string;
  /** The model takes any batch size (else one face per run). */
  readonly #batched: boolean;

  private constructor(model: OrtModel, input: TensorSpec, output: string) {
    this.#model = model;
    this.name = model.name;
    this.#input = input;
    this.#output = output;
    this.#batched = typeof input.shape[0] !== 'number' || input.shape[0] < 0;
  }

  /**
   * Loads the model and checks its contract: one float32 input [N|1,3,112,112] and one output.
   * Errors: E_MODEL_MISSING, E_MODEL_INVALID, E_MODEL_CONTRACT (naming what the model declares).
   */
  static async create(o: FaceEmbedderOptions): Promise<FaceEmbedder> {
    const model = await OrtModel.create(o.modelPath, { ...sessionChoice(o), ...(o.name ? { name: o.name } : {}) });
    const declared = `inputs ${model.inputs.map((i) => `${i.name}: ${i.type}[${i.shape.join(',')}]`).join(', ')}; outputs ${model.outputs.map((i) => i.name).join(', ')}`;
    const input = model.inputs[0];
    const fixed = (d: number | string | undefined, v: number) => typeof d !== 'number' || d < 0 || d === v;
    const fits = model.inputs.length === 1 && model.outputs.length >= 1 && input!.type === 'float32' && input!.shape.length === 4 &&
      fixed(input!.shape[0], 1) && fixed(input!.shape[1], 3) && fixed(input!.shape[2], EMBED_SIZE) && fixed(input!.shape[3], EMBED_SIZE);
    if (!fits) {
      await model.close();
      throw new FaceRestoreError('E_MODEL_CONTRACT', `face-embedding model ${model.name} must take one float32 input [N,3,${EMBED_SIZE},${EMBED_SIZE}] (RGB in [-1,1]) and give a vector per face; it declares ${declared}`);
    }
    return new FaceEmbedder(model, input!, model.outputs[0]!.name);
  }

  /** One vector per 112×112 RGB24 crop (one model run for all when the batch is dynamic). */
  async embed(crops: readonly Uint8Array[]): Promise<Float32Array[]> {
    if (crops.length === 0) return [];
    const groups = this.#batched ? [crops] : crops.map((c) => [c]);
    const out: Float32Array[] = [];
    const px = EMBED_SIZE * EMBED_SIZE;
    for (const group of groups) {
      const data = new Float32Array(group.length * 3 * px);
      group.forEach((crop, n) => {
        if (crop.length !== px * 3) throw new TypeError(`Expected a ${EMBED_SIZE}×${EMBED_SIZE} RGB24 crop (${px * 3} bytes) but received ${crop.length} bytes`);
        const base = n * 3 * px;
        for (let p = 0; p < px; p++) {
          for (let c = 0; c < 3; c++) data[base + c * px + p] = crop[3 * p + c]! / 127.5 - 1;
        }
      });
      const result = await this.#model.run({ [this.#input.name]: { type: 'float32', dims: [group.length, 3, EMBED_SIZE, EMBED_SIZE], data } });
      const t = result[this.#output]!;
      if (t.type !== 'float32' || t.dims[0] !== group.length) {
        throw new FaceRestoreError('E_MODEL_CONTRACT', `face-embedding model ${this.name}: output '${this.#output}' is ${t.type}[${t.dims.join(',')}], expected float32 with one row per face (${group.length})`);
      }
      const len = t.data.length / group.length;
      for (let n = 0; n < group.length; n++) out.push(Float32Array.from((t.data as Float32Array).subarray(n * len, (n + 1) * len)));
    }
    return out;
  }

  /** Releases the model. Idempotent. */
  close(): Promise<void> {
    return this.#model.close();
  }
}
