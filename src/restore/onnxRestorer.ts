import { FaceRestoreError } from '../errors.ts';
import { CROP_SIZE, type Provider } from '../types.ts';
import { OrtModel, sessionChoice, type OrtSessionChoice, type TensorData, type TensorSpec } from '../runtime/ort.ts';
import { checkRestoreArgs, cropsToNchw, nchwToCrop, type Restorer } from './restorer.ts';

/** Options for OnnxRestorer.create. */
export interface OnnxRestorerOptions extends OrtSessionChoice {
  /** Faces per inference when the model's batch is dynamic. Default 4. */
  batch?: number;
}

/** How a model's inputs map onto the restore contract, read from its metadata. */
export interface RestorerBinding {
  image: TensorSpec;
  weight: TensorSpec | undefined;
  output: TensorSpec;
  /** True when the image input's batch dimension is symbolic (any N). */
  dynamicBatch: boolean;
  /** True when `w` carries one value per face (shape [N]/[N,1] with N dynamic or matching the batch). */
  perFaceWeight: boolean;
}

const IMAGE_NAMES = ['x', 'input', 'image', 'img'];
const WEIGHT_NAMES = ['w', 'weight', 'fidelity'];

/**
 * Reads the contract from a model's metadata: image input `x`/`input` float32 [N|1,3,512,512]; optional
 * weight `w`/`weight`, float32 or float64, scalar, [1] or [N]; a 4-D float output. Throws E_MODEL_CONTRACT
 * naming the model and its inputs when it does not fit.
 */
export function bindRestorerModel(model: OrtModel): RestorerBinding {
  const describe = () => `inputs ${model.inputs.map((i) => `${i.name}: ${i.type}[${i.shape.join(',')}]`).join(', ')}; outputs ${model.outputs.map((o) => `${o.name}: ${o.type}[${o.shape.join(',')}]`).join(', ')}`;
  const image = model.inputs.find((i) => IMAGE_NAMES.includes(i.name)) ?? (model.inputs.length <= 2 ? model.inputs.find((i) => i.shape.length === 4) : undefined);
  const fits = (s: TensorSpec, i: number, v: number) => typeof s.shape[i] !== 'number' || s.shape[i] === v || (s.shape[i] as number) < 0;
  if (!image || image.type !== 'float32' || image.shape.length !== 4 || !fits(image, 1, 3) || !fits(image, 2, CROP_SIZE) || !fits(image, 3, CROP_SIZE)) {
    throw new FaceRestoreError('E_MODEL_CONTRACT', `model ${model.name} does not fit the restorer contract (image input x|input float32 [N,3,512,512]): ${describe()}`);
  }
  const others = model.inputs.filter((i) => i !== image);
  const weight = others.find((i) => WEIGHT_NAMES.includes(i.name)) ?? (others.length === 1 ? others[0] : undefined);
  if (others.length > 1 || (others.length === 1 && !weight)) {
    throw new FaceRestoreError('E_MODEL_CONTRACT', `model ${model.name} has inputs the restorer cannot feed: ${describe()}`);
  }
  if (weight && (!['float32', 'float64'].includes(weight.type) || weight.shape.length > 2 || weight.shape.slice(1).some((d) => d !== 1))) {
    throw new FaceRestoreError('E_MODEL_CONTRACT', `model ${model.name}: weight input ${weight.name} must be float32 or float64 of shape [], [1] or [N]: ${describe()}`);
  }
  const output = model.outputs.find((o) => ['out', 'output'].includes(o.name)) ?? model.outputs.find((o) => o.shape.length === 4) ?? model.outputs[0];
  if (!output || !['float32', 'float64'].includes(output.type) || (output.shape.length !== 0 && output.shape.length !== 4)) {
    throw new FaceRestoreError('E_MODEL_CONTRACT', `model ${model.name} has no 4-D float output: ${describe()}`);
  }
  const dynamicBatch = typeof image.shape[0] !== 'number' || (image.shape[0] as number) < 0;
  const wBatch = weight?.shape[0];
  const perFaceWeight = !!weight && weight.shape.length >= 1 && (typeof wBatch !== 'number' || wBatch < 0 || !dynamicBatch);
  return { image, weight, output, dynamicBatch, perFaceWeight };
}

/**
 * A CodeFormer-compatible ONNX model as a Restorer. Batches up to `batch` faces per run when the model's
 * batch is dynamic and it takes one weight per face; a model with one weight per call gets one run per
 * distinct weight; a fixed-batch-1 model runs face by face. Models without a weight input (e.g. third-party GFPGAN exports;
 * the graphs built from GFPGAN checkpoints have one, see models/gfpgan/graph.ts)
 * ignore w.
 */
