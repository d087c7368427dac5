// Longer than ~300 lines on purpose: the tracks format's schema, writer and reader stay together so a
// change to the format is made (and versioned) in one place.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { z } from 'zod';
import { FaceRestoreError } from '../errors.ts';
import type { Box, Face, FivePoints, VideoFrame } from '../types.ts';

/** Format name and version written into every tracks document. */
export const TRACKS_FORMAT = 'facerestore-tracks';
export const TRACKS_VERSION = 1;

const point = z.tuple([z.number(), z.number()]).describe('[x, y] in frame pixels (origin top-left corner of the top-left pixel)');
const fivePoints = z
  .tuple([point, point, point, point, point])
  .describe('Eye on the image left, eye on the image right, nose tip, mouth corner on the image left, mouth corner on the image right');
const box = z
  .object({ x: z.number(), y: z.number(), width: z.number().nonnegative(), height: z.number().nonnegative() })
  .strict()
  .describe('Axis-aligned rectangle in frame pixels');
const trackId = z.number().int().nonnegative();
const frameIndex = z.number().int().nonnegative();

/** One face on one frame. */
export const trackedFaceSchema = z
  .object({
    trackId: trackId.describe('Track identity, stable within a shot'),
    state: z.enum(['tentative', 'confirmed']).describe('tentative until the track has enough detections'),
    detected: z.boolean().describe('True when a detection was matched on this frame; false when the position is predicted'),
    box: box.describe('Filtered face box'),
    rawBox: box.nullable().describe("The matched detection's box, null when predicted"),
    score: z.number().min(0).max(1).describe("Detector confidence (the last matched detection's when predicted)"),
    points: fivePoints.describe('Smoothed five points (what alignment uses)'),
    rawPoints: fivePoints.describe("The detector's five points (predicted ones when not detected)"),
    fidelity: z.number().min(0).max(1).describe('CodeFormer fidelity weight w for this face on this frame'),
    identityConfidence: z.number().min(0).max(1).optional().describe('With re-identification: how sure the id is (1 − d/τ when re-identified, 1 − τ/d for a new identity); absent before the first descriptor'),
    provisionalId: trackId.optional().describe('With re-identification: the id this face carried while its identity was undecided, before it was found to be trackId (the restored frame may have used that id\'s w)'),
  })
  .strict();

/** One frame. */
export const trackFrameSchema = z
  .object({
    index: frameIndex.describe('0-based frame index in presentation order'),
    pts: z.number().describe('Presentation time, seconds'),
    cut: z.boolean().describe('True when this frame starts a new shot (all tracks ended before it)'),
    detection: z.enum(['full', 'partial', 'none']).describe('Whether the detector ran on the whole frame, on track regions only, or not at all'),
    faces: z.array(trackedFaceSchema),
  })
  .strict();

/** A shot: frames between two cuts. */
export const shotSchema = z
  .object({ index: z.number().int().nonnegative(), firstFrame: frameIndex, lastFrame: frameIndex })
  .strict();

/** Summary of one track. */
export const trackSummarySchema = z
  .object({
    trackId,
    shot: z.number().int().nonnegative().describe('Shot index (tracks never span a cut)'),
    firstFrame: frameIndex,
    lastFrame: frameIndex,
    frames: z.number().int().nonnegative().describe('Frames on which the face was output'),
    detectedFrames: z.number().int().nonnegative().describe('Frames on which it was detected'),
    shots: z.array(z.number().int().nonnegative()).optional().describe('With re-identification, when the face was found again after a cut: every shot it appears in (`shot` is the first)'),
  })
  .strict();

/** A re-identification: a new track found to be an earlier one, and given its id. */
export const reidentificationSchema = z
  .object({
    provisionalId: trackId.describe('The id the new track carried until then (not used again)'),
    trackId: trackId.describe('The earlier track\'s id it took'),
    frame: frameIndex.describe('Frame on which it was decided'),
    distance: z.number().nonnegative().describe('Distance between the two mean face descriptors'),
    relabelledFrames: z.number().int().nonnegative().describe('Earlier frames whose provisionalId faces were given trackId in this document (the others, beyond the held window, kept provisionalId as trackId)'),
  })
  .strict();

