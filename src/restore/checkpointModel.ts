import os from 'node:os';
import path from 'node:path';
import { loadOrBuildCached, type CodeFormerKind } from '../models/codeformer/index.ts';
import { isGfpganCheckpoint, loadOrBuildGfpganCached } from '../models/gfpgan/index.ts';

/** Options for onnxForCheckpoint. */
export interface CheckpointModelOptions {
  /** Cache root; models go to `<cacheDir>/models`. Default `~/.cache/facerestore`. */
  cacheDir?: string;
  /** Build the float16 graph (for CUDA; CodeFormer only). Default false. */
  fp16?: boolean;
  /** CodeFormer kind to build; default recognised from the checkpoint (models/codeformer/kind.ts). */
  kind?: CodeFormerKind;
  onInfo?: (message: string) => void;
}

/** Which restorer network a `.pth` holds, from its tensor names: GFPGAN (v1.3 / v1.4 layout) or CodeFormer (anything else). */
export async function checkpointNetwork(checkpoint: string): Promise<'gfpgan' | 'codeformer'> {
  return (await isGfpganCheckpoint(checkpoint)) ? 'gfpgan' : 'codeformer';
}

/**
 * Path of the ONNX graph built from a restorer `.pth` checkpoint — CodeFormer (any kind) or GFPGAN
 * (GFPGANv1Clean: v1.3 / v1.4), recognised from the tensor names — building and caching it (keyed by the
 * checkpoint's sha256) on first use. GFPGAN graphs are float32 only. Errors: E_MODEL_MISSING, E_CHECKPOINT.
 */
export async function onnxForCheckpoint(checkpoint: string, options: CheckpointModelOptions): Promise<string> {
  const root = options.cacheDir ?? path.join(os.homedir(), '.cache', 'facerestore');
  const onBuild = (target: string) => options.onInfo?.(`building the ONNX graph of ${checkpoint} into ${target} (once per checkpoint)`);
  if ((await checkpointNetwork(checkpoint)) === 'gfpgan') return loadOrBuildGfpganCached(checkpoint, path.join(root, 'models'), onBuild);
  return loadOrBuildCached(checkpoint, {
    cacheDir: path.join(root, 'models'),
    fp16: options.fp16,
    kind: options.kind,
    onBuild: ({ target }) => onBuild(target),
  });
}
