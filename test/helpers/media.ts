import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { VideoDecoder } from '../../src/ingest/decoder.ts';
import { probeVideo } from '../../src/ingest/probe.ts';
import type { AnalyzedFrame, VideoFrame, VideoInfo } from '../../src/types.ts';
import type { FrameSink } from '../../src/stream/sink.ts';
import { i420FromRgbSamples, i420Layout, lumaOf, yuvCoefficients, type YuvColour } from '../../src/util/yuv.ts';
import sharp from 'sharp';

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

/** The first `n` frames of a file (fewer if it holds fewer); stopping early ends the decoder. */
export async function firstFrames(file: string, n: number): Promise<VideoFrame[]> {
  const out: VideoFrame[] = [];
  for await (const f of decodeFrames(file)) {
    out.push(f);
    if (out.length === n) break;
  }
  return out;
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
  /** With `releasesFrames`, the runner reuses a frame's buffer once the callback is done with it (as for the file encoder). */
  readonly releasesFrames: boolean;
  constructor(onFrame: (item: AnalyzedFrame) => void | Promise<void>, options: { releasesFrames?: boolean } = {}) {
    this.#onFrame = onFrame;
    this.releasesFrames = options.releasesFrames === true;
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

/**
 * An I420 frame from packed RGB24 pixels (the test's own conversion: luma per pixel, chroma from each 2×2
 * block's mean colour), so tests can start from stills and synthetic pictures.
 */
export function i420FromRgb(rgb: Uint8Array, width: number, height: number, colour?: YuvColour, index = 0): VideoFrame {
  return { index, pts: index / 25, width, height, data: i420FromRgbSamples(rgb, width, height, colour), ...(colour ? { colour } : {}) };
}

/** Packed RGB24 of an I420 frame (chroma repeated over its 2×2 block, as ffmpeg's yuv420p → rgb24 does). */
export function rgbFromI420(frame: VideoFrame): Uint8Array {
  const { width, height, data } = frame;
  const L = i420Layout(width, height);
  const k = yuvCoefficients(frame.colour);
  const out = new Uint8ClampedArray(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const ci = (y >> 1) * L.cw + (x >> 1);
    const l = k.yk * (data[y * width + x]! - k.y0);
    const u = data[L.uOff + ci]! - 128;
    const v = data[L.vOff + ci]! - 128;
    const o = (y * width + x) * 3;
    out[o] = l + k.rv * v;
    out[o + 1] = l - k.gu * u - k.gv * v;
    out[o + 2] = l + k.bu * u;
  }
  return new Uint8Array(out.buffer);
}

/** A still image as an I420 frame (BT.601 limited range, the VideoFrame default). */
export async function stillFrame(file: string, blur?: number): Promise<VideoFrame> {
  let img = sharp(file).removeAlpha();
  if (blur !== undefined) img = img.blur(blur);
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return i420FromRgb(data, info.width, info.height);
}

/** PSNR in dB between two equally long byte arrays (Infinity when identical). */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new TypeError(`Expected equal lengths but received ${a.length} and ${b.length}`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * a.length) / se);
}
