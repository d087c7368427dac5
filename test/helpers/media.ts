import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { VideoDecoder } from '../../src/ingest/decoder.ts';
import { probeVideo } from '../../src/ingest/probe.ts';
import type { AnalyzedFrame, VideoFrame, VideoInfo } from '../../src/types.ts';
import type { FrameSink } from '../../src/stream/sink.ts';

export const run = promisify(execFile);

/** Runs ffmpeg with arguments; rejects on failure. */
export async function ffmpeg(...args: string[]): Promise<void> {
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
}

/** Stream facts through ffprobe's JSON writer (independent of the product's probe). */
export async function ffprobeJson(file: string): Promise<{ streams: Array<Record<string, any>>; format: Record<string, any> }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-show_format', '-of', 'json', file]);
  return JSON.parse(stdout);
}

/** Decodes every frame of a file (through the product's decoder). */
export async function* decodeFrames(file: string): AsyncGenerator<VideoFrame> {
  const info = await probeVideo(file);
  const d = await VideoDecoder.create(info);
  yield* d.frames();
}

/** md5 of a frame's pixels. */
export function frameHash(f: VideoFrame): string {
  return createHash('md5').update(f.data).digest('hex');
}

/** A sink that hands each frame to a callback and records order; nothing is kept unless the callback keeps it. */
export class CallbackSink implements FrameSink {
  info: VideoInfo | undefined;
  readonly indices: number[] = [];
  readonly pts: number[] = [];
  finished = false;
  aborted = false;
  readonly #onFrame: (item: AnalyzedFrame) => void | Promise<void>;
  constructor(onFrame: (item: AnalyzedFrame) => void | Promise<void>) {
    this.#onFrame = onFrame;
  }
  async start(info: VideoInfo): Promise<void> {
    this.info = info;
  }
  async write(item: AnalyzedFrame): Promise<void> {
    this.indices.push(item.frame.index);
    this.pts.push(item.frame.pts);
    await this.#onFrame(item);
  }
  async finish(): Promise<void> {
    this.finished = true;
  }
  async abort(): Promise<void> {
    this.aborted = true;
  }
}

/** Child processes of this process (pids), to check that nothing leaked. */
export async function childPids(): Promise<number[]> {
  const { stdout } = await run('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)]).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/\bps$/.test(l))
    .map((l) => Number(l.split(/\s+/)[0]));
}
