import sharp from 'sharp';
import type { VideoFrame } from '../types.ts';

/** How a frame was fitted into a detector's input: frame = (input − pad) / scale. */
export interface Letterbox {
  scale: number;
  padX: number;
  padY: number;
}

/**
 * Resizes an RGB24 frame to fit inside `width` × `height` keeping its aspect ratio (bilinear), and pads
 * the rest with black: centred when `centre`, else right/bottom. The scale never exceeds `maxScale`. Returns the RGB24 pixels and the mapping.
 */
export async function letterboxRgb(
  frame: VideoFrame,
  width: number,
  height: number,
  centre: boolean,
  maxScale = Infinity,
): Promise<{ data: Buffer; box: Letterbox }> {
  const scale = Math.min(width / frame.width, height / frame.height, maxScale);
  const rw = Math.max(1, Math.min(width, Math.round(frame.width * scale)));
  const rh = Math.max(1, Math.min(height, Math.round(frame.height * scale)));
  const padX = centre ? Math.floor((width - rw) / 2) : 0;
  const padY = centre ? Math.floor((height - rh) / 2) : 0;
  let img = sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } });
  if (rw !== frame.width || rh !== frame.height) img = img.resize(rw, rh, { fit: 'fill', kernel: 'linear' });
  if (rw !== width || rh !== height) {
    img = img.extend({ left: padX, top: padY, right: width - rw - padX, bottom: height - rh - padY, background: { r: 0, g: 0, b: 0 } });
  }
  const data = await img.raw().toBuffer();
  // Scale actually used per axis may differ by rounding; take the horizontal one (differences are < 1 px).
  return { data, box: { scale: rw / frame.width, padX, padY } };
}
