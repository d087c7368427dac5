/** `--reference photo --reference-model embed.onnx`: the reference face's embedding, from a photo. */
import { FaceRestoreError } from '../../errors.ts';
import type { FaceDetector } from '../../detect/detector.ts';
import { DEFAULT_REFERENCE_THRESHOLD, type ReferenceFace } from '../../engine/faceChoice.ts';
import { embeddingCrop, FaceEmbedder } from '../../engine/faceEmbedder.ts';
import type { OrtSessionChoice } from '../../runtime/ort.ts';
import { i420FromRgbImage, readImage } from './runImage.ts';

export interface ReferenceOptions extends OrtSessionChoice {
  /** The reference photo (its largest face is the reference). */
  photo: string;
  /** The face-embedding ONNX model (ArcFace-style, 112×112 input). */
  model: string;
  threshold?: number;
  onInfo?: (message: string) => void;
}

/**
 * Loads the embedding model and embeds the largest face of the reference photo. The caller owns the
 * returned embedder (close it after the run). Errors: the photo's read errors (E_INPUT_MISSING, E_DECODE),
 * E_NO_FACE when the photo has no face, the model's load and contract errors.
 */
export async function loadReference(detector: FaceDetector, o: ReferenceOptions): Promise<ReferenceFace> {
  const img = await readImage(o.photo);
  const frame = i420FromRgbImage(img.rgb, img.width, img.height);
  const found = await detector.detect(frame);
  if (found.length === 0) {
    throw new FaceRestoreError('E_NO_FACE', `reference photo ${o.photo} has no face the detector (${detector.name}) finds; give a photo with the person's face clearly visible`);
  }
  const face = [...found].sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height)[0]!;
  if (found.length > 1) o.onInfo?.(`reference photo ${o.photo} has ${found.length} faces; the largest is the reference`);
  const embedder = await FaceEmbedder.create({ modelPath: o.model, device: o.device, intraOpThreads: o.intraOpThreads, threadSpinning: o.threadSpinning, onWarning: o.onWarning, onInfo: o.onInfo });
  try {
    const [vector] = await embedder.embed([embeddingCrop(frame, face.points)]);
    return { embedder, vector: vector!, threshold: o.threshold ?? DEFAULT_REFERENCE_THRESHOLD };
  } catch (e) {
    await embedder.close();
    throw e;
  }
}
