/**
 * Still images through the same component set as video: one frame, detect → align → restore → paste.
 * Reads and writes with sharp (EXIF orientation applied, converted to 8-bit sRGB, alpha kept aside and
 * reattached); the output format follows the output's extension; the write is atomic. Pixels outside the
 * rectangles paste-back changed are the input's own (no YUV round trip there).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { FaceRestoreError } from '../../errors.ts';
import type { Components } from '../../engine/components.ts';
import { emptyStageTimes, FaceProcessor } from '../../engine/faceProcessor.ts';
import { FaceChooser, type FaceSelection, type ReferenceFace } from '../../engine/faceChoice.ts';
import { CROP_SIZE, type Box, type Face, type VideoFrame } from '../../types.ts';
import { writeFileAtomic } from '../../util/atomicFile.ts';
import { i420FromRgbSamples, i420Layout, lumaOf, yuvCoefficients, type YuvColour } from '../../util/yuv.ts';

/** Extensions read as still images. */
export const IMAGE_INPUT_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif'];
/** Extensions written as still images, and the sharp format of each. */
const OUTPUT_FORMATS: Readonly<Record<string, 'jpeg' | 'png' | 'webp' | 'tiff'>> = { '.jpg': 'jpeg', '.jpeg': 'jpeg', '.png': 'png', '.webp': 'webp', '.tif': 'tiff', '.tiff': 'tiff' };
export const IMAGE_OUTPUT_EXTENSIONS: readonly string[] = Object.keys(OUTPUT_FORMATS);

/** True when the file name is one read as a still image. */
export function isImagePath(file: string): boolean {
  return IMAGE_INPUT_EXTENSIONS.includes(path.extname(file).toLowerCase());
}
/** True when the output name asks for a still image. */
export function isImageOutputPath(file: string): boolean {
  return path.extname(file).toLowerCase() in OUTPUT_FORMATS;
}

export { selectFaces, type FaceSelection } from '../../engine/faceChoice.ts';

export interface ImageRunOptions {
  faces?: FaceSelection;
  /** Faces whose box is narrower and shorter than this many pixels are left alone. */
  minFace?: number;
  /** Restore only faces that look like this reference face (cosine similarity of embeddings). */
  reference?: ReferenceFace;
  /** Draw each detected face's box, track id and w into the output (selected faces green, others red). */
  drawBoxes?: boolean;
  /** The input is a 512×512 aligned face crop: no detection, the whole crop is restored. */
  hasAligned?: boolean;
  /** JPEG/WebP quality (default 95). */
  quality?: number;
  onInfo?: (message: string) => void;
}

export interface ImageSummary {
  input: string;
  output: string;
  width: number;
  height: number;
  /** Faces detected (after --min-face). */
  detected: number;
  /** Faces restored. */
  restored: number;
  /** The restored faces' boxes (input pixels). */
  boxes: Box[];
  /** Every face detected (after --min-face): its box, whether it was restored, its similarity to the reference. */
  faces: Array<{ box: Box; restored: boolean; similarity?: number }>;
  /** What was converted on reading (e.g. `CMYK → sRGB`, `16-bit → 8-bit`); empty when nothing. */
  converted: string[];
  alpha: boolean;
  seconds: number;
}

/** Full-range BT.601, as JPEG's own YCbCr: the whole 0–255 RGB range survives the trip. */
const IMAGE_COLOUR: YuvColour = Object.freeze({ matrix: 'bt601', range: 'full' });

/** A decoded image: 8-bit sRGB, orientation applied, alpha separated. */
export interface DecodedImage {
  width: number;
  height: number;
  rgb: Uint8Array;
  alpha: Uint8Array | undefined;
  converted: string[];
}

