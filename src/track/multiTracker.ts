// Longer than ~300 lines on purpose: a track's life cycle (tentative → confirmed → lost), the matching
// cost and the output rule are one state machine whose invariants (ids never reused, a lost track is
// never output, duplicates start no track) are easier to keep in one place than across files.
import type { Box, Face, FaceDetection, FivePoints, Point, VideoFrame } from '../types.ts';
import { assignMinCost } from './assignment.ts';
import { laplacianVarianceIn, TrackFidelity } from './fidelity.ts';
import { boxCentre, boxSide, faceScale, intersection, iou, meanPointDistance } from '../geometry.ts';
import { ConstantVelocityKalman } from './kalman.ts';
import { LandmarkSmoother, type LandmarkSmootherOptions } from './landmarkSmoother.ts';
import { ShotCutDetector, type ShotCutOptions } from './shotCut.ts';
import type { FaceTracker, FidelityPolicy, IdentityFrameSummary, Reidentification } from './tracker.ts';
import { Embedding, IdentityGallery, yawOf, identityConfidence, identityOptions, matchIdentities, type IdentityCandidate, type IdentityOptions } from './identity.ts';

/** Life-cycle state of a track. */
export type TrackState = 'tentative' | 'confirmed' | 'lost';

/** A tracked face: a Face plus what the tracker knows about it this frame. */
export interface TrackedFace extends Face {
  /** `tentative` until `minHits` detections; `confirmed` after. Lost tracks are not output. */
  state: 'tentative' | 'confirmed';
  /** True when a detection was matched to the track on this frame; false when its position is predicted. */
  detected: boolean;
  /** The matched detection's box (undefined when predicted). `box` is the filtered box. */
  rawBox: Box | undefined;
  /** With re-identification on: how sure the id is (see track/identity.ts identityConfidence); absent before the track's first descriptor. */
  identityConfidence?: number;
}

/**
 * Options of MultiFaceTracker. Distances are in units of face size (the box side √(w·h), or the
 * inter-ocular distance where stated), so the same options work at any resolution.
 */
export interface MultiFaceTrackerOptions {
  /** Chooses each face's w. Default a TrackFidelity with w 0.5 (fixed). */
  fidelity?: FidelityPolicy;
  /** Run the detector on every k-th frame; tracks are predicted in between. Default 1 (every frame). */
  detectEvery?: number;
  /** Matched detections needed to confirm a track. Default 2. */
  minHits?: number;
  /** Detection frames a tentative track may miss in a row before it ends (detectors flicker on hard faces). Default 5. */
  tentativeMisses?: number;
  /** Frames a confirmed track survives without a detection (it is not output meanwhile); re-found within them it keeps its id. Default 30. */
  maxAge?: number;
  /** A detection can match a track when their IoU reaches this … Default 0.1. */
  minIou?: number;
  /** … or when their centres are within this many box sides. Default 0.6 (grows by 10 % per frame a track is unseen, up to 2×). */
  maxCentreDistance?: number;
  /** Boxes whose sides differ by more than this factor never match. Default 1.8. */
  maxSizeRatio?: number;
  /** Weight of the landmark distance (mean point distance in inter-ocular distances) in the matching cost. Default 0.5. */
  landmarkWeight?: number;
  /** Landmark smoothing per track; `false` outputs the detector's points. */
  smoothing?: LandmarkSmootherOptions | false;
  /** Shot-cut detection; `false` disables it (tracks then survive cuts). */
  shotCut?: ShotCutOptions | false;
  /**
   * A tentative track is output when its detection score reaches this (a confident new face is restored
   * from its first frame; a doubtful one only once confirmed, so one-frame false positives do not flash).
   * 0 outputs every tentative track, a value above 1 none. Default 0.8.
   */
  tentativeScore?: number;
  /**
   * An unmatched detection whose box lies mostly (this fraction of its area) inside the box of a detection
   * matched on the same frame starts no track: it is a duplicate (a forehead or chin found as a second face). Default 0.6.
   */
  duplicateOverlap?: number;
  /** Velocity decay per frame while a track is unseen (prediction stops drifting). Default 0.8. */
  lostDamping?: number;
  /**
   * Frames of look-ahead for `revisedPoints` (file mode's fixed-lag smoothing): each track's smoother keeps
   * this many frames of filter state and ended tracks are kept as long. 0 (default): causal only.
   */
  lookAhead?: number;
  /**
   * Re-identification by appearance (off by default): a new track takes the id of an ended or lost track
   * whose face embedding is near (never of a track seen while it was). The caller computes the descriptors
   * `descriptorRequests()` asks for after each `update` and passes them to `identify`.
   */
  identity?: IdentityOptions | false;
}