export class OnnxRestorer implements Restorer {
  readonly name: string;
  readonly maxBatch: number;
  readonly binding: RestorerBinding;
  readonly #model: OrtModel;
  readonly #buffers = new Map<number, Float32Array>();
  #serial: Promise<unknown> = Promise.resolve();

  private constructor(model: OrtModel, binding: RestorerBinding, batch: number) {
    this.#model = model;
    this.binding = binding;
    this.maxBatch = binding.dynamicBatch ? batch : 1;
    this.name = `onnx:${model.name} (${model.provider}, batch ${this.maxBatch}${binding.weight ? '' : ', no fidelity input: w ignored'})`;
  }

  /** Loads `modelPath`. Errors: E_MODEL_MISSING, E_MODEL_INVALID, E_MODEL_CONTRACT, E_DEVICE. */
  static async create(modelPath: string | Uint8Array, options: OnnxRestorerOptions = {}): Promise<OnnxRestorer> {
    const model = await OrtModel.create(modelPath, sessionChoice(options));
    try {
      const binding = bindRestorerModel(model);
      const batch = options.batch ?? 4;
      if (!(Number.isInteger(batch) && batch >= 1)) throw new TypeError(`Expected a positive integer for batch but received ${batch}`);
      return new OnnxRestorer(model, binding, batch);
    } catch (e) {
      await model.close();
      throw e;
    }
  }

  /** Execution provider in use. */
  get provider(): Provider {
    return this.#model.provider;
  }

  /** Restores a batch. Concurrent calls run one after another (they share the output buffers). */
  restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    try {
      checkRestoreArgs(crops, weights);
    } catch (e) {
      return Promise.reject(e);
    }
    const job = this.#serial.then(() => this.#restore(crops, weights));
    this.#serial = job.catch(() => undefined);
    return job;
  }

  async #restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = new Array(crops.length);
    // Groups of crop indices that share one run: per-face weights allow any mix, else one weight per run.
    const groups: number[][] = [];
    if (this.binding.perFaceWeight || !this.binding.weight) {
      for (let i = 0; i < crops.length; i += this.maxBatch) groups.push(range(i, Math.min(crops.length, i + this.maxBatch)));
    } else {
      const byW = new Map<number, number[]>();
      weights.forEach((w, i) => byW.set(w, [...(byW.get(w) ?? []), i]));
      for (const idx of byW.values()) for (let i = 0; i < idx.length; i += this.maxBatch) groups.push(idx.slice(i, i + this.maxBatch));
    }
    for (const g of groups) {
      const result = await this.#run(g.map((i) => crops[i]!), g.map((i) => weights[i]!));
      g.forEach((ci, k) => (out[ci] = nchwToCrop(result, k)));
    }
    return out;
  }

  async #run(crops: Uint8Array[], weights: number[]): Promise<Float32Array | Float64Array> {
    const n = crops.length;
    const feeds: Record<string, TensorData> = {
      [this.binding.image.name]: { type: 'float32', dims: [n, 3, CROP_SIZE, CROP_SIZE], data: cropsToNchw(crops) },
    };
    const w = this.binding.weight;
    if (w) {
      const values = this.binding.perFaceWeight ? weights : [weights[0]!];
      const dims = w.shape.length === 0 ? [] : w.shape.length === 1 ? [values.length] : [values.length, 1];
      feeds[w.name] = w.type === 'float64' ? { type: 'float64', dims, data: Float64Array.from(values) } : { type: 'float32', dims, data: Float32Array.from(values) };
    }
    const result = await this.#model.run(feeds, { into: this.#outputBuffer(n) });
    const t = result[this.binding.output.name]!;
    const expected = n * 3 * CROP_SIZE * CROP_SIZE;
    if (t.data.length !== expected) {
      throw new FaceRestoreError('E_MODEL_CONTRACT', `model ${this.#model.name}: output ${this.binding.output.name} has shape [${t.dims.join(',')}], expected [${n},3,${CROP_SIZE},${CROP_SIZE}]`);
    }
    return t.data as Float32Array | Float64Array;
  }

  /**
   * A reused output buffer for batch size n (float32 outputs only): ORT writes into it instead of
   * allocating 3 MiB per face per run. Safe because results are unpacked before the next run starts.
   */
  #outputBuffer(n: number): Record<string, TensorData> | undefined {
    if (this.binding.output.type !== 'float32') return undefined;
    let buf = this.#buffers.get(n);
    if (!buf) {
      buf = new Float32Array(n * 3 * CROP_SIZE * CROP_SIZE);
      this.#buffers.set(n, buf);
    }
    return { [this.binding.output.name]: { type: 'float32', dims: [n, 3, CROP_SIZE, CROP_SIZE], data: buf } };
  }

  async close(): Promise<void> {
    this.#buffers.clear();
    await this.#model.close();
  }
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}