/** Reads an image into 8-bit sRGB pixels; refuses (E_DECODE) empty, corrupt and animated files. */
export async function readImage(file: string): Promise<DecodedImage> {
  const info = await stat(file).catch(() => undefined);
  if (!info) throw new FaceRestoreError('E_INPUT_MISSING', `input ${file} does not exist`);
  if (info.isDirectory()) throw new FaceRestoreError('E_USAGE', `input ${file} is a folder`);
  if (info.size === 0) throw new FaceRestoreError('E_DECODE', `cannot read image ${file}: the file is empty (0 bytes)`);
  const fail = (e: unknown): never => {
    throw new FaceRestoreError('E_DECODE', `cannot read image ${file}: ${(e as Error).message.split('\n')[0]} (corrupt or truncated?)`, { cause: e });
  };
  const meta = await sharp(file).metadata().catch(fail);
  if ((meta.pages ?? 1) > 1) {
    throw new FaceRestoreError('E_DECODE', `cannot restore ${file}: an animated ${meta.format?.toUpperCase()} (${meta.pages} frames) is refused; convert it to a video (ffmpeg -i ${path.basename(file)} out.mp4) and restore that`);
  }
  const converted: string[] = [];
  const space = meta.space ?? 'srgb';
  if (space === 'cmyk') converted.push('CMYK → sRGB');
  else if (space === 'b-w' || space === 'grey16') converted.push('grayscale → sRGB');
  else if (space !== 'srgb' && space !== 'rgb16') converted.push(`${space} → sRGB`);
  if (meta.depth && meta.depth !== 'uchar') converted.push(`${meta.depth === 'ushort' ? '16' : meta.depth}-bit → 8-bit`);
  // An embedded profile other than sRGB (Display P3, Adobe RGB…) is applied on the way to sRGB.
  if (meta.icc && space !== 'cmyk' && !meta.icc.includes('sRGB') && !meta.icc.includes(Buffer.from('sRGB', 'utf16le').swap16())) converted.push('ICC profile → sRGB');
  const hasAlpha = !!meta.hasAlpha;
  // failOn 'error': a truncated JPEG is an error, not a grey bottom half.
  const { data, info: out } = await sharp(file, { failOn: 'error' }).rotate().toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }).catch(fail);
  const n = out.width * out.height;
  const rgb = new Uint8Array(n * 3);
  const alpha = hasAlpha ? new Uint8Array(n) : undefined;
  for (let p = 0; p < n; p++) {
    rgb[3 * p] = data[4 * p]!;
    rgb[3 * p + 1] = data[4 * p + 1]!;
    rgb[3 * p + 2] = data[4 * p + 2]!;
    if (alpha) alpha[p] = data[4 * p + 3]!;
  }
  return { width: out.width, height: out.height, rgb, alpha, converted };
}

/** Full-range I420 of packed RGB (chroma from each 2×2 block's mean). */
export function i420FromRgbImage(rgb: Uint8Array, width: number, height: number): VideoFrame {
  return { index: 0, pts: 0, width, height, data: i420FromRgbSamples(rgb, width, height, IMAGE_COLOUR), colour: IMAGE_COLOUR };
}

/**
 * Writes back into `rgb` the pixels of `after` (I420) inside `boxes` whose samples differ from `before`:
 * only what paste-back changed leaves YUV; everything else keeps the input's exact RGB.
 */
function applyChanged(rgb: Uint8Array, before: Uint8Array, after: VideoFrame, boxes: readonly Box[]): void {
  const { width, height, data } = after;
  const L = i420Layout(width, height);
  const k = yuvCoefficients(IMAGE_COLOUR);
  const byte = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));
  for (const b of boxes) {
    const x0 = Math.max(0, Math.floor(b.x)), y0 = Math.max(0, Math.floor(b.y));
    const x1 = Math.min(width, Math.ceil(b.x + b.width)), y1 = Math.min(height, Math.ceil(b.y + b.height));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const p = y * width + x;
        const ci = (y >> 1) * L.cw + (x >> 1);
        if (data[p] === before[p] && data[L.uOff + ci] === before[L.uOff + ci] && data[L.vOff + ci] === before[L.vOff + ci]) continue;
        const l = k.yk * (data[p]! - k.y0);
        const u = data[L.uOff + ci]! - 128;
        const v = data[L.vOff + ci]! - 128;
        rgb[3 * p] = byte(l + k.rv * v);
        rgb[3 * p + 1] = byte(l - k.gu * u - k.gv * v);
        rgb[3 * p + 2] = byte(l + k.bu * u);
      }
    }
  }
}

