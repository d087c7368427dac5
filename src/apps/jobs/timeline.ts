/**
 * The frame timeline of an input and its split into segments. Pure functions: the numbers come from a
 * packet probe (no decoding), the decisions are tested as plain data.
 *
 * Times are "decode times": seconds as the pipeline's decoder reports a frame's pts when it decodes the
 * whole file (the container's start time subtracted, as ffmpeg does). A decode of a window that starts
 * with `-ss X` reports `pts − X`, so a frame's decode time is always `X + reported pts`.
 */

import { FaceRestoreError } from '../../errors.ts';
import { checkFramePlan } from '../../ingest/probe.ts';
import type { VideoInfo } from '../../types.ts';
import type { PacketProbe } from './jobArgs.ts';

/** The frames a full decode of the input yields. */
export interface Timeline {
  /**
   * `frames`: constant-rate input, decoded frame for frame (each packet is one output frame, exact).
   * `slots`: variable-rate input, which the decoder resamples to its average rate (ffmpeg's fps filter):
   * output frame k sits at k × slotSeconds, and a window must start on that grid to pick the same
   * source frame for each slot as a full decode does.
   */
  kind: 'frames' | 'slots';
  /** Decode time of each output frame, increasing. For `slots` the end is an estimate. */
  times: number[];
  /** Indices into `times` of frames that are keyframes (where a seek lands without decoding earlier frames). */
  keyIndices: number[];
  /** Nominal frame interval, seconds. */
  frameSeconds: number;
  /** Output grid interval (`slots` only), seconds. */
  slotSeconds: number | undefined;
  /** Whether `times.length` is the exact frame count (false for `slots`, whose end depends on ffmpeg's end-of-stream rounding). */
  countExact: boolean;
  /** End of the input, seconds (decode time). */
  end: number;
}

/** Parses a rational frame rate like `30000/1001` into [num, den]. */
function rational(rate: string): [number, number] {
  const m = /^(\d+)(?:\/(\d+))?$/.exec(rate.trim());
  if (!m || Number(m[1]) <= 0 || (m[2] !== undefined && Number(m[2]) <= 0)) throw new FaceRestoreError('E_PROBE', `unusable frame rate ${rate}`);
  return [Number(m[1]), m[2] === undefined ? 1 : Number(m[2])];
}

/** The timeline of a probed input from its packet list (decode-time of every frame, keyframes). */
export function buildTimeline(probe: PacketProbe, info: Pick<VideoInfo, 'frameRate' | 'fps' | 'variableFrameRate' | 'duration' | 'path'>): Timeline {
  if (probe.packets.length === 0) throw new FaceRestoreError('E_PROBE', `input ${info.path} has no video packets`);
  const [tn, td] = probe.timeBase;
  const decoded = probe.packets.map((p) => ({ t: (p.pts * tn) / td - probe.startTime, key: p.key })).sort((a, b) => a.t - b.t);
  const frameSeconds = 1 / info.fps;
  const lastTime = decoded[decoded.length - 1]!.t;
  const end = Math.max(info.duration, lastTime + frameSeconds);
  if (!info.variableFrameRate) {
    const times = decoded.map((d) => d.t);
    const keyIndices = decoded.flatMap((d, i) => (d.key ? [i] : []));
    return { kind: 'frames', times, keyIndices, frameSeconds, slotSeconds: undefined, countExact: true, end };
  }
  const [num, den] = rational(info.frameRate);
  const slot = den / num;
  // The fps filter starts at the first frame's slot (rounded to nearest) and fills every slot after it.
  const kFirst = Math.round(decoded[0]!.t / slot);
  const kEnd = Math.max(kFirst + 1, Math.round(lastTime / slot) + 1);
  // The packet timestamps, not the header, decide: a forged gap must not become thousands of segments.
  checkFramePlan(info.path, { fps: num / den, packets: decoded.length, outputFrames: kEnd - kFirst, duration: lastTime + slot - decoded[0]!.t });
  const times = Array.from({ length: kEnd - kFirst }, (_, i) => (kFirst + i) * slot);
  const keys = new Set<number>();
  for (const d of decoded) if (d.key) keys.add(Math.min(times.length - 1, Math.max(0, Math.round(d.t / slot) - kFirst)));
  return { kind: 'slots', times, keyIndices: [...keys].sort((a, b) => a - b), frameSeconds: slot, slotSeconds: slot, countExact: false, end };
}

