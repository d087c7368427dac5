/**
 * Re-identification on a clip: tracks with face descriptors (YuNet + 68-point refinement, face-api's
 * 128-D descriptor), ids per shot, and the descriptor distances between every pair of tracks (to choose the
 * threshold and count false merges). `node bench/track-identity.ts [clip] [--threshold 0.45] [--json]`.
 */
import path from 'node:path';
import { YuNetDetector } from '../src/detect/yunet.ts';
import { FaceDescriptor } from '../src/engine/faceDescriptor.ts';
import { Landmark68, RefinedDetector } from '../src/engine/landmarkRefiner.ts';
import { IDENTITY_DEFAULTS, type IdentityOptions } from '../src/track/identity.ts';
import { MultiFaceTracker, type TrackedFace, type MultiFaceTrackerOptions } from '../src/track/multiTracker.ts';
import type { FaceDetector } from '../src/detect/detector.ts';
import type { VideoFrame } from '../src/types.ts';
import { decodeFrames, HAMILTON, YUNET } from './track-clip.ts';
import { laplacianVarianceIn } from '../src/track/fidelity.ts';

export interface IdentityRunFace { frame: number; shot: number; trackId: number; width: number; cx: number; cy: number; identityConfidence?: number }

export interface IdentityRun {
  faces: IdentityRunFace[];
  cuts: number[];
  descriptors: number;
  /** Every descriptor computed, with the internal-track-free id it went to and its shot. */
  samples: Array<{ frame: number; shot: number; trackId: number; width: number; sharpness: number; d: Float32Array }>;
}

/** Tracks `frames` with re-identification; descriptors as the tracker asks for them. */
export async function trackWithIdentity(
  frames: AsyncIterable<VideoFrame>,
  detector: FaceDetector,
  describer: FaceDescriptor,
  identity: IdentityOptions,
  tracker: MultiFaceTrackerOptions = {},
  mirror = false,
): Promise<IdentityRun> {
  const t = new MultiFaceTracker({ ...tracker, identity });
  const run: IdentityRun = { faces: [], cuts: [], descriptors: 0, samples: [] };
  let shot = 0;
  for await (const frame of frames) {
    let faces: TrackedFace[] = t.update(frame, await detector.detect(frame));
    if (t.lastFrame!.cut) (run.cuts.push(frame.index), shot++);
    const want = t.descriptorRequests();
    if (want.length > 0) {
      const ds = await describer.describe(frame, want.map((w) => w.points), { mirror });
      run.descriptors += ds.length;
      faces = t.identify(frame, faces, new Map(want.map((w, i) => [w.trackId, ds[i]!])));
      const byOld = new Map(want.map((w, i) => [w.trackId, ds[i]!]));
      // Samples keep the descriptor with the face's final id on this frame.
      for (const [old, d] of byOld) {
        const f = faces.find((x) => x.rawPoints === want.find((w) => w.trackId === old)!.points);
        if (f) run.samples.push({ frame: frame.index, shot, trackId: f.trackId, width: f.rawBox?.width ?? f.box.width, sharpness: laplacianVarianceIn(frame, f.rawBox ?? f.box), d });
      }
    }
    for (const f of faces) {
      const b = f.rawBox ?? f.box;
      run.faces.push({ frame: frame.index, shot, trackId: f.trackId, width: b.width, cx: b.x + b.width / 2, cy: b.y + b.height / 2, ...(f.identityConfidence === undefined ? {} : { identityConfidence: f.identityConfidence }) });
    }
  }
  return run;
}

/** Mean descriptor per (shot, id) and the distance matrix between them. */
export function trackDistances(run: IdentityRun): Array<{ a: string; b: string; distance: number }> {
  const groups = new Map<string, { sum: Float64Array; n: number }>();
  for (const s of run.samples) {
    const k = `s${s.shot}#${s.trackId}`;
    const g = groups.get(k) ?? { sum: new Float64Array(s.d.length), n: 0 };
    s.d.forEach((v, i) => (g.sum[i]! += v));
    g.n++;
    groups.set(k, g);
  }
  const keys = [...groups.keys()];
  const out: Array<{ a: string; b: string; distance: number }> = [];
  for (let i = 0; i < keys.length; i++) for (let j = i + 1; j < keys.length; j++) {
    const A = groups.get(keys[i]!)!, B = groups.get(keys[j]!)!;
    let s = 0;
    for (let k = 0; k < A.sum.length; k++) s += (A.sum[k]! / A.n - B.sum[k]! / B.n) ** 2;
    out.push({ a: keys[i]!, b: keys[j]!, distance: Math.sqrt(s) });
  }
  return out.sort((x, y) => x.distance - y.distance);
}

export async function createIdentityStack(): Promise<{ detector: FaceDetector; describer: FaceDescriptor; close(): Promise<void> }> {
  const detector = new RefinedDetector(await YuNetDetector.create({ modelPath: YUNET, intraOpThreads: 1 }), await Landmark68.create({ intraOpThreads: 1 }));
  const describer = await FaceDescriptor.create({ intraOpThreads: 1 });
  return { detector, describer, close: async () => void (await Promise.all([detector.close(), describer.close()])) };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (n: string) => (args.indexOf(n) >= 0 ? args[args.indexOf(n) + 1] : undefined);
  const clip = args.find((a, i) => !a.startsWith('--') && (i === 0 || !args[i - 1]!.startsWith('--'))) ?? HAMILTON;
  const stack = await createIdentityStack();
  try {
    const t0 = performance.now();
    const run = await trackWithIdentity(decodeFrames(clip), stack.detector, stack.describer, { threshold: Number(opt('--threshold') ?? IDENTITY_DEFAULTS.threshold), minWidth: Number(opt('--min-width') ?? IDENTITY_DEFAULTS.minWidth), every: Number(opt('--every') ?? IDENTITY_DEFAULTS.every), decideAfter: Number(opt('--decide') ?? IDENTITY_DEFAULTS.decideAfter) }, {}, args.includes('--mirror'));
    const ms = performance.now() - t0;
    const perShot = new Map<number, Map<number, { frames: number; maxWidth: number; first: number; last: number }>>();
    for (const f of run.faces) {
      const m = perShot.get(f.shot) ?? new Map();
      const e = m.get(f.trackId) ?? { frames: 0, maxWidth: 0, first: f.frame, last: f.frame };
      e.frames++; e.maxWidth = Math.max(e.maxWidth, f.width); e.last = f.frame;
      m.set(f.trackId, e); perShot.set(f.shot, m);
    }
    process.stdout.write(`${path.basename(clip)}: cuts ${run.cuts.join(',')}, ${run.descriptors} descriptors for ${run.faces.length} face-frames, ${ms.toFixed(0)} ms\n`);
    for (const [s, m] of perShot) process.stdout.write(`shot ${s}: ${[...m].map(([id, e]) => `#${id} (${e.frames} f, ${e.first}-${e.last}, ≤${e.maxWidth.toFixed(0)} px)`).join(' ')}\n`);
    const sharp = new Map<string, number[]>();
    for (const x of run.samples) sharp.set(`s${x.shot}#${x.trackId}`, [...(sharp.get(`s${x.shot}#${x.trackId}`) ?? []), Math.round(x.sharpness)]);
    for (const [k, v] of sharp) process.stdout.write(`${k} sharpness ${v.join(',')}\n`);
    for (const d of trackDistances(run).slice(0, Number(opt('--pairs') ?? 15))) process.stdout.write(`${d.a} – ${d.b}: ${d.distance.toFixed(3)}\n`);
  } finally {
    await stack.close();
  }
}
