/**
 * Appearance identity for the tracker: a face embedding per track (running mean of its descriptors) and a
 * gallery of tracks that ended or are lost, so a face that comes back after a cut or a long occlusion takes
 * its old id. Pure bookkeeping: the descriptors (face-api's 128-D net, engine/faceDescriptor.ts) are
 * computed by the caller for the faces `MultiFaceTracker.descriptorRequests()` lists.
 */

/** Options of re-identification (MultiFaceTrackerOptions.identity). */
export interface IdentityOptions {
  /**
   * A new track takes the id of an earlier one whose embedding lies within this Euclidean distance.
   * Distances are between mean descriptors. face-api's usual same-person threshold (one descriptor
   * against another) is 0.6; between means the default is much tighter (measured on
   * short_hamilton_clip.mp4: the performer's two shots 0.33–0.38 apart, the nearest two different people
   * 0.41: docs/identity.md). Default 0.38.
   */
  threshold?: number;
  /**
   * A new track is compared with the gallery on each of its first this many descriptors (taken on every
   * frame meanwhile), by the mean of those so far: one descriptor is too noisy (measured: the performer's
   * single descriptors lie 0.42–0.62 from his earlier mean, other people's 0.57–0.78). It takes the earlier
   * id at the first match (so its first frames carry a new id); after that many without one, it stays new. Default 60.
   */
  decideAfter?: number;
  /** A track's descriptor is refreshed every this many frames (besides its first). Default 10. */
  every?: number;
  /** Faces narrower than this (box width, px) get no descriptor (too small to tell people apart). Default 40. */
  minWidth?: number;
  /** Detections below this score get no descriptor. Default 0.6. */
  minScore?: number;
  /**
   * Faces whose sharpness (variance of the Laplacian of the luma, track/fidelity.ts laplacianVarianceIn)
   * is below this get no descriptor: out-of-focus faces give descriptors that cluster together whoever
   * they are (measured on short_hamilton_clip.mp4: blurred background faces 2–7, at 0.19–0.30 from each
   * other across shots, closer than one person across shots). Default 10.
   */
  minSharpness?: number;
  /**
   * Faces turned further than this get no descriptor: the nose tip's offset from the eyes' midpoint along
   * the eye line, in inter-ocular distances (0 frontal; profiles ≥ 0.5). Profile descriptors lie near other
   * people's (measured: the clip's profile close-up 0.43 from an audience face). Default 0.3.
   */
  maxYaw?: number;
  /** Ended tracks are remembered for this many frames. Default 9000 (5 minutes at 30 fps). */
  memory?: number;
}

export const IDENTITY_DEFAULTS = { threshold: 0.38, every: 10, decideAfter: 60, minWidth: 40, minScore: 0.6, minSharpness: 10, maxYaw: 0.3, memory: 9000 } as const;

