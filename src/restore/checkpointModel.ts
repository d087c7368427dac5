import os from 'node:os';
import path from 'node:path';
import { loadOrBuildCached, type CodeFormerKind } from '../models/codeformer/index.ts';

/** Options for onnxForCheckpoint. */
export interface CheckpointModelOptions {
  /** Cache root; models go to `<cacheDir>/models`. Default `~/.cache/facerestore`. */
  cacheDir?: string;
  /** Build the float16 graph (for CUDA). Default false. */
  fp16?: boolean;
  /** CodeFormer kind to build; default recognised from the checkpoint (models/codeformer/kind.ts). */
  kind?: CodeFormerKind;
  onInfo?: (message: string) => void;
}

/**
 * Path of the ONNX graph built from a CodeFormer `.pth` checkpoint, building and caching it (keyed by the
 * checkpoint's sha256) on first use. Errors: E_MODEL_MISSING, E_CHECKPOINT.
 */
export async function onnxForCheckpoint(checkpoint: string, options: CheckpointModelOptions): Promise<string> {
  const root = options.cacheDir ?? path.join(os.homedir(), '.cache', 'facerestore');
  return loadOrBuildCached(checkpoint, {
    cacheDir: path.join(root, 'models'),
    fp16: options.fp16,
    kind: options.kind,
    onBuild: ({ target }) => options.onInfo?.(`building the ONNX graph of ${checkpoint} into ${target} (once per checkpoint)`),
  });
}
