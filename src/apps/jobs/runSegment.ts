import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Components } from '../../engine/components.ts';
import { runFile } from '../file/runFile.ts';
import { FaceRestoreError } from '../../errors.ts';
import { FileSink } from '../../stream/fileSink.ts';
import { segmentFileName, type SegmentJobData, type SegmentRecord } from './jobData.ts';
import { SegmentSink } from './SegmentSink.ts';
import type { SegmentWindow } from './segmentWindow.ts';
import { WindowTracker } from './WindowTracker.ts';

/** Progress of one segment. */
export interface SegmentProgress {
  /** Frames of the segment encoded so far (warm-up frames not counted). */
  frames: number;
  /** Frames it owns, when known. */
  expected: number | null;
  /** Encoded frames per second since the segment started (warm-up included in the time). */
  fps: number;
}

/** Options of runSegment. */
export interface RunSegmentOptions {
  /** The component set to run on (borrowed: not closed here). */
  components: Components;
  data: SegmentJobData;
  /** Who ran it (kept in the record). */
  worker: string;
  signal?: AbortSignal;
  onProgress?: (p: SegmentProgress) => void;
}

/** Size and SHA-256 of a file. */
export async function hashFile(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** True when `file` exists with exactly `bytes` bytes. */
export async function fileHasSize(file: string, bytes: number): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile() && s.size === bytes,
    () => false,
  );
}

/**
 * Restores one segment into its own file in the job's work folder, written atomically (a temporary
 * name, renamed when complete and checked). The pipeline decodes the segment's window (from a little
 * before its start, for tracker warm-up, to a little past its end); SegmentSink keeps exactly the frames
 * the segment owns and WindowTracker keeps the warm-up frames from being restored. At the first frame
 * past the end the sink says it is done and the run ends normally, so the margin costs almost nothing.
 */
export async function runSegment(o: RunSegmentOptions): Promise<SegmentRecord> {
  const { data, components } = o;
  const { plan } = data;
  const name = segmentFileName(plan.index);
  const file = path.join(data.workDir, name);
  await mkdir(data.workDir, { recursive: true });
  const window: SegmentWindow = { ...plan, frameSeconds: data.frameSeconds };
  const started = performance.now();
  const inner = new FileSink({ ...data.encode, output: file, ffmpegPath: components.options.ffmpegPath, copyAudio: false, format: 'mp4' });
  const sink = new SegmentSink(inner, window, {
    onFrame: (frames) => o.onProgress?.({ frames, expected: plan.frameCount, fps: frames / Math.max(1e-3, (performance.now() - started) / 1000) }),
  });
  await runFile(components, data.input, sink, {
    start: plan.windowStart ?? undefined,
    duration: plan.windowDuration ?? undefined,
    tracker: new WindowTracker(components.newTracker(), window),
    signal: o.signal,
  });
  if (!sink.committed) throw new FaceRestoreError('E_INTERNAL', `segment ${plan.index}: the run ended without committing the segment`);
  const { bytes, sha256 } = await hashFile(file);
  return { index: plan.index, file: name, frames: sink.kept, bytes, sha256, seconds: (performance.now() - started) / 1000, worker: o.worker };
}
