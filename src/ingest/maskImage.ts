import { stat } from 'node:fs/promises';
import { FaceRestoreError } from '../errors.ts';
import { ChildRunner } from '../util/process.ts';
import { localInput } from '../util/localInput.ts';

/**
 * ffmpeg arguments that decode the first picture of an image file as `width` × `height` 8-bit gray on
 * stdout (nearest-neighbour scaling, so a mask drawn at another size keeps hard edges).
 */
export function maskImageArgs(file: string, width: number, height: number): string[] {
  return ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', localInput(file), '-frames:v', '1', '-vf', `scale=${width}:${height}:flags=neighbor,format=gray`, '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'];
}

/**
 * Reads an inpainting mask (PNG or any image ffmpeg reads; white = missing) in frame coordinates: one byte
 * per frame pixel, 1 where the image is brighter than mid-gray, else 0. An image of another size is scaled
 * to the frame. Errors: E_INPUT_MISSING (no file), E_CONFIG (not an image), E_FFMPEG_MISSING.
 */
export async function readMaskImage(file: string, width: number, height: number, ffmpegPath = 'ffmpeg'): Promise<Uint8Array> {
  if (!(await stat(file).then((s) => s.isFile(), () => false))) throw new FaceRestoreError('E_INPUT_MISSING', `inpaint mask ${file} does not exist`);
  const runner = await ChildRunner.start(ffmpegPath, maskImageArgs(file, width, height), { missingCode: 'E_FFMPEG_MISSING' });
  const chunks: Buffer[] = [];
  runner.child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  const exit = await runner.exited;
  const raw = Buffer.concat(chunks);
  if (exit.code !== 0 || raw.length !== width * height) {
    throw new FaceRestoreError('E_CONFIG', `inpaint mask ${file} cannot be read as an image: ${runner.stderrTail() || `${raw.length} bytes for ${width}×${height}`}`);
  }
  const mask = new Uint8Array(width * height);
  for (let i = 0; i < mask.length; i++) mask[i] = raw[i]! > 127 ? 1 : 0;
  return mask;
}