/** The whole tracks document (`facerestore track --json`). */
export const tracksDocumentSchema = z
  .object({
    format: z.literal(TRACKS_FORMAT),
    version: z.literal(TRACKS_VERSION),
    video: z
      .object({
        source: z.string().optional(),
        width: z.number().int().positive(),
        height: z.number().int().positive(),
        fps: z.number().positive().optional(),
      })
      .strict(),
    frames: z.array(trackFrameSchema).describe('Every frame, in order'),
    shots: z.array(shotSchema),
    tracks: z.array(trackSummarySchema),
    reidentifications: z.array(reidentificationSchema).optional().describe('With re-identification on: every provisional id replaced by an earlier track\'s id, in order'),
  })
  .strict()
  .describe('Face tracks of a video: per frame, every face with its track id, box, raw and smoothed five points, score and fidelity w');

export type TrackedFaceRecord = z.infer<typeof trackedFaceSchema>;
export type ReidentificationRecord = z.infer<typeof reidentificationSchema>;
export type TrackFrameRecord = z.infer<typeof trackFrameSchema>;
export type TracksDocument = z.infer<typeof tracksDocumentSchema>;

/** The JSON Schema (draft 2020-12) of a tracks document; docs/tracks-schema.json is this, pretty-printed. */
export function tracksJsonSchema(): Record<string, unknown> {
  return {
    title: 'facerestore tracks',
    ...(z.toJSONSchema(tracksDocumentSchema, { target: 'draft-2020-12' }) as Record<string, unknown>),
  };
}

/** Validates a parsed tracks document. Errors: E_CONFIG with the first problems and their paths. */
export function parseTracksDocument(value: unknown, source = 'tracks document'): TracksDocument {
  const r = tracksDocumentSchema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new FaceRestoreError('E_CONFIG', `${source} is not a valid ${TRACKS_FORMAT} v${TRACKS_VERSION} document: ${issues.join('; ')}`, {
    details: { issues: r.error.issues.slice(0, 20) },
  });
}

/** Reads and validates a tracks JSON file. Errors: E_INPUT_MISSING, E_CONFIG. */
export function readTracksFile(file: string): TracksDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new FaceRestoreError('E_INPUT_MISSING', `cannot read tracks file ${file}`, { cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new FaceRestoreError('E_CONFIG', `tracks file ${file} is not JSON: ${(cause as Error).message}`, { cause });
  }
  return parseTracksDocument(value, `tracks file ${file}`);
}

/** Video facts for the document header. */
export interface TrackExporterOptions {
  width: number;
  height: number;
  fps?: number;
  source?: string;
  /** Decimal places kept for coordinates and weights. Default 3. */
  precision?: number;
  /**
   * Streaming: receives the JSON text piece by piece as frames are added (frames are then not kept in
   * memory). Without it, frames are kept and `finish` returns the whole document.
   */
  write?: (chunk: string) => void;
  /** Streaming: called once after the last chunk (e.g. to close the file). */
  end?: () => void;
  /**
   * Re-identification: frames on which a face's id is still provisional (FrameTrackInfo.identity.pending) are
   * held back (not yet written) for at most this many frames, so that when the face is re-identified its
   * held frames are written with the final id (`provisionalId` keeps the old one). Frames are written in
   * order, so frames behind a held one wait too. Memory: this many frame records (no pixels). Default 300.
   */
  holdFrames?: number;
}

/** Per-frame facts from the tracker (MultiFaceTracker.lastFrame has this shape). */
export interface FrameTrackInfo {
  cut?: boolean;
  detection?: 'full' | 'partial' | 'none';
  /** Re-identification (MultiFaceTracker): ids still provisional after this frame and the renames decided on it. */
  identity?: { pending: readonly number[]; reidentified: ReadonlyArray<{ from: number; to: number; distance: number }> };
}

/** Default of TrackExporterOptions.holdFrames (10 s at 30 fps; the clip's performer was provisional for 37). */
export const TRACKS_HOLD_DEFAULT = 300;

type FaceLike = Face & { state?: 'tentative' | 'confirmed'; detected?: boolean; rawBox?: Box | undefined; identityConfidence?: number; provisionalId?: number };

/**
 * Builds a tracks document frame by frame: `add` each frame's faces (in frame order), then `finish`.
 * Streaming (with `write`) keeps memory flat for long videos; `toFile` streams into a file.
 */
