import type { FaceDetector } from '../detect/detector.ts';
import { iou, weightedNms } from '../detect/nms.ts';
import type { Box, FaceDetection, FivePoints, VideoFrame } from '../types.ts';
import { cropFrame } from './regionDetect.ts';

/** Options for TiledDetector. */
export interface TiledDetectorOptions {
  /**
   * Side, in frame pixels, of the smallest tiles. A face is found when it is about 1/12 to 1/2 of what the
   * detector sees: tiles of 160 px shown to BlazeFace-256 (×1.6) reach faces of about 14 px. Default 160.
   */
  smallestTile?: number;
  /** Each level's tiles are this many times larger than the previous level's. Default 2.5 (see levels()). */
  levelRatio?: number;
  /** Overlap between neighbouring tiles of a level, as a fraction of the tile side, in [0, 0.75]. Default 0.3. */
  overlap?: number;
  /** IoU above which detections from different tiles and levels merge (score-weighted). Default 0.3. */
  iouThreshold?: number;
  /** Detections whose box's longer side is under this many frame pixels are dropped. Default 12. */
  minFace?: number;
  /**
   * A tile's detections larger than this fraction of the tile's side are dropped (the next level sees such a
   * face whole, at a size BlazeFace knows better): on real photos, most boxes a small tile finds at 0.45–0.7 of
   * its side are parts of a face larger than the tile (an eye and a brow, a cheek). Default 0.45.
   */
  maxFaceFraction?: number;
  /** Minimum score of a detection from a tile (the whole-frame pass keeps the detector's own threshold). Default 0.6. */
  tileScoreThreshold?: number;
  /**
   * Second look: each face found by one tile view only (not by the whole-frame pass, not by two tiles) is cropped
   * again with `verifyContext` × its size around it and kept only when the detector finds it there too (0 = no
   * second look). On the shared stills and face-api's six
   * photos this removed 17 of 18 false faces (ears, a watch, a shirt's print) and no true one. Default 4.
   */
  verifyContext?: number;
  /**
   * Weak candidates: tile detections scored from this up to `tileScoreThreshold` (the detector is asked for them
   * with DetectOptions.weakScoreThreshold) where no face was found otherwise. Each is kept only when a second
   * look at every one of `weakVerifyContexts` × its size around it finds a face there at `weakVerifyScore` or
   * more; the face the first look found replaces the candidate (it saw the face larger). Small faces at the
   * detector's limit score 0.4–0.6 in a 160 px tile: on 12 fresh crowds of 40 faces of 20–22 px this took
   * recall from 92.9 to 94.0 % and on 10 crowds of 20–120 px from 97.1 to 98.0 %, with no false face on the
   * shared stills, face-api's photos or face-free pictures (docs/detectors.md). One second look (context 4)
   * let false faces through on the stills (a collar, a background print). 0 = no weak candidates. Default 0.4.
   */
  weakScoreThreshold?: number;
  /** Contexts of the weak candidates' second looks (× the candidate's size, each ≥ 1.5). Default [2.5, 4]. */
  weakVerifyContexts?: number[];
  /** Least score, in [0, 1], of the face each of a weak candidate's second looks must find. Default 0.6. */
  weakVerifyScore?: number;
  /** Least side, frame pixels, of a weak candidate and of the faces its second looks find. Default 16. */
  weakMinFace?: number;
}

/**
 * A face that two or more tile views found (neighbouring tiles' overlap, or two levels) needs no second look:
 * on the real stills no false face had that support, and skipping their second look cut the CPU of a crowd of
 * 40 small faces by a third (856 → 564 ms per 640 × 480 picture).
 */
