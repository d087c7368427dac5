import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { FaceRestoreError, isFaceRestoreError, serializeError } from '../../errors.ts';
import { parsePortableOptions, type PortableOptionsInput } from '../../engine/options.ts';
import { probeVideo } from '../../ingest/probe.ts';
import { runTool } from './exec.ts';
import { buildPacketProbeArgs, parsePacketProbe } from './jobArgs.ts';
import { JOB_DATA_VERSION, type EncodeSettings, type JobSpec } from './jobData.ts';
import { buildTimeline, planSegments, type SegmentPlan } from './timeline.ts';

/** Hidden folder inside the output folder that holds jobs' segment files until their join. */
export const WORK_DIR_NAME = '.facerestore-work';

/** Settings shared by every job of one submission. */
export interface PlanOptions {
  /** Output folder (absolute). */
  outDir: string;
  /** What to do (restorer, model, detector, fidelity…): portable options (`toPortableOptions`); validated here (E_CONFIG). */
  pipeline: PortableOptionsInput;
  encode: EncodeSettings;
  segmentSeconds: number;
  warmupSeconds: number;
  ffprobePath?: string;
}

/** A planned job: its id (deterministic: the same request gets the same id) and what the queue carries. */
export interface PlannedJob {
  id: string;
  spec: JobSpec;
}

/** Output path for `input` in `outDir`: same stem, `.mp4`. */
export function outputPathFor(input: string, outDir: string): string {
  return path.join(outDir, `${path.parse(input).name}.mp4`);
}

/**
 * The job id: a hash of the input's identity (path, size, modification time), the output and every
 * setting. Submitting the same request twice finds the existing job instead of adding a duplicate; a
 * changed file or setting is a new job.
 */
function jobIdFor(parts: unknown): string {
  return `fr-${createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16)}`;
}

/**
 * Probes `input` (streams, then the packet list: no decoding) and splits it into segments. An input
 * that cannot be read as a video still gets a job, carrying the reason, so it fails visibly in the queue
 * without holding up the others.
 */
export async function planJob(input: string, o: PlanOptions): Promise<PlannedJob> {
  const abs = path.resolve(input);
  const output = outputPathFor(abs, o.outDir);
  const st = await stat(abs).catch(() => undefined);
  const pipeline = parsePortableOptions(o.pipeline);
  const id = jobIdFor([JOB_DATA_VERSION, abs, st?.size ?? null, st?.mtimeMs ?? null, output, pipeline, o.encode, o.segmentSeconds, o.warmupSeconds]);
  const base: Omit<JobSpec, 'video' | 'segments' | 'error'> = {
    v: JOB_DATA_VERSION,
    input: abs,
    output,
    workDir: path.join(o.outDir, WORK_DIR_NAME, id),
    pipeline,
    encode: o.encode,
    segmentSeconds: o.segmentSeconds,
    warmupSeconds: o.warmupSeconds,
  };
  try {
    const ffprobe = o.ffprobePath ?? 'ffprobe';
    const info = await probeVideo(abs, ffprobe);
    const probe = parsePacketProbe(await runTool(ffprobe, buildPacketProbeArgs(abs), { code: 'E_PROBE', what: `listing the packets of ${abs}` }), abs);
    if (probe.packetsRead < probe.declaredFrames) {
      // A cut-off file: the index lists frames whose data is missing (a single-process run fails on it too).
      throw new FaceRestoreError('E_DECODE', `input ${abs} is truncated or corrupt: its container lists ${probe.declaredFrames} video frames but only ${probe.packetsRead} can be read`);
    }
    let segments: SegmentPlan[];
    let frames = info.frameCount;
    let framesExact = info.frameCountExact;
    let frameSeconds = 1 / info.fps;
    if (probe.missingPts || probe.packets.length === 0) {
      // No timestamps to plan with: one segment, decoded like a single-process run.
      segments = [{ index: 0, firstFrame: 0, frameCount: null, startTime: null, endTime: null, firstTime: null, lastTime: null, windowStart: null, windowDuration: null }];
    } else {
      const timeline = buildTimeline(probe, info);
      segments = planSegments(timeline, { segmentSeconds: o.segmentSeconds, warmupSeconds: o.warmupSeconds });
      frames = timeline.times.length;
      framesExact = timeline.countExact;
      frameSeconds = timeline.frameSeconds;
    }
    return {
      id,
      spec: {
        ...base,
        video: { width: info.width, height: info.height, frameRate: info.frameRate, fps: info.fps, frameSeconds, frames, framesExact, audioCodec: info.audio?.codec ?? null },
        segments,
        error: null,
      },
    };
  } catch (e) {
    if (!isFaceRestoreError(e) || e.code === 'E_FFMPEG_MISSING') throw e;
    return { id, spec: { ...base, video: null, segments: [], error: serializeError(e) } };
  }
}
