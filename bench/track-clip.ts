/**
 * Tracks the faces of a real clip and summarises the result per shot: detect (YuNet) → MultiFaceTracker →
 * TrackExporter. Prints JSON: cuts, tracks per shot, fragmentation (a track ending where another starts
 * shortly after in the same shot: a face that changed id), timing.
 *
 * Run: node bench/track-clip.ts [clip.mp4] [--json tracks.json] [--detect-every k] [--regions]
 * Decodes with ffmpeg to rgb24 through a pipe (every coded frame, no rate conversion).
 */
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FivePoints, VideoFrame } from '../src/types.ts';
import type { FaceDetector } from '../src/detect/detector.ts';
import { faceScale, iou } from '../src/geometry.ts';
import { MultiFaceTracker, type MultiFaceTrackerOptions } from '../src/track/multiTracker.ts';
import { detectInRegions } from '../src/engine/regionDetect.ts';
import { TrackExporter, type TracksDocument } from '../src/track/trackExport.ts';
import { YuNetDetector } from '../src/detect/yunet.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const HAMILTON = path.resolve(here, '../../shared/footage/short_hamilton_clip.mp4');
export const YUNET = path.resolve(here, '../../shared/models/face_detection_yunet_2026may.onnx');

/** Width, height and frame rate of a clip's first video stream (ffprobe). */
export async function probeVideo(file: string): Promise<{ width: number; height: number; fps: number }> {
  const { stdout } = await promisify(execFile)('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,avg_frame_rate', '-of', 'json', file]);
  const s = (JSON.parse(stdout) as { streams: { width: number; height: number; avg_frame_rate: string }[] }).streams[0]!;
  const [n, d] = s.avg_frame_rate.split('/').map(Number);
  return { width: s.width, height: s.height, fps: d ? n! / d : n! };
}

/** Decodes every coded frame of a clip as I420 (ffmpeg, `-fps_mode passthrough`; colour taken as the BT.601 default). */
export async function* decodeFrames(file: string, limit = Infinity): AsyncGenerator<VideoFrame> {
  const { width, height, fps } = await probeVideo(file);
  const size = width * height + 2 * ((width + 1) >> 1) * ((height + 1) >> 1);
  const args = ['-v', 'error', '-nostdin', '-i', file, '-an', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1'];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= size && index < limit) {
        const data = new Uint8Array(size);
        data.set(pending.subarray(0, size));
        pending = pending.subarray(size);
        yield { index, pts: index / fps, width, height, data };
        index++;
      }
      if (index >= limit) break;
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    const code = await exited;
    if (index < limit && code !== 0 && code !== null) throw new Error(`ffmpeg ${args.join(' ')} exited with ${code}: ${stderr.trim()}`);
  }
}

/** A track that ended and another that started at the same place soon after, in the same shot. */
export interface Fragment {
  ended: number;
  started: number;
  shot: number;
  gapFrames: number;
  iou: number;
}

/** Summary of one shot. */
export interface ShotSummary {
  index: number;
  firstFrame: number;
  lastFrame: number;
  /** Confirmed tracks (at least `minFrames` output frames) in the shot. */
  tracks: { trackId: number; firstFrame: number; lastFrame: number; frames: number; detectedFrames: number }[];
  /** Tracks shorter than that (flicker of the detector on hard faces). */
  shortTracks: number;
}

/**
 * Finds id changes: track B starting within `maxGap` frames after track A ended, in the same shot, where B's
 * first box overlaps A's last box (IoU ≥ minIou) — the same face under a new id.
 */
export function findFragments(doc: TracksDocument, maxGap = 30, minIou = 0.3): Fragment[] {
  const first = new Map<number, { frame: number; box: TracksDocument['frames'][number]['faces'][number]['box'] }>();
  const last = new Map<number, { frame: number; box: TracksDocument['frames'][number]['faces'][number]['box'] }>();
  for (const f of doc.frames) {
    for (const face of f.faces) {
      if (!first.has(face.trackId)) first.set(face.trackId, { frame: f.index, box: face.box });
      last.set(face.trackId, { frame: f.index, box: face.box });
    }
  }
  const shotOf = new Map(doc.tracks.map((t) => [t.trackId, t.shot]));
  const out: Fragment[] = [];
  for (const [a, end] of last) {
    for (const [b, start] of first) {
      if (a === b || shotOf.get(a) !== shotOf.get(b)) continue;
      const gap = start.frame - end.frame;
      if (gap <= 0 || gap > maxGap) continue;
      const o = iou(end.box, start.box);
      if (o >= minIou) out.push({ ended: a, started: b, shot: shotOf.get(a)!, gapFrames: gap, iou: Math.round(o * 100) / 100 });
    }
  }
  return out;
}

/**
 * Jitter proxy on real video (no truth): per triple of consecutive detected frames of a track, the RMS
 * over the ten coordinates of the second difference (acceleration, px/frame²) divided by the face scale
 * (inter-ocular distance, at least a quarter of the box side); the median over all triples, for the raw
 * and the smoothed points. Real motion contributes to both; detector noise mostly to the raw.
 */