const SUPPORT = 2;
/** One square (or, at a frame smaller than the tile, frame-sized) window of the frame, whole pixels. */
export interface Tile {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The tiles of every level for a W × H frame, smallest first, whole frame last. Why a ratio of 2.5 with an
 * overlap of 0.3: a face of side f lies whole inside some tile of side T when f ≤ overlap·T (0.3 T); the next
 * level (2.5 T) reaches faces down to ~2.5 T/12.8 ≈ 0.2 T, so every size between is seen whole at one level at
 * least. Tiles of a level are spread evenly with at least the requested overlap and stay inside the frame.
 */
export function tileLevels(W: number, H: number, o: Required<Pick<TiledDetectorOptions, 'smallestTile' | 'levelRatio' | 'overlap'>>): Tile[][] {
  const levels: Tile[][] = [];
  for (let T = o.smallestTile; T < Math.max(W, H); T *= o.levelRatio) {
    const side = Math.round(T);
    const tw = Math.min(side, W);
    const th = Math.min(side, H);
    const starts = (full: number, t: number): number[] => {
      if (t >= full) return [0];
      const n = Math.ceil((full - t) / (t * (1 - o.overlap))) + 1;
      return Array.from({ length: n }, (_, i) => Math.round((i * (full - t)) / (n - 1)));
    };
    const tiles: Tile[] = [];
    for (const y of starts(H, th)) for (const x of starts(W, tw)) tiles.push({ x, y, width: tw, height: th });
    // A level whose single tile is the whole frame is the whole-frame pass below.
    if (tiles.length > 1) levels.push(tiles);
  }
  levels.push([{ x: 0, y: 0, width: W, height: H }]);
  return levels;
}

/**
 * Whether a detection made inside `tile` reaches one of the tile's inner edges (an edge that is not the
 * frame's): such a face was cut by the tile, and its box and points are a guess. The overlap puts the same
 * face whole in a neighbouring tile or a larger level, so these are dropped rather than merged (merging a
 * half-face box with the whole one is where duplicates came from). `slack` (fraction of the box) lets a box
 * that only grazes the edge through the detector's own margin stay.
 */
export function cutByTile(box: Box, tile: Tile, W: number, H: number, slack = 0.05): boolean {
  const sx = box.width * slack;
  const sy = box.height * slack;
  return (
    (tile.x > 0 && box.x < tile.x - sx) ||
    (tile.y > 0 && box.y < tile.y - sy) ||
    (tile.x + tile.width < W && box.x + box.width > tile.x + tile.width + sx) ||
    (tile.y + tile.height < H && box.y + box.height > tile.y + tile.height + sy)
  );
}

/**
 * Drops each detection that lies mostly (≥ `inside` of its area) within a larger one: faces do not nest, so a
 * small box inside a large face's box is a part of that face found as a face by a small tile (measured on the
 * shared stills: an eye region inside a 274 px face). Sorted by descending score, as given.
 */
export function dropNested(dets: readonly FaceDetection[], inside = 0.5): FaceDetection[] {
  const bySize = [...dets].sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  const dropped = new Set<FaceDetection>();
  for (let i = 0; i < bySize.length; i++) {
    const big = bySize[i]!;
    if (dropped.has(big)) continue;
    for (let j = i + 1; j < bySize.length; j++) {
      const small = bySize[j]!;
      if (!dropped.has(small) && intersection(big.box, small.box) >= inside * small.box.width * small.box.height) dropped.add(small);
    }
  }
  return dets.filter((d) => !dropped.has(d));
}

function intersection(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/**
 * Faces in crowds and at distance with a detector made for a few large faces (BlazeFace sees its input at
 * 256 px, so a 20 px face in a 1280 px photo is 4 px to it): the frame is cut into overlapping tiles at a few
 * scales (see tileLevels), each tile runs through the wrapped detector (upscaled where the tile is smaller
 * than the detector's input), and the detections are brought to frame pixels and merged by weighted NMS,
 * plus the whole frame once for faces larger than the largest tiles. About 25 detector runs for a 640 × 480
 * photo and 100 for 1280 × 720: for photos and occasional re-seeding, not for every video frame.
 * Owns the wrapped detector (close() closes it) unless `owns` is false.
 */
export class TiledDetector implements FaceDetector {
  readonly name: string;
  readonly inner: FaceDetector;
  readonly #owns: boolean;
  readonly #o: Required<TiledDetectorOptions>;
  #closed = false;

  constructor(inner: FaceDetector, options: TiledDetectorOptions = {}, owns = true) {
    const o = {
      smallestTile: options.smallestTile ?? 160,
      levelRatio: options.levelRatio ?? 2.5,
      overlap: options.overlap ?? 0.3,
      iouThreshold: options.iouThreshold ?? 0.3,
      minFace: options.minFace ?? 12,
      maxFaceFraction: options.maxFaceFraction ?? 0.45,
      tileScoreThreshold: options.tileScoreThreshold ?? 0.6,
      verifyContext: options.verifyContext ?? 4,
      weakScoreThreshold: options.weakScoreThreshold ?? 0.4,
      weakVerifyContexts: options.weakVerifyContexts ?? [2.5, 4],
      weakVerifyScore: options.weakVerifyScore ?? 0.6,
      weakMinFace: options.weakMinFace ?? 16,
    };
    if (!(Number.isFinite(o.smallestTile) && o.smallestTile >= 16)) throw new TypeError(`Expected smallestTile ≥ 16 px but received ${o.smallestTile}`);
    if (!(o.levelRatio >= 1.25 && o.levelRatio <= 8)) throw new TypeError(`Expected levelRatio in [1.25, 8] but received ${o.levelRatio}`);
    if (!(o.overlap >= 0 && o.overlap <= 0.75)) throw new TypeError(`Expected overlap in [0, 0.75] but received ${o.overlap}`);
    if (!(o.iouThreshold > 0 && o.iouThreshold < 1)) throw new TypeError(`Expected iouThreshold in (0, 1) but received ${o.iouThreshold}`);
    if (!(o.maxFaceFraction > 0 && o.maxFaceFraction <= 1)) throw new TypeError(`Expected maxFaceFraction in (0, 1] but received ${o.maxFaceFraction}`);
    if (!(o.tileScoreThreshold >= 0 && o.tileScoreThreshold <= 1)) throw new TypeError(`Expected tileScoreThreshold in [0, 1] but received ${o.tileScoreThreshold}`);
    if (!(o.verifyContext === 0 || o.verifyContext >= 1.5)) throw new TypeError(`Expected verifyContext 0 or ≥ 1.5 but received ${o.verifyContext}`);
    if (!(o.weakScoreThreshold >= 0 && o.weakScoreThreshold < 1)) throw new TypeError(`Expected weakScoreThreshold in [0, 1) but received ${o.weakScoreThreshold}`);
    if (!(o.weakVerifyContexts.length > 0 && o.weakVerifyContexts.every((c) => c >= 1.5))) throw new TypeError(`Expected weakVerifyContexts of values ≥ 1.5 but received ${JSON.stringify(o.weakVerifyContexts)}`);
    if (!(o.weakVerifyScore >= 0 && o.weakVerifyScore <= 1)) throw new TypeError(`Expected weakVerifyScore in [0, 1] but received ${o.weakVerifyScore}`);
    if (!(o.weakMinFace >= 0)) throw new TypeError(`Expected weakMinFace ≥ 0 px but received ${o.weakMinFace}`);
    if (!(o.minFace >= 0)) throw new TypeError(`Expected minFace ≥ 0 px but received ${o.minFace}`);
    this.inner = inner;
    this.#owns = owns;
    this.#o = o;
    this.name = `${inner.name}-tiled`;
  }

  /** The tiles this detector runs on a W × H frame (smallest level first, whole frame last). */
  tilesFor(W: number, H: number): Tile[][] {
    return tileLevels(W, H, this.#o);
  }

  async detect(frame: VideoFrame): Promise<FaceDetection[]> {
    const { width: W, height: H } = frame;
    const found: FaceDetection[] = [];
    /** The whole-frame pass's faces: what the detector finds alone needs no second look. */
    const wholeFound: FaceDetection[] = [];
    /** Tile detections under the tile score threshold (see weakScoreThreshold). */
    const weak: FaceDetection[] = [];
    const weakOption = this.#o.weakScoreThreshold > 0 ? { weakScoreThreshold: this.#o.weakScoreThreshold } : {};
    for (const level of this.tilesFor(W, H)) {
      for (const tile of level) {
        const whole = tile.width === W && tile.height === H;
        // cropFrame starts at even coordinates (chroma stays the frame's own): the crop may begin a pixel early.
        const crop = whole ? { ...frame, x: 0, y: 0 } : cropFrame(frame, tile.x, tile.y, tile.width, tile.height);
        const seen: Tile = { x: crop.x, y: crop.y, width: crop.width, height: crop.height };
        for (const d of await this.inner.detect(crop, whole ? {} : weakOption)) {
          const box = { x: d.box.x + crop.x, y: d.box.y + crop.y, width: d.box.width, height: d.box.height };
          const side = Math.max(box.width, box.height);
          if (side < this.#o.minFace) continue;
          if (!whole && (d.score < this.#o.weakScoreThreshold || side > this.#o.maxFaceFraction * Math.max(seen.width, seen.height) || cutByTile(box, seen, W, H))) continue;
          const det = { score: d.score, box, points: d.points.map(([px, py]) => [px + crop.x, py + crop.y] as const) as unknown as FivePoints };
          if (!whole && d.score < this.#o.tileScoreThreshold) {
            if (this.#o.weakScoreThreshold > 0) weak.push(det);
            continue;
          }
          found.push(det);
          if (whole) wholeFound.push(det);
        }
      }
    }
    const merged = dropNested(weightedNms(found, this.#o.iouThreshold));
    const kept: FaceDetection[] = [];
    if (!this.#o.verifyContext) kept.push(...merged);
    else {
      const support = (d: FaceDetection) => found.filter((f) => iou(f.box, d.box) > this.#o.iouThreshold).length;
      for (const d of merged) if (wholeFound.some((w) => iou(w.box, d.box) > this.#o.iouThreshold) || support(d) >= SUPPORT || (await this.#secondLook(frame, d, this.#o.verifyContext))) kept.push(d);
    }
    if (weak.length === 0) return kept;
    // Weak candidates where no face was found (nor refused by its second look: `merged` holds those too), each
    // looked at again; a candidate looked at stands for any later one at its place.
    const taken = [...merged];
    const out = [...kept];
    for (const w of dropNested(weightedNms(weak, this.#o.iouThreshold))) {
      if (Math.max(w.box.width, w.box.height) < this.#o.weakMinFace) continue;
      if (taken.some((t) => iou(t.box, w.box) > this.#o.iouThreshold || intersection(t.box, w.box) >= 0.5 * w.box.width * w.box.height)) continue;
      let face: FaceDetection | undefined;
      for (const c of this.#o.weakVerifyContexts) {
        const seen = await this.#secondLookFace(frame, w, c);
        if (!seen || seen.score < this.#o.weakVerifyScore || Math.max(seen.box.width, seen.box.height) < this.#o.weakMinFace) {
          face = undefined;
          break;
        }
        face ??= seen;
      }
      taken.push(w);
      if (face && !out.some((t) => iou(t.box, face.box) > this.#o.iouThreshold)) out.push(face);
    }
    return out.sort((a, b) => b.score - a.score);
  }

  async #secondLook(frame: VideoFrame, d: FaceDetection, context: number): Promise<boolean> {
    return (await this.#secondLookFace(frame, d, context)) !== undefined;
  }

  /** The face the detector finds (at its own threshold) in a window of `context` × d's size around d, in frame pixels. */
  async #secondLookFace(frame: VideoFrame, d: FaceDetection, context: number): Promise<FaceDetection | undefined> {
    const { width: W, height: H } = frame;
    const side = Math.min(W, H, Math.max(2, Math.round(Math.max(d.box.width, d.box.height) * context)));
    const cx = d.box.x + d.box.width / 2;
    const cy = d.box.y + d.box.height / 2;
    const x = Math.max(0, Math.min(W - side, Math.round(cx - side / 2)));
    const y = Math.max(0, Math.min(H - side, Math.round(cy - side / 2)));
    const crop = cropFrame(frame, x, y, side, side);
    const s = Math.max(d.box.width, d.box.height);
    const e = (await this.inner.detect(crop)).find((e) => {
      const es = Math.max(e.box.width, e.box.height);
      return Math.hypot(e.box.x + crop.x + e.box.width / 2 - cx, e.box.y + crop.y + e.box.height / 2 - cy) <= 0.4 * s && es > s / 2 && es < s * 2;
    });
    return e && { score: e.score, box: { x: e.box.x + crop.x, y: e.box.y + crop.y, width: e.box.width, height: e.box.height }, points: e.points.map(([px, py]) => [px + crop.x, py + crop.y] as const) as unknown as FivePoints };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owns) await this.inner.close();
  }
}

/** Options for ReseedingDetector. */
export interface ReseedingOptions extends TiledDetectorOptions {
  /** A tiled pass every this many frames (and on the first frame of a video). Default 30. */
  every?: number;
  /** Window around each face carried between frames, × its size. Default 3. */
  context?: number;
}

/**
 * For video: one pass over the whole frame every frame (as `blazeface`), a tiled pass every `every` frames, and,
 * in between, the faces the last frames found that the single pass misses looked for again in a window around
 * where they were (one detector run per such face): small and crowd faces found by a tiled pass stay found
 * without tiling every frame. State is per video: a frame index that does not follow the last one starts afresh
 * (so one instance serves one video at a time). Measured on short_hamilton_clip.mp4 (every frame, YuNet's faces on
 * every 5th as the reference): 58 → 67 of 140 faces found, detector CPU 12.6 → 28.6 ms per frame (load 12 on 2
 * cores); on retalk_1.mp4 (one large face) no change in faces, 13.8 → 41.4 ms (the tiled pass on 700 × 700).
 * Owns the wrapped detector unless `owns` is false.
 */
export class ReseedingDetector implements FaceDetector {
  readonly name: string;
  readonly #inner: FaceDetector;
  readonly #tiled: TiledDetector;
  readonly #every: number;
  readonly #context: number;
  readonly #owns: boolean;
  #last: FaceDetection[] = [];
  #lastIndex = -2;
  #lastTiled = -Infinity;
  #closed = false;

  constructor(inner: FaceDetector, options: ReseedingOptions = {}, owns = true) {
    this.#every = options.every ?? 30;
    this.#context = options.context ?? 3;
    if (!(Number.isInteger(this.#every) && this.#every >= 1)) throw new TypeError(`Expected every ≥ 1 (frames) but received ${this.#every}`);
    if (!(this.#context >= 1.5)) throw new TypeError(`Expected context ≥ 1.5 but received ${this.#context}`);
    this.#inner = inner;
    this.#tiled = new TiledDetector(inner, options, false);
    this.#owns = owns;
    this.name = `${inner.name}-reseeded`;
  }

  async detect(frame: VideoFrame): Promise<FaceDetection[]> {
    // The same frame again is a part of it (the tracker's re-detection inside track regions): one plain pass.
    if (frame.index === this.#lastIndex) return this.#inner.detect(frame);
    const fresh = frame.index !== this.#lastIndex + 1;
    this.#lastIndex = frame.index;
    if (fresh || frame.index - this.#lastTiled >= this.#every) {
      this.#lastTiled = frame.index;
      this.#last = await this.#tiled.detect(frame);
      return this.#last;
    }
    const found = await this.#inner.detect(frame);
    const { width: W, height: H } = frame;
    for (const prev of this.#last) {
      if (found.some((d) => iou(d.box, prev.box) > 0.1)) continue;
      const side = Math.min(W, H, Math.max(2, Math.round(Math.max(prev.box.width, prev.box.height) * this.#context)));
      const x = Math.max(0, Math.min(W - side, Math.round(prev.box.x + prev.box.width / 2 - side / 2)));
      const y = Math.max(0, Math.min(H - side, Math.round(prev.box.y + prev.box.height / 2 - side / 2)));
      const crop = cropFrame(frame, x, y, side, side);
      for (const d of await this.#inner.detect(crop)) {
        const box = { x: d.box.x + crop.x, y: d.box.y + crop.y, width: d.box.width, height: d.box.height };
        if (iou(box, prev.box) > 0.1 && !found.some((f) => iou(f.box, box) > 0.3)) {
          found.push({ score: d.score, box, points: d.points.map(([px, py]) => [px + crop.x, py + crop.y] as const) as unknown as FivePoints });
        }
      }
    }
    found.sort((a, b) => b.score - a.score);
    this.#last = found;
    return found;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#tiled.close();
    if (this.#owns) await this.#inner.close();
  }
}
