/**
 * Which faces of a frame are restored (`--faces`, `--min-face`, `--reference`). Faces not chosen are
 * neither cropped nor restored: their pixels stay the input's. On video the choice is made per track, so it
 * holds still: a chosen track stays chosen while it is in the frame and passes the size rule, and a track's
 * likeness to the reference is measured when it appears (and re-measured now and then while it does not match).
 */
import type { Face, VideoFrame } from '../types.ts';
import { cosineSimilarity, embeddingCrop, type FaceEmbedder } from './faceEmbedder.ts';

/** Which detected faces are restored. `N` (a number): the N largest. */
export type FaceSelection = 'all' | 'largest' | 'center' | number;

/** A reference face: its embedding and the model that made it. */
export interface ReferenceFace {
  embedder: FaceEmbedder;
  vector: Float32Array;
  /** Faces whose cosine similarity to `vector` is at least this are restored. */
  threshold: number;
}

export interface FaceChoiceOptions {
  faces?: FaceSelection;
  /** Faces whose box's longer side is under this many pixels are left alone. */
  minFace?: number;
  reference?: ReferenceFace;
  /**
   * Track ids are stable across frames (a tracker runs): choose by track. Default true. Without it every
   * frame is chosen on its own.
   */
  byTrack?: boolean;
}

/** Default cosine-similarity threshold of `--reference` (ArcFace-style embeddings: same person ≳ 0.4). */
export const DEFAULT_REFERENCE_THRESHOLD = 0.4;
/** A track that does not match the reference is measured again after this many of its frames. */
const RECHECK_FRAMES = 15;

/** The faces to restore, by `selection`, from those given (already filtered by size). */
export function selectFaces(faces: readonly Face[], selection: FaceSelection, width: number, height: number): Set<Face> {
  const area = (f: Face) => f.box.width * f.box.height;
  if (selection === 'all') return new Set(faces);
  if (selection === 'center') {
    const d = (f: Face) => Math.hypot(f.box.x + f.box.width / 2 - width / 2, f.box.y + f.box.height / 2 - height / 2);
    const best = [...faces].sort((a, b) => d(a) - d(b))[0];
    return new Set(best ? [best] : []);
  }
  const n = selection === 'largest' ? 1 : selection;
  return new Set([...faces].sort((a, b) => area(b) - area(a)).slice(0, n));
}

/** What the chooser decided for one frame. */
export interface FaceChoiceResult {
  /** Faces that pass `--min-face`. */
  sized: Face[];
  /** Faces to restore. */
  chosen: Set<Face>;
  /** Cosine similarity to the reference per face measured (or remembered for its track), when a reference is set. */
  similarity: Map<Face, number>;
}

/** Per-run face choice (state: the tracks chosen and their likeness to the reference). */
export class FaceChooser {
  readonly options: Readonly<FaceChoiceOptions>;
  /** Tracks chosen by `faces` on the previous frame. */
  #chosenTracks = new Set<number>();
  /** Per track: best similarity to the reference so far, and frames since it was measured. */
  #likeness = new Map<number, { similarity: number; age: number }>();

  constructor(options: FaceChoiceOptions = {}) {
    this.options = options;
  }

  /** True when every face is restored (nothing to choose). */
  get choosesAll(): boolean {
    const o = this.options;
    return (o.faces ?? 'all') === 'all' && !(o.minFace && o.minFace > 0) && !o.reference;
  }

  /** Chooses among one frame's faces. Frames must come in order. */
  async choose(frame: VideoFrame, faces: readonly Face[]): Promise<FaceChoiceResult> {
    const o = this.options;
    const byTrack = o.byTrack ?? true;
    const min = o.minFace ?? 0;
    const sized = faces.filter((f) => Math.max(f.box.width, f.box.height) >= min);
    const similarity = new Map<Face, number>();
    let candidates = sized;
    if (o.reference) {
      const ref = o.reference;
      const measure = sized.filter((f) => {
        const known = byTrack ? this.#likeness.get(f.trackId) : undefined;
        if (!known) return true;
        known.age++;
        return known.similarity < ref.threshold && known.age >= RECHECK_FRAMES;
      });
      const vectors = await ref.embedder.embed(measure.map((f) => embeddingCrop(frame, f.points)));
      measure.forEach((f, i) => {
        const s = cosineSimilarity(vectors[i]!, ref.vector);
        const known = this.#likeness.get(f.trackId);
        if (byTrack) this.#likeness.set(f.trackId, { similarity: Math.max(s, known?.similarity ?? -Infinity), age: 0 });
        similarity.set(f, byTrack ? Math.max(s, known?.similarity ?? -Infinity) : s);
      });
      for (const f of sized) if (!similarity.has(f)) similarity.set(f, this.#likeness.get(f.trackId)!.similarity);
      candidates = sized.filter((f) => similarity.get(f)! >= ref.threshold);
    }
    const selection = o.faces ?? 'all';
    let chosen: Set<Face>;
    if (selection === 'all' || !byTrack) chosen = selectFaces(candidates, selection, frame.width, frame.height);
    else {
      // Keep the tracks chosen before while they are here; fill the free places by the rule.
      const want = selection === 'center' || selection === 'largest' ? 1 : selection;
      const kept = candidates.filter((f) => this.#chosenTracks.has(f.trackId)).slice(0, want);
      const rest = candidates.filter((f) => !kept.includes(f));
      const extra = want > kept.length ? [...selectFaces(rest, selection === 'center' ? 'center' : want - kept.length, frame.width, frame.height)] : [];
      chosen = new Set([...kept, ...extra.slice(0, want - kept.length)]);
    }
    if (byTrack) this.#chosenTracks = new Set([...chosen].map((f) => f.trackId));
    return { sized, chosen, similarity };
  }
}
