import os from 'node:os';
import path from 'node:path';
import { FaceRestoreError } from '../errors.ts';
import type { OrtSessionChoice } from '../runtime/ort.ts';
import { TiledUpsampler, type TiledUpsamplerOptions } from './tiledUpsampler.ts';

/** Options for {@link createUpsampler}. */
export interface UpsamplerChoice extends OrtSessionChoice, Pick<TiledUpsamplerOptions, 'tile' | 'pad' | 'batch'> {
  /** A Real-ESRGAN RRDBNet `.pth` (built to ONNX and cached) or an ONNX graph x [N,3,H,W] → [N,3,sH,sW]. */
  model: string;
  /** The scale asked for (`--upscale`); the model's must equal it. */
  scale: number;
  /** Cache root; graphs go to `<cacheDir>/models`. Default `~/.cache/facerestore`. */
  cacheDir?: string;
}

/** Loads the background upsampler. Errors: E_MODEL_MISSING, E_CHECKPOINT, E_MODEL_CONTRACT, E_CONFIG (scale mismatch). */
export async function createUpsampler(c: UpsamplerChoice): Promise<TiledUpsampler> {
  let model = c.model;
  if (/\.(pth|pt|ckpt)$/i.test(model)) {
    const { loadOrBuildRrdbCached } = await import('../models/realesrgan/index.ts');
    const root = c.cacheDir ?? path.join(os.homedir(), '.cache', 'facerestore');
    model = await loadOrBuildRrdbCached(model, path.join(root, 'models'), (target) => c.onInfo?.(`building the ONNX graph of ${c.model} into ${target} (once per checkpoint)`));
  }
  const up = await TiledUpsampler.create(model, c);
  if (up.scale !== c.scale) {
    await up.close();
    throw new FaceRestoreError('E_CONFIG', `--upscale ${c.scale} asks for ×${c.scale}, but the upsampler ${c.model} is ×${up.scale}`);
  }
  return up;
}