export function accelerationMedian(doc: TracksDocument): { raw: number; smoothed: number; samples: number } {
  type Face = TracksDocument['frames'][number]['faces'][number];
  const byTrack = new Map<number, { index: number; face: Face }[]>();
  for (const f of doc.frames) {
    for (const face of f.faces) {
      if (!face.detected) continue;
      let seq = byTrack.get(face.trackId);
      if (seq === undefined) byTrack.set(face.trackId, (seq = []));
      seq.push({ index: f.index, face });
    }
  }
  const raw: number[] = [];
  const smooth: number[] = [];
  const acc = (a: FivePoints, b: FivePoints, c: FivePoints, scale: number): number => {
    let s = 0;
    for (let i = 0; i < 5; i++) for (let j = 0; j < 2; j++) s += (a[i]![j]! - 2 * b[i]![j]! + c[i]![j]!) ** 2;
    return Math.sqrt(s / 10) / scale;
  };
  for (const seq of byTrack.values()) {
    for (let k = 2; k < seq.length; k++) {
      const [a, b, c] = [seq[k - 2]!, seq[k - 1]!, seq[k]!];
      if (c.index - a.index !== 2) continue;
      const scale = faceScale({ box: b.face.box, score: b.face.score, points: b.face.points });
      raw.push(acc(a.face.rawPoints, b.face.rawPoints, c.face.rawPoints, scale));
      smooth.push(acc(a.face.points, b.face.points, c.face.points, scale));
    }
  }
  const median = (v: number[]): number => (v.length === 0 ? NaN : [...v].sort((x, y) => x - y)[v.length >> 1]!);
  return { raw: median(raw), smoothed: median(smooth), samples: raw.length };
}

/** Groups the document's tracks by shot. */
export function summariseShots(doc: TracksDocument, minFrames = 5): ShotSummary[] {
  return doc.shots.map((s) => {
    const all = doc.tracks.filter((t) => t.shot === s.index);
    const tracks = all.filter((t) => t.frames >= minFrames).map(({ trackId, firstFrame, lastFrame, frames, detectedFrames }) => ({ trackId, firstFrame, lastFrame, frames, detectedFrames }));
    return { index: s.index, firstFrame: s.firstFrame, lastFrame: s.lastFrame, tracks, shortTracks: all.length - tracks.length };
  });
}

/** Options of trackClip. */
export interface TrackClipOptions {
  file: string;
  detector: FaceDetector;
  tracker?: MultiFaceTrackerOptions;
  /** Stream the document to this file as well. */
  jsonPath?: string;
  /** Stop after this many frames. */
  limit?: number;
  /** On frames without full detection, re-detect inside the tracks' predicted regions. */
  regions?: boolean;
}

/** Detects and tracks every frame of a clip; returns the tracks document (frames included) and timings. */
export async function trackClip(
  options: TrackClipOptions,
): Promise<{ doc: TracksDocument; cuts: number[]; detectMs: number; trackMs: number; detections: number; regionDetections: number; regionMs: number }> {
  const { width, height, fps } = await probeVideo(options.file);
  const tracker = new MultiFaceTracker(options.tracker);
  const exporter = new TrackExporter({ width, height, fps, source: path.basename(options.file) });
  const file = options.jsonPath === undefined ? undefined : TrackExporter.toFile(options.jsonPath, { width, height, fps, source: path.basename(options.file) });
  const cuts: number[] = [];
  let detectMs = 0;
  let trackMs = 0;
  let detections = 0;
  let regionDetections = 0;
  let regionMs = 0;
  for await (const frame of decodeFrames(options.file, options.limit)) {
    let dets;
    let partial = false;
    const t0 = performance.now();
    if (tracker.needsDetection(frame)) {
      dets = await options.detector.detect(frame);
      detections++;
    } else if (options.regions) {
      const regions = tracker.regions(frame.width, frame.height);
      if (regions.length > 0) {
        dets = await detectInRegions(options.detector, frame, regions);
        partial = true;
        regionDetections++;
        regionMs += performance.now() - t0;
      }
    }
    const t1 = performance.now();
    const faces = tracker.update(frame, dets, { partial });
    const t2 = performance.now();
    detectMs += t1 - t0;
    trackMs += t2 - t1;
    const info = tracker.lastFrame!;
    if (info.cut) cuts.push(frame.index);
    exporter.add(frame, faces, info);
    file?.add(frame, faces, info);
  }
  file?.finish();
  return { doc: exporter.finish(), cuts, detectMs: detectMs - regionMs, trackMs, detections, regionDetections, regionMs };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const clip = args.find((a, i) => !a.startsWith('--') && (i === 0 || !args[i - 1]!.startsWith('--'))) ?? HAMILTON;
  const detector = await YuNetDetector.create({ modelPath: opt('--model') ?? YUNET, intraOpThreads: 1 });
  try {
    const r = await trackClip({
      file: clip,
      detector,
      jsonPath: opt('--json'),
      regions: args.includes('--regions'),
      tracker: { detectEvery: Number(opt('--detect-every') ?? 1) },
    });
    const frames = r.doc.frames.length;
    process.stdout.write(
      `${JSON.stringify(
        {
          clip,
          frames,
          cuts: r.cuts,
          shots: summariseShots(r.doc),
          fragments: findFragments(r.doc),
          accelerationMedian: accelerationMedian(r.doc),
          detections: r.detections,
          detectMsPerDetection: Math.round((r.detectMs / Math.max(1, r.detections)) * 10) / 10,
          regionDetections: r.regionDetections,
          regionMsPerFrame: Math.round((r.regionMs / Math.max(1, r.regionDetections)) * 10) / 10,
          trackMsPerFrame: Math.round((r.trackMs / frames) * 100) / 100,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await detector.close();
  }
}