export class TrackExporter {
  readonly #o: TrackExporterOptions;
  readonly #scale: number;
  readonly #frames: TrackFrameRecord[] = [];
  readonly #shots: { index: number; firstFrame: number; lastFrame: number }[] = [];
  readonly #tracks = new Map<number, { trackId: number; shot: number; firstFrame: number; lastFrame: number; frames: number; detectedFrames: number; shots?: number[] }>();
  readonly #hold: number;
  /** Frames not yet written (re-identification may still rename their faces), oldest first, with their shot. */
  readonly #held: Array<{ record: TrackFrameRecord; shot: number }> = [];
  /** Set once a frame brings identity facts: the document then lists the re-identifications. */
  #reids: ReidentificationRecord[] | undefined;
  #lastIndex = -1;
  #count = 0;
  #finished: TracksDocument | undefined;
  #done = false;

  constructor(options: TrackExporterOptions) {
    for (const k of ['width', 'height'] as const) {
      if (!(Number.isInteger(options[k]) && options[k] > 0)) throw new TypeError(`Expected a positive integer for ${k} but received ${options[k]}`);
    }
    if (options.fps !== undefined && !(options.fps > 0)) throw new TypeError(`Expected a positive number for fps but received ${options.fps}`);
    const precision = options.precision ?? 3;
    if (!(Number.isInteger(precision) && precision >= 0 && precision <= 10)) throw new TypeError(`Expected an integer in [0, 10] for precision but received ${precision}`);
    const hold = options.holdFrames ?? TRACKS_HOLD_DEFAULT;
    if (!(Number.isInteger(hold) && hold >= 0)) throw new TypeError(`Expected an integer ≥ 0 for holdFrames but received ${hold}`);
    this.#hold = hold;
    this.#o = options;
    this.#scale = 10 ** precision;
    if (options.write) options.write(`{"format":${JSON.stringify(TRACKS_FORMAT)},"version":${TRACKS_VERSION},"video":${JSON.stringify(this.#video())},"frames":[\n`);
  }

  /** A streaming exporter writing into `file` (created or truncated); `finish` closes it. */
  static toFile(file: string, options: Omit<TrackExporterOptions, 'write' | 'end'>): TrackExporter {
    let fd: number;
    try {
      fd = openSync(file, 'w');
    } catch (cause) {
      throw new FaceRestoreError('E_OUTPUT', `cannot write tracks file ${file}`, { cause });
    }
    return new TrackExporter({ ...options, write: (chunk) => writeSync(fd, chunk), end: () => closeSync(fd) });
  }