/** Validated identity options. */
export function identityOptions(o: IdentityOptions): Required<IdentityOptions> {
  const r = { ...IDENTITY_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as Required<IdentityOptions>;
  if (!(r.threshold > 0 && Number.isFinite(r.threshold))) throw new TypeError(`Expected a positive number for identity.threshold but received ${r.threshold}`);
  for (const k of ['every', 'memory', 'decideAfter'] as const) if (!(Number.isInteger(r[k]) && r[k] >= 1)) throw new TypeError(`Expected an integer ≥ 1 for identity.${k} but received ${r[k]}`);
  if (!(r.minSharpness >= 0 && Number.isFinite(r.minSharpness))) throw new TypeError(`Expected a finite number ≥ 0 for identity.minSharpness but received ${r.minSharpness}`);
  if (!(r.maxYaw > 0)) throw new TypeError(`Expected a positive number for identity.maxYaw but received ${r.maxYaw}`);
  if (!(r.minWidth >= 0 && Number.isFinite(r.minWidth))) throw new TypeError(`Expected a finite number ≥ 0 for identity.minWidth but received ${r.minWidth}`);
  if (!(r.minScore >= 0 && r.minScore <= 1)) throw new TypeError(`Expected a number in [0, 1] for identity.minScore but received ${r.minScore}`);
  return r;
}

/** Yaw proxy of five points: the nose tip's offset from the eyes' midpoint along the eye line, in inter-ocular distances. */
export function yawOf(points: readonly (readonly [number, number])[]): number {
  const [le, re, nose] = points as [readonly [number, number], readonly [number, number], readonly [number, number]];
  const ux = re[0] - le[0], uy = re[1] - le[1];
  const iod2 = ux * ux + uy * uy;
  if (iod2 === 0) return Infinity;
  const mx = (le[0] + re[0]) / 2, my = (le[1] + re[1]) / 2;
  return Math.abs(((nose[0] - mx) * ux + (nose[1] - my) * uy) / iod2);
}

/** A track's appearance: the mean of its descriptors. */
export class Embedding {
  readonly sum: Float64Array;
  count = 0;
  constructor(length: number) {
    this.sum = new Float64Array(length);
  }
  add(d: ArrayLike<number>, weight = 1): void {
    if (d.length !== this.sum.length) throw new TypeError(`Expected a descriptor of length ${this.sum.length} but received ${d.length}`);
    for (let i = 0; i < d.length; i++) this.sum[i]! += weight * d[i]!;
    this.count += weight;
  }
  merge(o: Embedding): void {
    for (let i = 0; i < this.sum.length; i++) this.sum[i]! += o.sum[i]!;
    this.count += o.count;
  }
  distance(o: Embedding): number {
    let s = 0;
    for (let i = 0; i < this.sum.length; i++) s += (this.sum[i]! / this.count - o.sum[i]! / o.count) ** 2;
    return Math.sqrt(s);
  }
}

/** An earlier track a new one may take the id of. */
export interface IdentityCandidate {
  id: number;
  embedding: Embedding;
  /** Last frame the candidate was detected on: a new track must start after it (never two live at once). */
  lastSeen: number;
}

/** Ended tracks' embeddings, by id. */
export class IdentityGallery {
  readonly #entries = new Map<number, IdentityCandidate>();

  remember(c: IdentityCandidate): void {
    const old = this.#entries.get(c.id);
    if (old) c.embedding.merge(old.embedding);
    this.#entries.set(c.id, c);
  }

  take(id: number): IdentityCandidate | undefined {
    const c = this.#entries.get(id);
    this.#entries.delete(id);
    return c;
  }

  forgetBefore(frame: number): void {
    for (const [id, c] of this.#entries) if (c.lastSeen < frame) this.#entries.delete(id);
  }

  get size(): number {
    return this.#entries.size;
  }

  entries(): IterableIterator<IdentityCandidate> {
    return this.#entries.values();
  }
}

/**
 * One-to-one matches of new tracks to candidates: pairs by increasing distance, each within `threshold`,
 * each candidate and each new track used once, a candidate only if it was last seen before the new track
 * started. Returns, per new track (index), the candidate and distance, or the nearest distance seen.
 */
export function matchIdentities(
  fresh: ReadonlyArray<{ embedding: Embedding; firstFrame: number }>,
  candidates: readonly IdentityCandidate[],
  threshold: number,
): Array<{ candidate: IdentityCandidate | undefined; distance: number }> {
  const pairs: Array<[number, number, number]> = [];
  const nearest = fresh.map(() => Infinity);
  fresh.forEach((f, i) => candidates.forEach((c, j) => {
    if (c.lastSeen >= f.firstFrame) return;
    const d = f.embedding.distance(c.embedding);
    nearest[i] = Math.min(nearest[i]!, d);
    if (d < threshold) pairs.push([d, i, j]);
  }));
  pairs.sort((a, b) => a[0] - b[0]);
  const out: Array<{ candidate: IdentityCandidate | undefined; distance: number }> = fresh.map((_, i) => ({ candidate: undefined, distance: nearest[i]! }));
  const usedC = new Set<number>();
  for (const [d, i, j] of pairs) {
    if (out[i]!.candidate || usedC.has(j)) continue;
    out[i] = { candidate: candidates[j]!, distance: d };
    usedC.add(j);
  }
  return out;
}

/**
 * Identity confidence in [0, 1]: for a re-identified track, how far inside the threshold its distance lay
 * (1 − d/τ); for a new identity, how far outside it the nearest earlier track lay (1 − τ/d; 1 with none).
 */
export function identityConfidence(distance: number, threshold: number, reidentified: boolean): number {
  if (reidentified) return Math.max(0, Math.min(1, 1 - distance / threshold));
  if (!Number.isFinite(distance)) return 1;
  return Math.max(0, Math.min(1, 1 - threshold / distance));
}
