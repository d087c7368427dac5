import { stat } from 'node:fs/promises';
import { FaceRestoreError } from '../errors.ts';
import type { VideoInfo } from '../types.ts';
import { localInput } from '../util/localInput.ts';
import { ChildRunner } from '../util/process.ts';
import { buildProbeArgs } from './ffmpegArgs.ts';

/** Parses an ffprobe rational like `30000/1001` into a number (NaN when absent or 0/0). */
function parseRational(r: string | number | undefined): number {
  if (typeof r === 'number') return r;
  if (!r) return NaN;
  const [n, d] = r.split('/').map(Number);
  return d === undefined ? n! : d === 0 ? NaN : n! / d;
}

/** One stream as ffprobe's JSON writer prints it (only the fields read here). */
interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  duration?: string;
  start_time?: string;
  nb_frames?: string;
  /** Packets ffprobe actually demuxed (with `-count_packets`). */
  nb_read_packets?: string;
  channels?: number;
  sample_rate?: string;
  disposition?: { attached_pic?: number };
  tags?: { rotate?: string };
  side_data_list?: Array<{ rotation?: number }>;
}

/** What `ffprobe -print_format json -show_streams -show_format` prints. */
interface ProbeJson {
  streams?: ProbeStream[];
  format?: { duration?: string; start_time?: string };
}

/**
 * Seconds from the container's start (where `--start 0` points) to the video stream's first frame: ffmpeg's
 * `-ss`/`-t` count on the container's timeline, so a video that starts late (audio first) is empty in a
 * window before this. 0 when either start is unknown.
 */
function videoStartOf(video: ProbeStream, data: ProbeJson): number {
  const v = Number(video.start_time);
  const f = Number(data.format?.start_time);
  return Number.isFinite(v) && Number.isFinite(f) && v > f ? v - f : 0;
}

/** True for a cover image (an `attached_pic` stream: one still picture, not video). */
function isAttachedPicture(s: ProbeStream): boolean {
  return s.disposition?.attached_pic === 1;
}

/** Runs ffprobe on `file` and returns its JSON; E_FFMPEG_MISSING, E_PROBE when ffprobe fails or prints no JSON. */
async function runProbe(file: string, ffprobePath: string): Promise<ProbeJson> {
  const runner = await ChildRunner.start(ffprobePath, buildProbeArgs(file), { missingCode: 'E_FFMPEG_MISSING' });
  // Nothing to send: ffprobe must never wait on its stdin.
  runner.child.stdin!.end();
  const chunks: Buffer[] = [];
  runner.child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  const exit = await runner.exited;
  if (exit.code !== 0) {
    // ffprobe prefixes its message with the input as given (`file:/abs/in.mp4: Invalid data …`).
    const url = localInput(file);
    const why = (runner.stderrTail(1) || `ffprobe exit ${exit.code ?? exit.signal}`).split(url + ': ').join('');
    throw new FaceRestoreError('E_PROBE', `cannot read ${file} as a video: ${why}`);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as ProbeJson;
  } catch (e) {
    throw new FaceRestoreError('E_PROBE', `cannot read ${file} as a video: ffprobe printed no JSON`, { cause: e });
  }
}

/**
 * Reads the facts the pipeline needs about the local `file` (the system ffprobe, run directly; the
 * file reaches it as `file:` + absolute path, so no name is taken for a URL or an option). Cover images
 * (attached pictures) are not video. Frame counts come from the packets demuxed, not the header; timing
 * that cannot be real is refused (see checkFramePlan). Errors: E_INPUT_MISSING, E_PROBE (not a media file,
 * truncated container, forged timing), E_DECODE (the index lists frames the file does not hold), E_NO_VIDEO (audio-only, or only a cover image), E_FFMPEG_MISSING.
 */
