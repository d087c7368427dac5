import { resizeI420 } from '../compose/resize.ts';
import type { Affine, VideoFrame } from '../types.ts';

/**
 * What `--upscale` does to each frame before the restored faces are pasted: a learned upsampler
 * (restore/tiledUpsampler.ts, `--bg-upsampler`) or the plain bicubic resize.
 */
export interface FrameUpscaler {
  readonly name: string;
  /** Output side / input side (2 or 4). */
  readonly scale: number;
  upscale(frame: VideoFrame): Promise<VideoFrame>;
  /** Upscales RGB24 crops of side `size` by `scale` (a learned upsampler only; `--face-upsample`). */
  upscaleCrops?(crops: readonly Uint8Array[], size: number): Promise<Uint8Array[]>;
  close(): Promise<void>;
}

/** `--upscale` without an upsampler: bicubic (compose/resize.ts). */
export function plainUpscaler(scale: number): FrameUpscaler {
  return { name: `bicubic x${scale}`, scale, upscale: async (f) => resizeI420(f, scale), close: async () => undefined };
}

/**
 * The alignment of a face as seen from the frame upscaled by `scale` and a crop upscaled by the same
 * factor (`--face-upsample`): frame point P = s·p, crop point Q = s·q, so only the translation scales.
 */
export function alignmentAtScaleBoth(toCrop: Affine, scale: number): Affine {
  const [a, b, c, d, e, f] = toCrop;
  return [a, b, c * scale, d, e, f * scale];
}

/**
 * The alignment of a face found in the input frame, as seen from the frame upscaled by `scale`
 * (frame point P = s·p, crop point unchanged): the linear part divided by s, the translation kept.
 */
export function alignmentAtScale(toCrop: Affine, scale: number): Affine {
  const [a, b, c, d, e, f] = toCrop;
  return [a / scale, b / scale, c, d / scale, e / scale, f];
}
