/**
 * Synthetic crowds with known truth: real faces cut from real photographs (the shared stills and face-api's
 * demo images), pasted at chosen positions and sizes onto a face-free cluttered background. Each pasted face's
 * truth box is its source box (found by YuNet on the source photograph, where its faces are large and clear)
 * carried through the crop, the resize and the paste, so recall can be counted exactly.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import sharp from 'sharp';
import { YuNetDetector } from '../../src/detect/yunet.ts';
import { seededRandom } from '../../src/models/seededRandom.ts';
import type { Box, FaceDetection, VideoFrame } from '../../src/types.ts';
import { i420FromRgb, stillFrame } from './media.ts';
import { shared } from './paths.ts';

/** One face cut from a source photograph: RGB pixels of a square window around it and the face box inside it. */
export interface FaceSource {
  name: string;
  rgb: Uint8Array;
  side: number;
  /** Face box in the window's pixels. */
  face: Box;
}

/** A generated picture and where its faces are. */
export interface Crowd {
  frame: VideoFrame;
  rgb: Uint8Array;
  width: number;
  height: number;
  /** Truth boxes (frame pixels). */
  faces: Box[];
}

/** The source photographs: the shared stills and face-api's six demo images (groups and portraits). */
export function sourcePhotos(): string[] {
  const req = createRequire(import.meta.url);
  const demo = path.join(path.dirname(req.resolve('@vladmandic/face-api/package.json')), 'demo');
  return [
    ...['obama.jpg', 'two_people.jpg', 'obama_and_biden.jpg'].map((f) => shared(`stills/${f}`)),
    ...[1, 2, 3, 4, 5, 6].map((i) => path.join(demo, `sample${i}.jpg`)),
  ];
}

/**
 * Cuts every clear face (YuNet score ≥ 0.8, box ≥ 40 px) out of the source photographs, with a window of
 * `context` × the face's longer side around its centre (hair, neck, some background: what a face in a crowd
 * has around it). Windows clipped by the photo's border are skipped.
 */
export async function loadFaceSources(context = 1.6): Promise<FaceSource[]> {
  const yunet = await YuNetDetector.create({ modelPath: shared('models/face_detection_yunet_2026may.onnx'), maxSide: 960 });
  const out: FaceSource[] = [];
  try {
    for (const file of sourcePhotos()) {
      const frame = await stillFrame(file);
      const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const faces = (await yunet.detect(frame)).filter((d) => d.score >= 0.8 && Math.max(d.box.width, d.box.height) >= 40);
      faces.forEach((d, k) => {
        const s = Math.round(Math.max(d.box.width, d.box.height) * context);
        const x0 = Math.round(d.box.x + d.box.width / 2 - s / 2);
        const y0 = Math.round(d.box.y + d.box.height / 2 - s / 2);
        if (x0 < 0 || y0 < 0 || x0 + s > info.width || y0 + s > info.height) return;
        const rgb = new Uint8Array(s * s * 3);
        for (let r = 0; r < s; r++) rgb.set(data.subarray(((y0 + r) * info.width + x0) * 3, ((y0 + r) * info.width + x0 + s) * 3), r * s * 3);
        out.push({ name: `${path.basename(file)}#${k}`, rgb, side: s, face: { x: d.box.x - x0, y: d.box.y - y0, width: d.box.width, height: d.box.height } });
      });
    }
  } finally {
    await yunet.close();
  }
  return out;
}

/**
 * A face-free background: a smooth two-colour gradient, soft noise and random coloured rectangles and discs
 * (edges and blobs a detector might mistake for faces, none of which is one).
 */
export function background(width: number, height: number, seed: number): Uint8Array {
  const rand = seededRandom(seed);
  const c0 = [rand() * 255, rand() * 255, rand() * 255];
  const c1 = [rand() * 255, rand() * 255, rand() * 255];
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x + y) / (width + height);
      const n = (rand() - 0.5) * 16;
      for (let c = 0; c < 3; c++) rgb[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, c0[c]! * (1 - t) + c1[c]! * t + n));
    }
  }
  const shapes = Math.round((width * height) / 6000);
  for (let i = 0; i < shapes; i++) {
    const col = [rand() * 255, rand() * 255, rand() * 255];
    const w = 8 + rand() * 90;
    const h = 8 + rand() * 90;
    const cx = rand() * width;
    const cy = rand() * height;
    const disc = rand() < 0.5;
    for (let y = Math.max(0, Math.floor(cy - h / 2)); y < Math.min(height, cy + h / 2); y++) {
      for (let x = Math.max(0, Math.floor(cx - w / 2)); x < Math.min(width, cx + w / 2); x++) {
        if (disc && ((x - cx) / (w / 2)) ** 2 + ((y - cy) / (h / 2)) ** 2 > 1) continue;
        for (let c = 0; c < 3; c++) rgb[(y * width + x) * 3 + c] = col[c]!;
      }
    }
  }
  return rgb;
}