/** SVG boxes with `#id w=…` labels, for `--draw-boxes`. */
function boxesSvg(width: number, height: number, faces: readonly Face[], chosen: Set<Face>): Buffer {
  const line = Math.max(2, Math.round(Math.min(width, height) / 300));
  const font = Math.max(12, line * 7);
  const parts = faces.map((f) => {
    const c = chosen.has(f) ? '#00ff00' : '#ff0000';
    const { x, y, width: w, height: h } = f.box;
    const label = `#${f.trackId} w=${f.fidelity.toFixed(2)}`;
    return `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${c}" stroke-width="${line}"/>` +
      `<text x="${x}" y="${Math.max(font, y - line)}" font-family="sans-serif" font-size="${font}" fill="${c}">${label}</text>`;
  });
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`);
}

/** Encodes packed RGB (+ alpha) as the format `output`'s extension names and writes it atomically. */
async function writeImage(output: string, img: { width: number; height: number; rgb: Uint8Array; alpha?: Uint8Array }, overlay: Buffer | undefined, quality: number): Promise<void> {
  const format = OUTPUT_FORMATS[path.extname(output).toLowerCase()];
  if (!format) throw new FaceRestoreError('E_USAGE', `cannot write a '${path.extname(output)}' image (${output}); image output extensions: ${IMAGE_OUTPUT_EXTENSIONS.join(', ')}`);
  const n = img.width * img.height;
  const channels = img.alpha ? 4 : 3;
  let raw: Uint8Array = img.rgb;
  if (img.alpha) {
    raw = new Uint8Array(n * 4);
    for (let p = 0; p < n; p++) {
      raw[4 * p] = img.rgb[3 * p]!;
      raw[4 * p + 1] = img.rgb[3 * p + 1]!;
      raw[4 * p + 2] = img.rgb[3 * p + 2]!;
      raw[4 * p + 3] = img.alpha[p]!;
    }
  }
  let s = sharp(raw, { raw: { width: img.width, height: img.height, channels } });
  if (overlay) {
    const drawn = await s.composite([{ input: overlay }]).raw().toBuffer({ resolveWithObject: true });
    s = sharp(drawn.data, { raw: { width: img.width, height: img.height, channels: drawn.info.channels } });
    if (!img.alpha) s = s.removeAlpha();
  }
  if (format === 'jpeg' && img.alpha) s = s.flatten({ background: '#ffffff' });
  const opts = format === 'jpeg' ? { quality, chromaSubsampling: '4:4:4' } : format === 'webp' ? { quality } : {};
  const buf = await s.toFormat(format, opts).toBuffer();
  await writeFileAtomic(output, buf);
}

/** Restores the faces of one image file into `output` (format by extension). */
export async function runImage(components: Components, input: string, output: string, o: ImageRunOptions = {}): Promise<ImageSummary> {
  const t0 = performance.now();
  const img = await readImage(input);
  if (img.converted.length > 0) o.onInfo?.(`${input}: converted ${img.converted.join(', ')}`);
  const restorer = components.restorer;
  let detected = 0;
  let restoredCount = 0;
  let boxes: Box[] = [];
  let faces: ImageSummary['faces'] = [];
  let overlay: Buffer | undefined;
  if (o.hasAligned) {
    if (img.width !== CROP_SIZE || img.height !== CROP_SIZE) {
      throw new FaceRestoreError('E_USAGE', `--has-aligned takes ${CROP_SIZE}×${CROP_SIZE} aligned face crops; ${input} is ${img.width}×${img.height}`);
    }
    detected = 1;
    if (restorer) {
      const [out] = await restorer.restore([img.rgb], [components.options.fidelity]);
      img.rgb.set(out!);
      restoredCount = 1;
      boxes = [{ x: 0, y: 0, width: CROP_SIZE, height: CROP_SIZE }];
    }
    faces = [{ box: { x: 0, y: 0, width: CROP_SIZE, height: CROP_SIZE }, restored: restoredCount === 1 }];
  } else {
    const frame = i420FromRgbImage(img.rgb, img.width, img.height);
    const before = frame.data.slice();
    const chooser = new FaceChooser({ faces: o.faces ?? 'all', minFace: o.minFace ?? 0, reference: o.reference, byTrack: false });
    const processor = new FaceProcessor(components.photoDetector, components.newTracker({ shotCut: false }), restorer, emptyStageTimes(), false, undefined, {
      chooser,
      faceRegion: components.faceRegion && restorer === components.restorer,
    });
    const prepared = await processor.prepare(frame);
    const sized = prepared.choice?.sized ?? prepared.faces;
    const chosen = prepared.choice?.chosen ?? new Set(prepared.faces);
    detected = sized.length;
    const [composed] = await processor.compose([prepared]);
    restoredCount = composed!.changed.length;
    boxes = [...chosen].map((f) => f.box);
    faces = sized.map((f) => {
      const s = prepared.choice?.similarity.get(f);
      return { box: f.box, restored: chosen.has(f) && !!restorer, ...(s !== undefined ? { similarity: Math.round(s * 1e4) / 1e4 } : {}) };
    });
    applyChanged(img.rgb, before, composed!.frame, composed!.changed);
    if (o.drawBoxes) overlay = boxesSvg(img.width, img.height, prepared.faces, chosen);
  }
  await writeImage(output, img, overlay, o.quality ?? 95);
  return { input, output, width: img.width, height: img.height, detected, restored: restoredCount, boxes, faces, converted: img.converted, alpha: !!img.alpha, seconds: (performance.now() - t0) / 1000 };
}
