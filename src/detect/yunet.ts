import { FaceRestoreError } from '../errors.ts';
import { OrtModel, sessionChoice, type OrtSessionChoice } from '../runtime/ort.ts';
import type { FaceDetection, FivePoints, Point, VideoFrame } from '../types.ts';
import type { FaceDetector } from './detector.ts';
import { letterboxRgb, type Letterbox } from './letterbox.ts';
import { weightedNms } from './nms.ts';

/** Options for YuNetDetector.create. */
export interface YuNetOptions extends OrtSessionChoice {
  /** Path to a YuNet ONNX file (OpenCV Zoo), required: it is not shipped with the product. */
  modelPath: string;
  /** Longest side of the detector input in pixels (rounded up to a multiple of 32). Default 640. */
  maxSide?: number;
  /** Minimum score sqrt(cls·obj) in [0, 1]. Default 0.6. */
  scoreThreshold?: number;
  /** IoU above which detections merge. Default 0.3. */
  iouThreshold?: number;
}

const STRIDES = [8, 16, 32] as const;

/**
 * OpenCV Zoo's YuNet on ONNX Runtime. Input NCHW BGR 0–255 with H and W multiples of 32; frames larger
 * than `maxSide` are downscaled, then padded right/bottom. Keypoints come as [eye on the image left, eye on
 * the image right, nose, mouth corner on the image left, mouth corner on the image right] — the template order.
 */
export class YuNetDetector implements FaceDetector {
  readonly name = 'yunet';
  readonly #model: OrtModel;
  readonly #maxSide: number;
  readonly #scoreThreshold: number;
  readonly #iouThreshold: number;

  private constructor(model: OrtModel, options: YuNetOptions) {
    this.#model = model;
    this.#maxSide = options.maxSide ?? 640;
    this.#scoreThreshold = options.scoreThreshold ?? 0.6;
    this.#iouThreshold = options.iouThreshold ?? 0.3;
  }

  static async create(options: YuNetOptions): Promise<YuNetDetector> {
    const model = await OrtModel.create(options.modelPath, sessionChoice(options));
    const names = new Set(model.outputs.map((o) => o.name));
    const need = STRIDES.flatMap((s) => [`cls_${s}`, `obj_${s}`, `bbox_${s}`, `kps_${s}`]);
    const input = model.inputs[0];
    if (model.inputs.length !== 1 || input?.shape.length !== 4 || input.shape[1] !== 3 || !need.every((n) => names.has(n))) {
      await model.close();
      throw new FaceRestoreError(
        'E_MODEL_CONTRACT',
        `model ${model.name} is not a YuNet detector: expected one input [1,3,H,W] and outputs ${need.join(', ')}; ` +
          `got inputs ${model.inputs.map((i) => `${i.name}[${i.shape.join(',')}]`).join(', ')} and outputs ${[...names].join(', ')}`,
      );
    }
    return new YuNetDetector(model, options);
  }

  /** The model input size for a frame of this size and the largest scale the frame may be fitted with. */
  inputFor(width: number, height: number): { width: number; height: number; maxScale: number } {
    const input = this.#model.inputs[0]!;
    const fixedH = typeof input.shape[2] === 'number' ? input.shape[2] : undefined;
    const fixedW = typeof input.shape[3] === 'number' ? input.shape[3] : undefined;
    const scale = Math.min(1, this.#maxSide / Math.max(width, height));
    return { width: fixedW ?? Math.ceil((width * scale) / 32) * 32, height: fixedH ?? Math.ceil((height * scale) / 32) * 32, maxScale: scale };
  }

  async detect(frame: VideoFrame): Promise<FaceDetection[]> {
    const { width, height, maxScale } = this.inputFor(frame.width, frame.height);
    return this.detectLetterboxed(letterboxRgb(frame, width, height, false, maxScale), width, height);
  }

  /** Runs the model on a ready W × H packed RGB24 input (see inputFor); `box` maps it to frame pixels. */
  async detectLetterboxed({ data, box }: { data: Uint8Array; box: Letterbox }, W: number, H: number): Promise<FaceDetection[]> {
    const input = this.#model.inputs[0]!;
    const plane = W * H;
    const chw = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) {
      chw[i] = data[i * 3 + 2]!;
      chw[plane + i] = data[i * 3 + 1]!;
      chw[2 * plane + i] = data[i * 3]!;
    }
    const out = await this.#model.run({ [input.name]: { type: 'float32', dims: [1, 3, H, W], data: chw } });
    const candidates: FaceDetection[] = [];
    const toFrame = (x: number, y: number): Point => [(x - box.padX) / box.scale, (y - box.padY) / box.scale];
    for (const s of STRIDES) {
      const cls = out[`cls_${s}`]!.data as Float32Array;
      const obj = out[`obj_${s}`]!.data as Float32Array;
      const bbox = out[`bbox_${s}`]!.data as Float32Array;
      const kps = out[`kps_${s}`]!.data as Float32Array;
      const cols = W / s;
      for (let i = 0; i < cls.length; i++) {
        const score = Math.sqrt(clamp01(cls[i]!) * clamp01(obj[i]!));
        if (score < this.#scoreThreshold) continue;
        const col = i % cols;
        const row = Math.floor(i / cols);
        const cx = (col + bbox[i * 4]!) * s;
        const cy = (row + bbox[i * 4 + 1]!) * s;
        const w = Math.exp(bbox[i * 4 + 2]!) * s;
        const h = Math.exp(bbox[i * 4 + 3]!) * s;
        const [x0, y0] = toFrame(cx - w / 2, cy - h / 2);
        const [x1, y1] = toFrame(cx + w / 2, cy + h / 2);
        const pts = [0, 1, 2, 3, 4].map((k) => toFrame((col + kps[i * 10 + 2 * k]!) * s, (row + kps[i * 10 + 2 * k + 1]!) * s)) as unknown as FivePoints;
        candidates.push({ score, box: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, points: pts });
      }
    }
    return weightedNms(candidates, this.#iouThreshold);
  }

  async close(): Promise<void> {
    await this.#model.close();
  }
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