/** Defaults of MultiFaceTrackerOptions (without the objects). */
export const MULTI_TRACKER_DEFAULTS = {
  detectEvery: 1,
  lookAhead: 0,
  minHits: 2,
  tentativeMisses: 5,
  maxAge: 30,
  minIou: 0.1,
  maxCentreDistance: 0.6,
  maxSizeRatio: 1.8,
  landmarkWeight: 0.5,
  tentativeScore: 0.8,
  duplicateOverlap: 0.6,
  lostDamping: 0.8,
} as const;

/** What the last `update` did, for exports and logs. */
export interface TrackerFrameInfo {
  index: number;
  /** True when the frame starts a new shot (every track ended before it). */
  cut: boolean;
  /** Histogram distance to the previous frame (0 when shot-cut detection is off). */
  cutDistance: number;
  /** `full`: detections for the whole frame; `partial`: detections in track regions only; `none`: predicted. */
  detection: 'full' | 'partial' | 'none';
  /** Ids of tracks that ended on this frame (cut, age, or a tentative track's miss). */
  ended: number[];
  /** With re-identification on: provisional ids and this frame's renames (filled in by `identify`). */
  identity?: IdentityFrameSummary;
}

/** A region worth re-detecting in on a frame without full detection. */
export interface TrackRegion {
  trackId: number;
  box: Box;
}

/** Options of one update. */
export interface UpdateOptions {
  /** The detections cover only the track regions (see `regions`); the detection cadence is not reset. */
  partial?: boolean;
}

// Box filter noise, in box sides: measurement noise and acceleration.
const BOX_NOISE = 0.05;
const BOX_ACCEL = 0.01;

class Track {
  /** Mutable only by re-identification (a new track taking an earlier track's id). */
  id: number;
  /** Ids this track carried before re-identification renamed it (provisional ids, never reused). */
  readonly formerIds: number[] = [];
  /** Last frame with a matched detection. */
  lastSeen = 0;
  embedding: Embedding | undefined;
  /** Frame of the last descriptor. */
  described = -Infinity;
  identityConfidence: number | undefined;
  /** Re-identification is settled (matched, or `decideAfter` descriptors without a match). */
  identityDecided = false;
  state: TrackState = 'tentative';
  hits = 1;
  /** Frames since the last matched detection. */
  unseen = 0;
  /** Detection frames in a row without a match. */
  misses = 0;
  readonly box: ConstantVelocityKalman;
  aspect: number;
  readonly smoother: LandmarkSmoother | undefined;
  points: FivePoints;
  rawPoints: FivePoints;
  /** The last matched detection's 68 landmarks and the five points they came with (refined detections only). */
  landmarks: { points: readonly Point[]; five: FivePoints } | undefined;
  rawBox: Box | undefined;
  score: number;
  detected = true;
  /** IOD-based unit in pixels (smoothed). */
  scale: number;

  /** Frame index of the track's first detection (its smoother's frame 0). */
  readonly firstFrame: number;

