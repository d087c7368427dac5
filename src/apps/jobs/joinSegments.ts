import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FaceRestoreError } from '../../errors.ts';
import { commitPartial, discardPartial } from '../../util/atomicFile.ts';
import { runTool } from './exec.ts';
import { buildConcatList, buildCountFramesArgs, buildJoinArgs } from './jobArgs.ts';
import type { JobSpec, JoinRecord, SegmentRecord } from './jobData.ts';
import { hashFile } from './runSegment.ts';

/** Options of joinSegments. */
export interface JoinOptions {
  spec: JobSpec;
  /** The finished segments, in order, one per planned segment. */
  records: readonly SegmentRecord[];
  worker: string;
  ffmpegPath?: string;
  ffprobePath?: string;
  signal?: AbortSignal;
}

/**
 * Joins the segment files (concat demuxer, video copied, not re-encoded) with the original's whole audio
 * track into a temporary file inside the job's work folder, checks its frame count against the
 * segments' (and against the input's, when exact), then renames it onto the output: the output appears
 * complete or not at all, and a killed join leaves its temporary file only in the work folder, which is
 * removed when the job completes.
 */
export async function joinSegments(o: JoinOptions): Promise<JoinRecord> {
  const { spec, records } = o;
  const started = performance.now();
  if (records.length !== spec.segments.length || records.some((r, i) => r.index !== i)) {
    throw new FaceRestoreError('E_INTERNAL', `join of ${spec.output}: expected records of segments 0..${spec.segments.length - 1}, got ${records.map((r) => r.index).join(',')}`);
  }
  const tag = `${process.pid}.${randomBytes(4).toString('hex')}`;
  const list = path.join(spec.workDir, `concat.${tag}.ffconcat`);
  const partial = path.join(spec.workDir, `.join.${tag}.partial`);
  try {
    await writeFile(list, buildConcatList(records.map((r) => r.file)));
    const ffmpeg = o.ffmpegPath ?? 'ffmpeg';
    const args = buildJoinArgs({ list, source: spec.input, audioCodec: spec.video?.audioCodec ?? undefined, output: partial, format: 'mp4', deterministic: spec.encode.deterministic });
    await runTool(ffmpeg, args, { code: 'E_ENCODE', what: `joining the segments of ${spec.output}`, signal: o.signal });
    const counted = Number((await runTool(o.ffprobePath ?? 'ffprobe', buildCountFramesArgs(partial), { code: 'E_ENCODE', what: `counting the frames of the joined ${spec.output}` })).trim());
    const frames = records.reduce((n, r) => n + r.frames, 0);
    if (counted !== frames) throw new FaceRestoreError('E_ENCODE', `the joined ${spec.output} has ${counted} frames but its segments hold ${frames}`);
    if (spec.video?.framesExact && frames !== spec.video.frames) {
      throw new FaceRestoreError('E_DECODE', `the segments of ${spec.output} hold ${frames} frames but the input has ${spec.video.frames}`);
    }
    const { bytes, sha256 } = await hashFile(partial);
    await mkdir(path.dirname(spec.output), { recursive: true });
    await commitPartial(partial, spec.output);
    return { output: spec.output, frames, bytes, sha256, segments: records.length, seconds: (performance.now() - started) / 1000, worker: o.worker };
  } finally {
    await discardPartial(partial);
    await rm(list, { force: true });
  }
}