/** How to split. */
export interface SegmentOptions {
  /** Target segment length, seconds. */
  segmentSeconds: number;
  /** Frames decoded (and tracked, not restored or encoded) before each segment's first frame. */
  warmupSeconds: number;
}

/** One segment: which frames it owns and which window of the input it decodes. */
export interface SegmentPlan {
  index: number;
  /** Global index of its first frame. */
  firstFrame: number;
  /** Frames it owns, or null when unknown (the last segment of variable-rate input runs to the end). */
  frameCount: number | null;
  /** Owns frames with decode time ≥ this (null: from the start). Half-way between two frames. */
  startTime: number | null;
  /** Owns frames with decode time < this (null: to the end). Half-way between two frames. */
  endTime: number | null;
  /** Decode time of its first frame (null when unknown). */
  firstTime: number | null;
  /** Decode time of its last frame (null when unknown). */
  lastTime: number | null;
  /** Decode window start (`-ss`), µs-rounded; null decodes from the start of the file. */
  windowStart: number | null;
  /** Decode window length (`-t`), generous: frames are picked by time, not by trusting -t; null decodes to the end. */
  windowDuration: number | null;
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/**
 * Splits the timeline into segments of about `segmentSeconds`, preferring to cut at a keyframe within
 * half a segment of each target (else at the frame nearest the target), and never leaving a last segment
 * shorter than half the target. Every frame belongs to exactly one segment: boundaries lie half-way
 * between two frames, so timestamp rounding cannot put a frame on both sides or on neither.
 */
export function planSegments(t: Timeline, o: SegmentOptions): SegmentPlan[] {
  if (!(o.segmentSeconds > 0)) throw new TypeError(`Expected a positive number for segmentSeconds but received ${o.segmentSeconds}`);
  if (!(o.warmupSeconds >= 0)) throw new TypeError(`Expected a number ≥ 0 for warmupSeconds but received ${o.warmupSeconds}`);
  const { times } = t;
  const n = times.length;
  const S = o.segmentSeconds;
  const tail = (c: number) => times[n - 1]! - times[c]! + t.frameSeconds;
  const cuts = [0];
  for (let a = 0; ; ) {
    const target = times[a]! + S;
    let best: number | undefined;
    for (const k of t.keyIndices) {
      const tk = times[k]!;
      if (k > a && tk >= times[a]! + 0.5 * S && tk <= times[a]! + 1.5 * S && (best === undefined || Math.abs(tk - target) < Math.abs(times[best]! - target))) best = k;
    }
    if (best === undefined) {
      let c = a + 1;
      while (c < n && times[c]! < target - t.frameSeconds / 2) c++;
      best = c < n ? c : undefined;
    }
    if (best === undefined || best <= a || tail(best) < 0.5 * S) break;
    cuts.push(best);
    a = best;
  }
  return cuts.map((a, j) => {
    const last = j === cuts.length - 1;
    const b = last ? n : cuts[j + 1]!;
    const startTime = j === 0 ? null : (times[a - 1]! + times[a]!) / 2;
    const endTime = last ? null : (times[b - 1]! + times[b]!) / 2;
    let windowStart: number | null = null;
    if (startTime !== null) {
      const raw = o.warmupSeconds > 0 ? startTime - o.warmupSeconds : times[a]! - Math.min(0.001, (times[a]! - times[a - 1]!) / 4);
      if (t.kind === 'slots') {
        // On the output grid, so the fps filter fills each slot with the same source frame as a full decode.
        const m = Math.floor(raw / t.slotSeconds! + 1e-9);
        windowStart = m > 0 ? round6(m * t.slotSeconds!) : null;
      } else windowStart = raw > 0 ? round6(raw) : null;
    }
    const offset = windowStart ?? 0;
    const margin = Math.max(0.5, 4 * t.frameSeconds);
    const windowDuration = endTime !== null ? round6(endTime - offset + margin) : windowStart === null ? null : round6(t.end - offset + 10);
    const known = !last || t.countExact;
    return { index: j, firstFrame: a, frameCount: known ? b - a : null, startTime, endTime, firstTime: times[a]!, lastTime: known ? times[b - 1]! : null, windowStart, windowDuration };
  });
}