  constructor(id: number, d: FaceDetection, smoothing: LandmarkSmootherOptions | false, firstFrame = 0, history = 0) {
    this.id = id;
    this.firstFrame = firstFrame;
    this.lastSeen = firstFrame;
    const [cx, cy] = boxCentre(d.box);
    const side = boxSide(d.box);
    this.box = new ConstantVelocityKalman([cx, cy, side], (BOX_NOISE * side) ** 2, (0.05 * side) ** 2);
    this.aspect = d.box.height / Math.max(d.box.width, 1e-6);
    this.scale = faceScale(d);
    this.smoother = smoothing === false ? undefined : new LandmarkSmoother(smoothing, history);
    this.smoother?.correct(d.points);
    this.points = d.points;
    this.rawPoints = d.points;
    this.rawBox = d.box;
    this.score = d.score;
    this.landmarks = d.landmarks68 ? { points: d.landmarks68, five: d.points } : undefined;
  }

  /**
   * The last detection's 68 landmarks moved with the face: the five points they came with are taken to the
   * current (smoothed or predicted) five points by their centroid shift and inter-ocular scale and angle.
   */
  landmarks68(): readonly Point[] | undefined {
    const l = this.landmarks;
    if (!l) return undefined;
    if (l.five === this.points) return l.points;
    const [ax, ay] = centroid(l.five);
    const [bx, by] = centroid(this.points);
    const ua = [l.five[1][0] - l.five[0][0], l.five[1][1] - l.five[0][1]];
    const ub = [this.points[1][0] - this.points[0][0], this.points[1][1] - this.points[0][1]];
    const na = Math.hypot(ua[0]!, ua[1]!) || 1;
    // b = R·s·a with cos/sin from the two eye vectors.
    const cos = (ua[0]! * ub[0]! + ua[1]! * ub[1]!) / (na * na);
    const sin = (ua[0]! * ub[1]! - ua[1]! * ub[0]!) / (na * na);
    return l.points.map(([x, y]) => [bx + cos * (x - ax) - sin * (y - ay), by + sin * (x - ax) + cos * (y - ay)] as const);
  }

  get side(): number {
    return Math.max(1e-3, this.box.position[2]!);
  }

  filteredBox(): Box {
    return boxFrom(this.box.position[0]!, this.box.position[1]!, this.side, this.aspect);
  }

  /** Box one frame ahead (for regions). */
  nextBox(): Box {
    const p = this.box.peek();
    return boxFrom(p[0]!, p[1]!, Math.max(1e-3, p[2]!), this.aspect);
  }

  predict(damping: number): void {
    const side = this.side;
    this.box.predict(BOX_ACCEL * side, damping);
    if (this.smoother !== undefined) {
      this.points = this.smoother.predict(damping);
    } else {
      // Without a smoother, the points follow the box.
      const [cx, cy] = [this.box.position[0]!, this.box.position[1]!];
      const prev = this.points;
      const c = centroid(prev);
      const k = this.side / side;
      this.points = prev.map(([x, y]) => [cx + (x - c[0]) * k, cy + (y - c[1]) * k] as const) as unknown as FivePoints;
    }
    this.rawPoints = this.points;
    this.rawBox = undefined;
    this.detected = false;
    this.unseen++;
  }

  correct(d: FaceDetection): void {
    const [cx, cy] = boxCentre(d.box);
    const side = boxSide(d.box);
    const noise = BOX_NOISE * side;
    const jump = Math.hypot(cx - this.box.position[0]!, cy - this.box.position[1]!) > 0.5 * side || this.misses > 0;
    if (jump) this.box.resetPosition([cx, cy, side], noise * noise);
    else this.box.correct([cx, cy, side], noise);
    this.aspect += 0.2 * (d.box.height / Math.max(d.box.width, 1e-6) - this.aspect);
    const s = faceScale(d);
    this.scale += 0.2 * (s - this.scale);
    this.points = this.smoother === undefined ? d.points : this.smoother.correct(d.points).points;
    this.rawPoints = d.points;
    this.rawBox = d.box;
    this.score = d.score;
    this.landmarks = d.landmarks68 ? { points: d.landmarks68, five: d.points } : undefined;
    this.detected = true;
    this.unseen = 0;
    this.misses = 0;
    this.hits++;
  }
}