export async function probeVideo(file: string, ffprobePath = 'ffprobe'): Promise<VideoInfo> {
  let size: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new FaceRestoreError('E_INPUT_MISSING', `input ${file} is not a file`);
    size = s.size;
  } catch (e) {
    if (e instanceof FaceRestoreError) throw e;
    throw new FaceRestoreError('E_INPUT_MISSING', `input ${file} does not exist`);
  }
  if (size === 0) throw new FaceRestoreError('E_PROBE', `input ${file} is an empty file (0 bytes)`);
  const data = await runProbe(file, ffprobePath);
  const streams = data.streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video' && !isAttachedPicture(s));
  if (!video) {
    const kinds = streams.map((s) => (isAttachedPicture(s) ? 'cover image' : s.codec_type)).join(', ') || 'none';
    throw new FaceRestoreError('E_NO_VIDEO', `input ${file} has no video stream (streams: ${kinds})`);
  }
  const audio = streams.find((s) => s.codec_type === 'audio');
  const matrix = video.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation;
  const rotation = normaliseRotation(Number(matrix ?? video.tags?.rotate ?? 0));
  const codedW = Number(video.width);
  const codedH = Number(video.height);
  if (!(codedW > 0 && codedH > 0)) throw new FaceRestoreError('E_PROBE', `input ${file}: video stream has no valid size (${video.width}x${video.height})`);
  const swap = rotation === 90 || rotation === 270;
  const rFrame = parseRational(video.r_frame_rate);
  const avgFrame = parseRational(video.avg_frame_rate);
  const fps = Number.isFinite(avgFrame) && avgFrame > 0 ? avgFrame : rFrame;
  if (!(fps > 0)) throw new FaceRestoreError('E_PROBE', `input ${file}: cannot determine the frame rate`);
  const frameRate = Number.isFinite(avgFrame) && avgFrame > 0 ? String(video.avg_frame_rate) : String(video.r_frame_rate);
  const variableFrameRate = Number.isFinite(rFrame) && Number.isFinite(avgFrame) && Math.abs(rFrame - avgFrame) / avgFrame > 0.01;
  const duration = firstPositive(Number(video.duration), Number(data.format?.duration)) ?? 0;
  const declared = Number(video.nb_frames);
  // What the file really holds (demuxed packets) outranks what its header declares.
  const read = video.nb_read_packets === undefined ? NaN : Number(video.nb_read_packets);
  if (read === 0) throw new FaceRestoreError('E_PROBE', `input ${file}: its video stream holds no frames`);
  if (Number.isInteger(read) && Number.isInteger(declared) && read < declared) {
    // A cut-off file: the index lists frames whose data is missing.
    throw new FaceRestoreError('E_DECODE', `input ${file} is truncated or corrupt: its container lists ${declared} video frames but only ${read} can be read`, {
      details: { framesDeclared: declared, framesReadable: read },
    });
  }
  const packets = Number.isInteger(read) ? read : declared;
  // Constant rate decodes frame for frame (one output frame per packet); variable rate is resampled to `fps`.
  const frameCountExact = Number.isInteger(packets) && packets > 0 && !variableFrameRate;
  const outputFrames = frameCountExact ? packets : Math.max(1, Math.round(duration * fps));
  if (Number.isInteger(packets) && packets > 0) checkFramePlan(file, { fps, packets, outputFrames, duration });
  else if (!(fps <= MAX_PLAUSIBLE_FPS)) checkFramePlan(file, { fps, packets: 0, outputFrames, duration });
  return {
    path: file,
    width: swap ? codedH : codedW,
    height: swap ? codedW : codedH,
    frameRate,
    fps,
    variableFrameRate,
    duration,
    videoStart: videoStartOf(video, data),
    frameCount: outputFrames,
    frameCountExact,
    rotation,
    codec: String(video.codec_name),
    audio: audio ? { codec: String(audio.codec_name), channels: Number(audio.channels) || 0, sampleRate: Number(audio.sample_rate) || 0 } : undefined,
  };
}

/** Highest frame rate taken as real; above it the stream's timing is forged or broken (a cover image reads as 90000 fps). */
export const MAX_PLAUSIBLE_FPS = 1000;
/** Lowest frame rate taken as real: one frame per 20 s (slide shows); below it the output would drop frames. */
export const MIN_PLAUSIBLE_FPS = 0.05;
/**
 * Most output frames a resampled (variable-rate) plan may make per frame the file holds (plus a fixed
 * allowance): beyond it the timing asks the product to encode mostly duplicates.
 */
export const MAX_DUPLICATION = 4;

/**
 * Checks a plan against what the stream holds: `outputFrames` planned from timing versus `packets`
 * demuxed. E_PROBE names both when the timing would multiply the work or cannot be real.
 */
export function checkFramePlan(file: string, o: { fps: number; packets: number; outputFrames: number; duration: number }): void {
  const what = `input ${file} holds ${o.packets} video frame${o.packets === 1 ? '' : 's'}`;
  if (o.fps > MAX_PLAUSIBLE_FPS) throw new FaceRestoreError('E_PROBE', `${what} but declares ${round3(o.fps)} fps (more than ${MAX_PLAUSIBLE_FPS}): its timing is forged or broken`);
  if (o.fps < MIN_PLAUSIBLE_FPS) {
    throw new FaceRestoreError('E_PROBE', `${what} spread over ${round3(o.duration)} s (${round3(o.fps)} fps, less than ${MIN_PLAUSIBLE_FPS}): its timestamps are forged or broken and a constant-rate output would drop frames`);
  }
  if (o.outputFrames > MAX_DUPLICATION * o.packets + 100) {
    throw new FaceRestoreError(
      'E_PROBE',
      `${what} but its timestamps (${round3(o.duration)} s at ${round3(o.fps)} fps) would make ${o.outputFrames} output frames, ${Math.round(o.outputFrames / Math.max(1, o.packets))} per source frame: its timing is forged or broken`,
    );
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

function normaliseRotation(r: number): number {
  if (!Number.isFinite(r)) return 0;
  return (((Math.round(r / 90) * 90) % 360) + 360) % 360;
}

function firstPositive(...values: number[]): number | undefined {
  return values.find((v) => Number.isFinite(v) && v > 0);
}