/** Options for makeCrowd. */
export interface CrowdOptions {
  width: number;
  height: number;
  /** Faces to place (fewer when they do not fit). */
  count: number;
  /** Face size range, longer side of the truth box, px (log-uniform). Default 20–120. */
  minFace?: number;
  maxFace?: number;
  seed: number;
}

/**
 * Pastes `count` faces (cycling through the sources from a seeded offset) at random places where their windows
 * do not overlap, each resized so its face box's longer side is a log-uniform size in [minFace, maxFace].
 */
export async function makeCrowd(sources: readonly FaceSource[], o: CrowdOptions): Promise<Crowd> {
  const rand = seededRandom(o.seed);
  const { width, height } = o;
  const rgb = background(width, height, o.seed + 1);
  const minFace = o.minFace ?? 20;
  const maxFace = o.maxFace ?? 120;
  const placed: Box[] = [];
  const faces: Box[] = [];
  const start = Math.floor(rand() * sources.length);
  for (let i = 0; i < o.count; i++) {
    const src = sources[(start + i) % sources.length]!;
    const size = minFace * (maxFace / minFace) ** rand();
    const k = size / Math.max(src.face.width, src.face.height);
    const side = Math.max(4, Math.round(src.side * k));
    let spot: Box | undefined;
    for (let attempt = 0; attempt < 200 && !spot; attempt++) {
      const cand = { x: Math.floor(rand() * (width - side)), y: Math.floor(rand() * (height - side)), width: side, height: side };
      if (cand.x >= 0 && cand.y >= 0 && !placed.some((p) => overlaps(p, cand, 2))) spot = cand;
    }
    if (!spot) continue;
    const scaled = await sharp(src.rgb, { raw: { width: src.side, height: src.side, channels: 3 } }).resize(side, side, { kernel: 'lanczos3' }).raw().toBuffer();
    for (let r = 0; r < side; r++) rgb.set(scaled.subarray(r * side * 3, (r + 1) * side * 3), ((spot.y + r) * width + spot.x) * 3);
    const f = side / src.side;
    placed.push(spot);
    faces.push({ x: spot.x + src.face.x * f, y: spot.y + src.face.y * f, width: src.face.width * f, height: src.face.height * f });
  }
  return { frame: i420FromRgb(rgb, width, height), rgb, width, height, faces };
}

function overlaps(a: Box, b: Box, gap: number): boolean {
  return a.x < b.x + b.width + gap && b.x < a.x + a.width + gap && a.y < b.y + b.height + gap && b.y < a.y + a.height + gap;
}

/**
 * Whether a detection is a given truth face: its centre within 40 % of the truth's longer side of the truth's
 * centre and its size within a factor 2. Centre and size rather than IoU, because detectors draw their boxes
 * differently (BlazeFace's square box against YuNet's taller one).
 */
export function isFace(truth: Box, d: Box): boolean {
  const s = Math.max(truth.width, truth.height);
  const ds = Math.max(d.width, d.height);
  const dx = d.x + d.width / 2 - (truth.x + truth.width / 2);
  const dy = d.y + d.height / 2 - (truth.y + truth.height / 2);
  return Math.hypot(dx, dy) <= 0.4 * s && ds >= s / 2 && ds <= s * 2;
}

/** One-to-one matching of detections to truth (greedy by score): the truth faces missed and the detections that are none. */
export function matchFaces(truth: readonly Box[], found: readonly FaceDetection[]): { hit: number; missed: Box[]; extra: FaceDetection[] } {
  const free = new Set(truth.map((_, i) => i));
  const extra: FaceDetection[] = [];
  for (const d of [...found].sort((a, b) => b.score - a.score)) {
    const i = [...free].find((t) => isFace(truth[t]!, d.box));
    if (i === undefined) extra.push(d);
    else free.delete(i);
  }
  return { hit: truth.length - free.size, missed: [...free].map((i) => truth[i]!), extra };
}