function boxFrom(cx: number, cy: number, side: number, aspect: number): Box {
  const w = side / Math.sqrt(aspect);
  const h = side * Math.sqrt(aspect);
  return { x: cx - w / 2, y: cy - h / 2, width: w, height: h };
}

function centroid(p: FivePoints): [number, number] {
  let x = 0;
  let y = 0;
  for (const q of p) {
    x += q[0];
    y += q[1];
  }
  return [x / 5, y / 5];
}

/**
 * Multi-face tracker: stable track ids within a shot, Kalman-filtered boxes, smoothed landmarks and a
 * fidelity weight per face. Causal: `update` uses only the frames seen so far, so it serves files and live
 * streams alike.
 *
 * Per frame: (1) shot-cut check — a cut ends every track, so no track or smoothing crosses it; (2) every
 * track is predicted one frame ahead (constant velocity on box centre and size, and on each landmark);
 * (3) when detections are given, they are matched to tracks by minimum total cost (Hungarian), first to
 * tracks seen on the previous detection frame, then to lost tracks with a wider gate: cost = (1 − IoU of
 * the predicted and detected boxes) + landmarkWeight · (mean landmark distance / inter-ocular distance),
 * with pairs outside the gate (IoU and centre distance) or the size ratio never matched; (4) unmatched
 * detections start tentative tracks; a tentative track that misses more than `tentativeMisses` detection
 * frames in a row ends; confirmed tracks that miss are lost (not output) for up to `maxAge` frames, then end.
 *
 * Without `identity` there is no appearance model: ids stay stable because faces move continuously between
 * frames and the motion model predicts where each one will be. Faces that swap places while both are hidden,
 * or a face that stays hidden longer than `maxAge`, get new or swapped ids. See docs/tracking.md. With
 * `identity`, a new track can take an earlier track's id by its face embedding (descriptorRequests,
 * identify; docs/identity.md).
 */
export class MultiFaceTracker implements FaceTracker {
  readonly #policy: FidelityPolicy;
  readonly #o: Omit<Required<MultiFaceTrackerOptions>, 'fidelity' | 'smoothing' | 'shotCut' | 'identity'>;
  readonly #identity: Required<IdentityOptions> | undefined;
  readonly #gallery = new IdentityGallery();
  #frameIndex = -1;
  #frame: VideoFrame | undefined;
  readonly #smoothing: LandmarkSmootherOptions | false;
  readonly #cuts: ShotCutDetector | undefined;
  #tracks: Track[] = [];
  /** Tracks that ended within the last `lookAhead` frames (their smoothers can still revise those frames). */
  #ended: Array<{ track: Track; at: number }> = [];
  #nextId = 0;
  #lastFull = -Infinity;
  #lastIndex = -Infinity;
  #info: TrackerFrameInfo | undefined;

