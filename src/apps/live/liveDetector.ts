import { applyAffine, fitSimilarity } from '../../compose/align.ts';
import type { FaceDetector } from '../../detect/detector.ts';
import { RefinedDetector, type Landmark68 } from '../../engine/landmarkRefiner.ts';
import type { Box, FaceDetection, FivePoints, Point, VideoFrame } from '../../types.ts';
import { DEFAULT_REFINE_EVERY, MAX_REFINE_EVERY } from './peerConfig.ts';

/** Boxes overlapping at least this much (IoU) are taken for the same face between two detections. */
const SAME_FACE_IOU = 0.3;

/** Milliseconds spent in `detect` calls so far, split into the detector's runs and the 68-point refinement. */
export interface LiveDetectTimes {
  detectMs: number;
  refineMs: number;
}

/** A refined detection kept for the following detections: the detector's own points and what refinement made of them. */
interface Refined {
  box: Box;
  raw: FivePoints;
  out: FaceDetection;
}

/**
 * The live restore worker's detector: the 68-point landmark refinement (RefinedDetector, same trust rule)
 * on every `refineEvery`-th full detection only, and on any detection with a face the last refinement did
 * not see. The net costs about as much as the detector per face; live detection runs every 2nd frame, so
 * refining each time paid it 15 times a second. On the detections in between, each face's last refinement
 * is carried over: its correction of each of the five points (refined − detected) is added to the detector's
 * points of now, turned and scaled by the similarity that takes the detector's points of then to those of now,
 * and the 68 landmarks move by that similarity (so the detector's bias against the net, which is what
 * refinement corrects, stays corrected, the detector's non-rigid motion is kept, and the classic restorer's
 * face-region mask stays).
 * Does not own the models (their Components does): `close()` is a no-op.
 */
export class LiveDetector implements FaceDetector {
  readonly name: string;
  readonly refineEvery: number;
  readonly #inner: FaceDetector;
  readonly #refiner: RefinedDetector;
  /** The detector's raw result of the current call (the refiner's inner detector records it). */
  #raw: FaceDetection[] = [];
  /** Detections already made this call (the refiner then refines them without running the detector again). */
  #preset: FaceDetection[] | undefined;
  #last: Refined[] = [];
  #calls = 0;
  #refined = 0;
  /** This call's split; added to #spent when it ends. */
  #times: LiveDetectTimes = { detectMs: 0, refineMs: 0 };
  readonly #spent: LiveDetectTimes = { detectMs: 0, refineMs: 0 };

  /**
   * @param inner the face detector (the detections' boxes, scores and raw points)
   * @param landmarks the 68-point net
   * @param refineEvery refine every this many calls, an integer in 1…MAX_REFINE_EVERY (1: every call)
   */
  constructor(inner: FaceDetector, landmarks: Landmark68, refineEvery = DEFAULT_REFINE_EVERY) {
    if (!Number.isInteger(refineEvery) || refineEvery < 1 || refineEvery > MAX_REFINE_EVERY) {
      throw new TypeError(`Expected an integer in 1…${MAX_REFINE_EVERY} for refineEvery but received ${refineEvery}`);
    }
    this.#inner = inner;
    this.refineEvery = refineEvery;
    // The refiner's inner detector is the real one, recording its raw output for the carry-over.
    const recording: FaceDetector = {
      name: inner.name,
      detect: async (frame) => {
        if (this.#preset) return (this.#raw = this.#preset);
        const t = performance.now();
        this.#raw = await inner.detect(frame);
        this.#times.detectMs = performance.now() - t;
        return this.#raw;
      },
      close: async () => undefined,
    };
    this.#refiner = new RefinedDetector(recording, landmarks);
    this.name = `${inner.name}+landmark68/${refineEvery}`;
  }

  /** Time spent so far (totals over every call), ms. */
  get spent(): LiveDetectTimes {
    return { ...this.#spent };
  }

  /** How many calls refined (ran the 68-point net) so far. */
  get refinedCalls(): number {
    return this.#refined;
  }

  async detect(frame: VideoFrame): Promise<FaceDetection[]> {
    const call = this.#calls++;
    this.#times = { detectMs: 0, refineMs: 0 };
    const t = performance.now();
    try {
      if (call % this.refineEvery === 0) return await this.#refine(frame, t);
      const found = await this.#inner.detect(frame);
      this.#times.detectMs = performance.now() - t;
      const carried = carryOver(this.#last, found);
      // A face without an earlier refinement to carry: refine this detection now (a new face gets the net at once).
      if (carried === undefined) return await this.#refine(frame, t, found);
      return carried;
    } finally {
      this.#spent.detectMs += this.#times.detectMs;
      this.#spent.refineMs += this.#times.refineMs;
    }
  }

  async #refine(frame: VideoFrame, t: number, found?: FaceDetection[]): Promise<FaceDetection[]> {
    this.#preset = found;
    this.#refined++;
    let out: FaceDetection[];
    try {
      out = await this.#refiner.detect(frame);
    } finally {
      this.#preset = undefined;
    }
    this.#times.refineMs = performance.now() - t - this.#times.detectMs;
    this.#last = out.map((d, i) => ({ box: this.#raw[i]!.box, raw: this.#raw[i]!.points, out: d }));
    return out;
  }

  async close(): Promise<void> {}
}

/**
 * Each detection with its matched earlier refinement carried over (see LiveDetector), or undefined when
 * some detection matches none (then the frame is refined instead). Matching is greedy by box IoU.
 */
export function carryOver(last: readonly { box: Box; raw: FivePoints; out: FaceDetection }[], found: readonly FaceDetection[]): FaceDetection[] | undefined {
  const pairs: Array<{ i: number; j: number; iou: number }> = [];
  found.forEach((d, i) => last.forEach((r, j) => {
    const v = iou(d.box, r.box);
    if (v >= SAME_FACE_IOU) pairs.push({ i, j, iou: v });
  }));
  pairs.sort((p, q) => q.iou - p.iou);
  const match = new Map<number, number>();
  const used = new Set<number>();
  for (const p of pairs) {
    if (match.has(p.i) || used.has(p.j)) continue;
    match.set(p.i, p.j);
    used.add(p.j);
  }
  if (match.size < found.length) return undefined;
  return found.map((d, i) => {
    const r = last[match.get(i)!]!;
    // The similarity that takes the detector's points of then to its points of now (least squares).
    const m = fitSimilarity(r.raw, d.points);
    const [ma, mb, , md, me] = m;
    // Each point: the detector's of now plus the refinement's correction of then, turned and scaled with the
    // face. So the detector's own non-rigid motion (a mouth opening) is kept, and a face whose refinement fell
    // back to the detector's points (correction 0) gets exactly the detector's points.
    const points = d.points.map(([x, y], k) => {
      const ox = r.out.points[k]![0] - r.raw[k]![0], oy = r.out.points[k]![1] - r.raw[k]![1];
      return [x + ma * ox + mb * oy, y + md * ox + me * oy] as const;
    }) as unknown as FivePoints;
    // The 68 landmarks (the classic restorer's face-region hull) move rigidly with the face, as the tracker moves them.
    return r.out.landmarks68 ? { ...d, points, landmarks68: r.out.landmarks68.map((p: Point) => applyAffine(m, p)) } : { ...d, points };
  });
}

function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}
