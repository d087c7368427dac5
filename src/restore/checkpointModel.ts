import { FaceRestoreError } from '../errors.ts';

/** Options for onnxForCheckpoint. */
export interface CheckpointModelOptions {
  cacheDir?: string;
  fp16?: boolean;
  onInfo?: (message: string) => void;
}

/**
 * Path of an ONNX graph built from a CodeFormer `.pth` checkpoint (cached by the checkpoint's sha256).
 * Wired to the CodeFormer builder in src/restore/codeformer.
 */
export async function onnxForCheckpoint(checkpoint: string, _options: CheckpointModelOptions): Promise<string> {
  throw new FaceRestoreError('E_MODEL_INVALID', `cannot use ${checkpoint}: the CodeFormer checkpoint builder is not wired in yet`);
}