  constructor(options: MultiFaceTrackerOptions = {}) {
    this.#policy = options.fidelity ?? new TrackFidelity();
    const o = { ...MULTI_TRACKER_DEFAULTS } as { -readonly [K in keyof typeof MULTI_TRACKER_DEFAULTS]: (typeof MULTI_TRACKER_DEFAULTS)[K] extends boolean ? boolean : number };
    for (const k of Object.keys(MULTI_TRACKER_DEFAULTS) as (keyof typeof MULTI_TRACKER_DEFAULTS)[]) {
      const v = options[k];
      if (v !== undefined) (o as Record<string, unknown>)[k] = v;
    }
    for (const k of ['detectEvery', 'minHits'] as const) {
      if (!(Number.isInteger(o[k]) && o[k] >= 1)) throw new TypeError(`Expected an integer ≥ 1 for ${k} but received ${o[k]}`);
    }
    for (const k of ['maxAge', 'tentativeMisses', 'lookAhead'] as const) {
      if (!(Number.isInteger(o[k]) && o[k] >= 0)) throw new TypeError(`Expected an integer ≥ 0 for ${k} but received ${o[k]}`);
    }
    for (const k of ['minIou', 'lostDamping', 'duplicateOverlap'] as const) {
      if (!(o[k] >= 0 && o[k] <= 1)) throw new TypeError(`Expected a number in [0, 1] for ${k} but received ${o[k]}`);
    }
    for (const k of ['maxCentreDistance', 'landmarkWeight', 'tentativeScore'] as const) {
      if (!(Number.isFinite(o[k]) && o[k] >= 0)) throw new TypeError(`Expected a finite number ≥ 0 for ${k} but received ${o[k]}`);
    }
    if (!(o.maxSizeRatio >= 1)) throw new TypeError(`Expected a number ≥ 1 for maxSizeRatio but received ${o.maxSizeRatio}`);
    this.#o = o;
    this.#smoothing = options.smoothing ?? {};
    if (this.#smoothing !== false) new LandmarkSmoother(this.#smoothing); // validates the options now
    this.#cuts = options.shotCut === false ? undefined : new ShotCutDetector(options.shotCut ?? {});
    this.#identity = options.identity === undefined || options.identity === false ? undefined : identityOptions(options.identity);
  }

  #retire(tracks: readonly Track[], index: number): void {
    if (this.#o.lookAhead > 0) for (const track of tracks) this.#ended.push({ track, at: index });
  }

  /**
   * The points of track `trackId` on frame `frameIndex`, revised with the frames seen since (a fixed-lag
   * Rauch–Tung–Striebel pass, see LandmarkSmoother.smoothedAt), when the frame is within `lookAhead` of the
   * newest; undefined otherwise (no smoothing, unknown track, frame too old).
   */
  revisedPoints(trackId: number, frameIndex: number): FivePoints | undefined {
    if (this.#o.lookAhead === 0) return undefined;
    // After re-identification two tracks may share an id (an ended one and the one that took it) and a held
    // frame may still name the provisional id: the track is the one named so that was alive on that frame.
    const named = (x: Track) => (x.id === trackId || x.formerIds.includes(trackId)) && x.firstFrame <= frameIndex;
    const t = this.#tracks.find(named) ?? this.#ended.find((e) => named(e.track) && frameIndex <= e.at)?.track;
    return t?.smoother?.smoothedAt(frameIndex - t.firstFrame);
  }

  /** The fidelity policy in use (e.g. to set per-track overrides on a TrackFidelity). */
  get fidelity(): FidelityPolicy {
    return this.#policy;
  }

  /** What the last update did. */
  get lastFrame(): TrackerFrameInfo | undefined {
    return this.#info;
  }

  /** Number of live tracks (tentative, confirmed and lost). */
  get trackCount(): number {
    return this.#tracks.length;
  }

  /**
   * Whether the pipeline should run the detector on this frame: every `detectEvery`-th frame, on a shot cut
   * (the frame is examined here; the result is reused by `update`), and while a tentative track waits for
   * confirmation. Call in frame order, before `update` of the same frame. With a frame index only, the
   * cut check is skipped.
   */
  needsDetection(frame: VideoFrame | number): boolean {
    const index = typeof frame === 'number' ? frame : frame.index;
    if (this.#o.detectEvery === 1) return true;
    if (typeof frame !== 'number' && this.#cuts?.push(frame).cut) return true;
    if (index - this.#lastFull >= this.#o.detectEvery) return true;
    return this.#tracks.some((t) => t.state === 'tentative');
  }

  /**
   * Where to re-detect on a frame without full detection: the predicted box of each track seen on its last
   * detection frame, enlarged by `margin` box sides on every side, clipped to the frame.
   */
  regions(frameWidth: number, frameHeight: number, margin = 0.5): TrackRegion[] {
    const out: TrackRegion[] = [];
    for (const t of this.#tracks) {
      if (t.state === 'lost') continue;
      const b = t.nextBox();
      const m = margin * Math.sqrt(b.width * b.height);
      const x0 = Math.max(0, Math.floor(b.x - m));
      const y0 = Math.max(0, Math.floor(b.y - m));
      const x1 = Math.min(frameWidth, Math.ceil(b.x + b.width + m));
      const y1 = Math.min(frameHeight, Math.ceil(b.y + b.height + m));
      if (x1 - x0 >= 8 && y1 - y0 >= 8) out.push({ trackId: t.id, box: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } });
    }
    return out;
  }

  /**
   * Advances to `frame`. `detections`: this frame's detections, or undefined when the detector did not run
   * (tracks are predicted). Returns the faces to restore on this frame, by track id.
   */
  update(frame: VideoFrame, detections?: readonly FaceDetection[] | undefined, options: UpdateOptions = {}): TrackedFace[] {
    if (frame.index <= this.#lastIndex) {
      throw new TypeError(`Expected frames in increasing index order but received ${frame.index} after ${this.#lastIndex}`);
    }
    this.#lastIndex = frame.index;
    const ended: number[] = [];
    const c = this.#cuts?.push(frame) ?? { cut: false, distance: 0 };
    this.#frameIndex = frame.index;
    this.#frame = this.#identity ? frame : undefined;
    if (c.cut) {
      for (const t of this.#tracks) ended.push(t.id), this.#remember(t);
      this.#retire(this.#tracks, frame.index);
      this.#tracks = [];
    }
    const o = this.#o;
    for (const t of this.#tracks) t.predict(t.state === 'lost' ? o.lostDamping : 1);

    const partial = detections !== undefined && options.partial === true;
    if (detections !== undefined) {
      if (!partial) this.#lastFull = frame.index;
      const dets = detections.filter((d) => d.box.width > 0 && d.box.height > 0 && d.points.every((p) => Number.isFinite(p[0]) && Number.isFinite(p[1])));
      const active = this.#tracks.filter((t) => t.state !== 'lost');
      const lost = this.#tracks.filter((t) => t.state === 'lost');
      const free = new Set(dets.map((_, i) => i));
      this.#match(active, dets, free);
      this.#match(lost, dets, free);
      for (const t of this.#tracks) {
        if (t.detected) {
          t.lastSeen = frame.index;
          if (t.state !== 'confirmed' && t.hits >= o.minHits) t.state = 'confirmed';
          continue;
        }
        t.misses++;
        if (t.state === 'tentative') {
          if (t.misses > o.tentativeMisses) t.unseen = Infinity;
        } else {
          t.state = 'lost';
        }
      }
      const matchedBoxes = this.#tracks.filter((t) => t.detected && t.rawBox !== undefined).map((t) => t.rawBox!);
      for (const i of free) {
        const b = dets[i]!.box;
        if (matchedBoxes.some((m) => intersection(m, b) >= o.duplicateOverlap * b.width * b.height)) continue;
        this.#tracks.push(new Track(this.#nextId++, dets[i]!, this.#smoothing, frame.index, o.lookAhead > 0 ? o.lookAhead + 1 : 0));
        matchedBoxes.push(b);
      }
    }
    const keep: Track[] = [];
    for (const t of this.#tracks) {
      if (t.unseen > o.maxAge) ended.push(t.id), this.#remember(t);
      else keep.push(t);
    }
    this.#retire(this.#tracks.filter((t) => !keep.includes(t)), frame.index);
    this.#tracks = keep;
    this.#ended = this.#ended.filter((e) => frame.index - e.at <= o.lookAhead);
    const endedHook = (this.#policy as { trackEnded?: (id: number) => void }).trackEnded;
    if (typeof endedHook === 'function') for (const id of ended) endedHook.call(this.#policy, id);

    this.#info = { index: frame.index, cut: c.cut, cutDistance: c.distance, detection: detections === undefined ? 'none' : partial ? 'partial' : 'full', ended };
    if (this.#identity) this.#info.identity = { pending: this.#pendingIds(), reidentified: [] };
    const faces: TrackedFace[] = [];
    for (const t of this.#tracks) {
      // Output: tracks matched now, and (on frames without detection) confirmed tracks seen at their last detection frame.
      const visible = t.detected || (detections === undefined && t.state === 'confirmed');
      if (!visible || t.state === 'lost' || (t.state === 'tentative' && t.score < o.tentativeScore)) continue;
      const box = t.filteredBox();
      const lm = t.landmarks68();
      const face: FaceDetection = lm ? { box, score: t.score, points: t.points, landmarks68: lm } : { box, score: t.score, points: t.points };
      faces.push({
        ...face,
        trackId: t.id,
        rawPoints: t.rawPoints,
        fidelity: this.#policy.fidelityFor(t.id, face, frame),
        state: t.state,
        detected: t.detected,
        rawBox: t.rawBox,
        ...(t.identityConfidence === undefined ? {} : { identityConfidence: t.identityConfidence }),
      });
    }
    faces.sort((a, b) => a.trackId - b.trackId);
    return faces;
  }

  /** Ends every track (e.g. when the input changes). Ids keep increasing. */
  reset(): void {
    const endedHook = (this.#policy as { trackEnded?: (id: number) => void }).trackEnded;
    if (typeof endedHook === 'function') for (const t of this.#tracks) endedHook.call(this.#policy, t.id);
    this.#tracks = [];
    this.#ended = [];
    this.#cuts?.reset();
    this.#lastFull = -Infinity;
  }

  /** Ids of live tracks whose identity is undecided (sorted). */
  #pendingIds(): number[] {
    return this.#tracks.filter((t) => !t.identityDecided).map((t) => t.id).sort((a, b) => a - b);
  }

  /** An ending track's embedding goes to the gallery (re-identification on). */
  #remember(t: Track): void {
    if (this.#identity && t.embedding && t.state !== 'tentative') this.#gallery.remember({ id: t.id, embedding: t.embedding, lastSeen: t.lastSeen });
  }

  /**
   * With re-identification on: the faces of the last update that want a descriptor now: tracks detected on
   * this frame, wide, confident and sharp enough, without a descriptor yet or due for a refresh (every `every` frames).
   * Empty when re-identification is off.
   */
  descriptorRequests(): Array<{ trackId: number; points: FivePoints }> {
    const io = this.#identity;
    if (!io) return [];
    const out: Array<{ trackId: number; points: FivePoints }> = [];
    for (const t of this.#tracks) {
      if (!t.detected || t.state === 'lost' || t.rawBox === undefined) continue;
      if (t.rawBox.width < io.minWidth || t.score < io.minScore) continue;
      if (t.embedding && t.identityDecided && this.#frameIndex - t.described < io.every) continue;
      if (yawOf(t.rawPoints) > io.maxYaw) continue;
      if (io.minSharpness > 0 && laplacianVarianceIn(this.#frame!, t.rawBox) < io.minSharpness) continue;
      out.push({ trackId: t.id, points: t.rawPoints });
    }
    return out;
  }

  /**
   * Takes the descriptors asked for by `descriptorRequests()` (by track id, on the same frame) into the
   * tracks' embeddings; while a new track is undecided (its first `decideAfter` descriptors), the mean of
   * its descriptors may re-identify it: it takes the id of the nearest ended
   * or lost track within `threshold` that was last seen before it started (one-to-one, nearest pairs
   * first; the lost track ends). Returns `faces` (the last update's) with ids, fidelity and identity
   * confidence updated.
   */
  identify(frame: VideoFrame, faces: readonly TrackedFace[], descriptors: ReadonlyMap<number, ArrayLike<number>>): TrackedFace[] {
    const io = this.#identity;
    if (!io || descriptors.size === 0) return [...faces];
    if (frame.index !== this.#frameIndex) throw new TypeError(`Expected the frame of the last update (${this.#frameIndex}) but received ${frame.index}`);
    const fresh: Track[] = [];
    for (const [id, d] of descriptors) {
      const t = this.#tracks.find((x) => x.id === id && x.state !== 'lost');
      if (!t) throw new TypeError(`Expected a live track id but received ${id}`);
      t.embedding ??= new Embedding(d.length);
      t.embedding.add(d);
      t.described = frame.index;
      if (!t.identityDecided) fresh.push(t);
    }
    if (fresh.length === 0) return [...faces];
    this.#gallery.forgetBefore(frame.index - io.memory);
    const candidates: IdentityCandidate[] = [...this.#gallery.entries()];
    for (const t of this.#tracks) if (t.state === 'lost' && t.embedding) candidates.push({ id: t.id, embedding: t.embedding, lastSeen: t.lastSeen });
    const result = matchIdentities(fresh.map((t) => ({ embedding: t.embedding!, firstFrame: t.firstFrame })), candidates, io.threshold);
    const byOldId = new Map(fresh.map((t) => [t.id, t]));
    const renamed = new Set<Track>();
    const renames: Reidentification[] = [];
    const endedHook = (this.#policy as { trackEnded?: (id: number) => void }).trackEnded;
    result.forEach((r, i) => {
      const t = fresh[i]!;
      t.identityConfidence = identityConfidence(r.distance, io.threshold, r.candidate !== undefined);
      if (!r.candidate) {
        if (t.embedding!.count >= io.decideAfter) t.identityDecided = true;
        return;
      }
      t.identityDecided = true;
      const c = r.candidate;
      const lost = this.#tracks.findIndex((x) => x.id === c.id && x.state === 'lost');
      // The lost track ends here (retired, so frames still in the look-ahead window keep their revised points).
      if (lost >= 0) this.#retire(this.#tracks.splice(lost, 1), frame.index);
      else this.#gallery.take(c.id);
      t.embedding!.merge(c.embedding);
      renamed.add(t);
      // The new track's own id is given up (its fidelity state freed); the earlier id's overrides apply.
      if (typeof endedHook === 'function') endedHook.call(this.#policy, t.id);
      const w = typeof this.#policy.override === 'function' ? this.#policy.override(c.id) : undefined;
      renames.push({ from: t.id, to: c.id, distance: r.distance, ...(w === undefined ? {} : { fidelity: w }) });
      t.formerIds.push(t.id);
      t.id = c.id;
    });
    if (this.#info?.index === frame.index) this.#info.identity = { pending: this.#pendingIds(), reidentified: [...(this.#info.identity?.reidentified ?? []), ...renames] };
    const out = faces.map((f) => {
      const t = byOldId.get(f.trackId);
      if (!t) return f;
      const face: TrackedFace = { ...f, trackId: t.id, identityConfidence: t.identityConfidence! };
      if (renamed.has(t)) face.fidelity = this.#policy.fidelityFor(t.id, face, frame);
      return face;
    });
    out.sort((a, b) => a.trackId - b.trackId);
    return out;
  }

  #match(tracks: Track[], dets: readonly FaceDetection[], free: Set<number>): void {
    if (tracks.length === 0 || free.size === 0) return;
    const o = this.#o;
    const cols = [...free];
    const FORBIDDEN = 1e6;
    const cost = tracks.map((t) => {
      const pb = t.filteredBox();
      const side = t.side;
      const [pcx, pcy] = boxCentre(pb);
      const grow = Math.min(2, 1 + 0.1 * t.unseen);
      return cols.map((j) => {
        const d = dets[j]!;
        const ov = iou(pb, d.box);
        const [dcx, dcy] = boxCentre(d.box);
        const dist = Math.hypot(dcx - pcx, dcy - pcy) / side;
        const ratio = boxSide(d.box) / side;
        if (ratio > o.maxSizeRatio || ratio < 1 / o.maxSizeRatio) return FORBIDDEN;
        if (ov < o.minIou && dist > o.maxCentreDistance * grow) return FORBIDDEN;
        const lm = Math.min(2, meanPointDistance(t.points, d.points) / t.scale);
        return 1 - ov + o.landmarkWeight * lm;
      });
    });
    const assignment = assignMinCost(cost, FORBIDDEN);
    assignment.forEach((col, row) => {
      if (col < 0) return;
      const j = cols[col]!;
      tracks[row]!.correct(dets[j]!);
      free.delete(j);
    });
  }
}
