import { FaceRestoreError } from '../errors.ts';
import { buildCodeFormerGraph } from '../models/codeformer/graph.ts';
import { loadCodeFormerCheckpoint, recogniseKind, type LoadedCodeFormer } from '../models/codeformer/index.ts';
import { warpInto, WARP_IO } from '../models/warpGraph.ts';
import { OrtModel, sessionChoice, type OrtSessionChoice } from '../runtime/ort.ts';
import type { Affine, VideoFrame } from '../types.ts';
import { CROP_SIZE } from '../types.ts';
import { yuvCoefficients } from '../util/yuv.ts';
import { OnnxRestorer } from './onnxRestorer.ts';
import { CROP_BYTES, type Restorer } from './restorer.ts';
import { SessionCache } from '../runtime/sessionCache.ts';


/** Options of FrameRestorer.create. */
export interface FrameRestorerOptions extends OrtSessionChoice {
  /** float16 CodeFormer (the warp stays float32). Default false. */
  fp16?: boolean;
  /** Refuse to load when a node would fall back to the CPU. Default false. */
  strictDevice?: boolean;
  /** Faces per run of `restore` (crops in; restoreFrame runs a frame's faces together). Default 4. */
  batch?: number;
}

/**
 * CodeFormer with the warp pre-graph in front (models/warpGraph.ts `warpInto`) and uint8 crops out, as one ONNX
 * graph: a frame's I420 bytes and its faces' alignments go in, the restored RGB24 crops come out. On a GPU the
 * frame is uploaded once and only the restored crops (uint8: a quarter of float's bytes) come back; the 512 crops
 * and CodeFormer's float input never exist on the host. One session per frame size and colour.
 */
export class FrameRestorer implements Restorer {
  readonly name: string;
  readonly maxBatch: number;
  readonly #loaded: LoadedCodeFormer;
  readonly #o: FrameRestorerOptions;
  readonly #models = new SessionCache();
  /** The plain graph (crops in), built on first use of `restore`. */
  #plain: Promise<OnnxRestorer> | undefined;
  #closed = false;

  private constructor(name: string, loaded: LoadedCodeFormer, o: FrameRestorerOptions) {
    this.name = name;
    this.#loaded = loaded;
    this.#o = o;
    this.maxBatch = o.batch ?? 4;
  }

  /** Reads a CodeFormer checkpoint (`.pth`; E_CHECKPOINT, E_MODEL_MISSING). Sessions are built per frame size on first use. */
  static async create(checkpoint: string, o: FrameRestorerOptions = {}): Promise<FrameRestorer> {
    const loaded = await loadCodeFormerCheckpoint(checkpoint);
    return new FrameRestorer(`frame-codeformer:${checkpoint.split('/').pop()} (${o.device ?? 'cpu'}${o.fp16 ? ', fp16' : ''})`, loaded, o);
  }

  /** Crops in (the Restorer contract): the same CodeFormer without the warp, as its own session, built on first use. */
  restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    if (this.#closed) return Promise.reject(new FaceRestoreError('E_CLOSED', `${this.name} is closed`));
    this.#plain ??= OnnxRestorer.create(buildCodeFormerGraph(this.#loaded.arch, this.#loaded.weights, { kind: recogniseKind(this.#loaded.arch), fp16: this.#o.fp16 }), {
      ...sessionChoice(this.#o),
      batch: this.maxBatch,
    });
    return this.#plain.then((r) => r.restore(crops, weights));
  }

  /** The faces of `frame` at `toCrops` (frame → crop alignments), restored with one w each: RGB24 512² crops. */
  async restoreFrame(frame: VideoFrame, toCrops: readonly Affine[], weights: readonly number[]): Promise<Uint8Array[]> {
    if (this.#closed) throw new FaceRestoreError('E_CLOSED', `${this.name} is closed`);
    if (toCrops.length !== weights.length) throw new TypeError(`Expected one weight per face but received ${weights.length} weights for ${toCrops.length} faces`);
    const n = toCrops.length;
    if (n === 0) return [];
    for (const [i, w] of weights.entries()) if (!(w >= 0 && w <= 1)) throw new TypeError(`Expected a number in [0, 1] for weight ${i} but received ${w}`);
    const m = new Float32Array(n * 6);
    toCrops.forEach((t, i) => m.set(invert(t), i * 6));
    const model = await this.#model(frame);
    const out = await model.run({
      [WARP_IO.frame]: { type: 'uint8', dims: [frame.data.length], data: frame.data },
      [WARP_IO.matrices]: { type: 'float32', dims: [n, 2, 3], data: m },
      w: { type: 'float32', dims: [n], data: Float32Array.from(weights) },
    });
    const bytes = out.restored!.data as Uint8Array;
    return Array.from({ length: n }, (_, i) => bytes.subarray(i * CROP_BYTES, (i + 1) * CROP_BYTES));
  }

  #model(frame: VideoFrame): Promise<OrtModel> {
    const key = `${frame.width}x${frame.height} ${frame.colour?.matrix ?? 'bt601'}/${frame.colour?.range ?? 'limited'}`;
    return this.#models.get(key, () => {
      const spec = { width: frame.width, height: frame.height, layout: 'i420' as const, size: CROP_SIZE, yuv: yuvCoefficients(frame.colour) };
      const { arch, weights } = this.#loaded;
      const bytes = buildCodeFormerGraph(arch, weights, { kind: recogniseKind(arch), fp16: this.#o.fp16, input: (g) => warpInto(g, spec), uint8Output: true });
      return OrtModel.create(bytes, { ...sessionChoice(this.#o), strictDevice: this.#o.strictDevice, name: `${this.name} ${key}` });
    });
  }

  /** Releases every session. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const plain = this.#plain;
    this.#plain = undefined;
    await Promise.all([this.#models.close(), plain?.then((x) => x.close(), () => undefined)]);
  }
}

/** Inverse of an affine transform (compose/align.ts invertAffine). */
function invert(m: Affine): Affine {
  const det = m[0] * m[4] - m[1] * m[3];
  if (det === 0) throw new TypeError('Expected an invertible alignment');
  const ia = m[4] / det, ib = -m[1] / det, ic = -m[3] / det, id = m[0] / det;
  return [ia, ib, -(ia * m[2] + ib * m[5]), ic, id, -(ic * m[2] + id * m[5])];
}