  #video(): TracksDocument['video'] {
    const v: TracksDocument['video'] = { width: this.#o.width, height: this.#o.height };
    if (this.#o.fps !== undefined) v.fps = this.#o.fps;
    if (this.#o.source !== undefined) v.source = this.#o.source;
    return v;
  }

  /** Number of frames added (held ones included). */
  get frameCount(): number {
    return this.#count + this.#held.length;
  }

  /** Adds one frame's faces. Frames must come in increasing index order. */
  add(frame: Pick<VideoFrame, 'index' | 'pts'>, faces: readonly FaceLike[], info: FrameTrackInfo = {}): void {
    if (this.#done) throw new FaceRestoreError('E_CLOSED', 'TrackExporter.add after finish');
    if (!(Number.isInteger(frame.index) && frame.index > this.#lastIndex)) {
      throw new TypeError(`Expected frame indices in increasing order but received ${frame.index} after ${this.#lastIndex}`);
    }
    const cut = info.cut === true;
    if (this.#shots.length === 0 || cut) this.#shots.push({ index: this.#shots.length, firstFrame: frame.index, lastFrame: frame.index });
    const shot = this.#shots[this.#shots.length - 1]!;
    shot.lastFrame = frame.index;
    this.#lastIndex = frame.index;
    const record: TrackFrameRecord = {
      index: frame.index,
      pts: this.#round(frame.pts, 1e6),
      cut,
      detection: info.detection ?? 'full',
      faces: faces.map((f) => this.#face(f)),
    };
    const identity = info.identity;
    if (identity) {
      this.#reids ??= [];
      // Held frames take the final id (this frame's faces already carry it).
      for (const r of identity.reidentified) {
        let relabelled = 0;
        for (const h of this.#held) {
          let hit = false;
          for (const f of h.record.faces) if (f.trackId === r.from) (f.provisionalId = f.provisionalId ?? r.from, f.trackId = r.to, hit = true);
          if (hit) (h.record.faces.sort((a, b) => a.trackId - b.trackId), relabelled++);
        }
        this.#reids.push({ provisionalId: r.from, trackId: r.to, frame: frame.index, distance: this.#round(r.distance), relabelledFrames: relabelled });
      }
    }
    this.#held.push({ record, shot: shot.index });
    const pending = new Set(identity?.pending ?? []);
    while (this.#held.length > 0) {
      const h = this.#held[0]!;
      if (frame.index - h.record.index < this.#hold && h.record.faces.some((f) => pending.has(f.trackId))) break;
      this.#emit(this.#held.shift()!);
    }
  }

  /** Writes (or keeps) one frame and counts it into the track summaries. */
  #emit({ record, shot }: { record: TrackFrameRecord; shot: number }): void {
    for (const f of record.faces) {
      let t = this.#tracks.get(f.trackId);
      if (t === undefined) {
        t = { trackId: f.trackId, shot, firstFrame: record.index, lastFrame: record.index, frames: 0, detectedFrames: 0 };
        this.#tracks.set(f.trackId, t);
      }
      if (t.shot !== shot && !t.shots?.includes(shot)) t.shots = [...(t.shots ?? [t.shot]), shot];
      t.lastFrame = record.index;
      t.frames++;
      if (f.detected) t.detectedFrames++;
    }
    this.#count++;
    if (this.#o.write) this.#o.write(`${this.#count > 1 ? ',\n' : ''}${JSON.stringify(record)}`);
    else this.#frames.push(record);
  }

  /**
   * Ends the document. Streaming: writes the tail (shots and tracks) and returns the document without its
   * frames; otherwise returns the whole document. Idempotent.
   */
  finish(): TracksDocument {
    if (this.#finished) return this.#finished;
    this.#done = true;
    while (this.#held.length > 0) this.#emit(this.#held.shift()!);
    const shots = this.#shots.map((s) => ({ ...s }));
    const tracks = [...this.#tracks.values()].sort((a, b) => a.trackId - b.trackId).map((t) => ({ ...t }));
    const reids = this.#reids?.map((r) => ({ ...r }));
    const doc: TracksDocument = { format: TRACKS_FORMAT, version: TRACKS_VERSION, video: this.#video(), frames: this.#o.write ? [] : this.#frames, shots, tracks, ...(reids ? { reidentifications: reids } : {}) };
    if (this.#o.write) {
      this.#o.write(`\n],"shots":${JSON.stringify(shots)},"tracks":${JSON.stringify(tracks)}${reids ? `,"reidentifications":${JSON.stringify(reids)}` : ''}}\n`);
      this.#o.end?.();
    }
    this.#finished = doc;
    return doc;
  }

  #round(v: number, scale = this.#scale): number {
    return Math.round(v * scale) / scale;
  }

  #points(p: FivePoints): TrackedFaceRecord['points'] {
    const q = (i: number): [number, number] => [this.#round(p[i]![0]), this.#round(p[i]![1])];
    return [q(0), q(1), q(2), q(3), q(4)];
  }

  #box(b: Box): TrackedFaceRecord['box'] {
    return { x: this.#round(b.x), y: this.#round(b.y), width: this.#round(b.width), height: this.#round(b.height) };
  }

  #face(f: FaceLike): TrackedFaceRecord {
    const detected = f.detected ?? true;
    const rawBox = f.rawBox ?? (detected ? f.box : undefined);
    return {
      trackId: f.trackId,
      state: f.state ?? 'confirmed',
      detected,
      box: this.#box(f.box),
      rawBox: rawBox === undefined ? null : this.#box(rawBox),
      score: Math.min(1, Math.max(0, this.#round(f.score))),
      points: this.#points(f.points),
      rawPoints: this.#points(f.rawPoints),
      fidelity: Math.min(1, Math.max(0, this.#round(f.fidelity))),
      ...(f.identityConfidence === undefined ? {} : { identityConfidence: Math.min(1, Math.max(0, this.#round(f.identityConfidence))) }),
      ...(f.provisionalId === undefined ? {} : { provisionalId: f.provisionalId }),
    };
  }
}
