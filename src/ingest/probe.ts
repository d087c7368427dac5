import { stat } from 'node:fs/promises';
import ffmpeg from 'fluent-ffmpeg';
import { FaceRestoreError } from '../errors.ts';
import type { VideoInfo } from '../types.ts';

/** Parses an ffprobe rational like `30000/1001` into a number (NaN when absent or 0/0). */
export function parseRational(r: string | number | undefined): number {
  if (typeof r === 'number') return r;
  if (!r) return NaN;
  const [n, d] = r.split('/').map(Number);
  return d === undefined ? n! : d === 0 ? NaN : n! / d;
}

type ProbeStream = Record<string, unknown> & { codec_type?: string; tags?: Record<string, unknown> };

/**
 * Reads the facts the pipeline needs about `file` (through fluent-ffmpeg's ffprobe wrapper, which runs
 * the system ffprobe). Errors: E_INPUT_MISSING, E_PROBE (not a media file, truncated container),
 * E_NO_VIDEO (audio-only or no decodable video stream).
 */
export async function probeVideo(file: string, ffprobePath = 'ffprobe'): Promise<VideoInfo> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    throw new FaceRestoreError('E_INPUT_MISSING', `input ${file} does not exist`);
  }
  if (size === 0) throw new FaceRestoreError('E_PROBE', `input ${file} is an empty file (0 bytes)`);
  const data = await new Promise<{ streams: ProbeStream[]; format: Record<string, unknown> }>((resolve, reject) => {
    const cmd = ffmpeg();
    cmd.setFfprobePath(ffprobePath);
    ffmpeg.ffprobe(file, (err: Error | null, d: unknown) => {
      if (err) {
        const why = (err.message.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('ffprobe ') && !/^(built with|configuration:|lib\w+ )/.test(l)).pop() ?? err.message).replace(/^.*?:\s*/, '');
        const missing = /ENOENT/.test(err.message) && /spawn/.test(err.message);
        reject(
          new FaceRestoreError(missing ? 'E_FFMPEG_MISSING' : 'E_PROBE', missing ? `${ffprobePath} not found: install ffmpeg (Debian: apt-get install ffmpeg)` : `cannot read ${file} as a video: ${why}`, { cause: err }),
        );
      } else resolve(d as { streams: ProbeStream[]; format: Record<string, unknown> });
    });
  });
  const video = data.streams.find((s) => s.codec_type === 'video' && !isAttachedPicture(s));
  if (!video) {
    const kinds = data.streams.map((s) => s.codec_type).join(', ') || 'none';
    throw new FaceRestoreError('E_NO_VIDEO', `input ${file} has no video stream (streams: ${kinds})`);
  }
  const audio = data.streams.find((s) => s.codec_type === 'audio');
  const rotation = normaliseRotation(Number(video.rotation ?? video.tags?.rotate ?? 0));
  const codedW = Number(video.width);
  const codedH = Number(video.height);
  if (!(codedW > 0 && codedH > 0)) throw new FaceRestoreError('E_PROBE', `input ${file}: video stream has no valid size (${video.width}x${video.height})`);
  const swap = rotation === 90 || rotation === 270;
  const rFrame = parseRational(video.r_frame_rate as string);
  const avgFrame = parseRational(video.avg_frame_rate as string);
  const fps = Number.isFinite(avgFrame) && avgFrame > 0 ? avgFrame : rFrame;
  if (!(fps > 0)) throw new FaceRestoreError('E_PROBE', `input ${file}: cannot determine the frame rate`);
  const frameRate = Number.isFinite(avgFrame) && avgFrame > 0 ? String(video.avg_frame_rate) : String(video.r_frame_rate);
  const variableFrameRate = Number.isFinite(rFrame) && Number.isFinite(avgFrame) && Math.abs(rFrame - avgFrame) / avgFrame > 0.01;
  const duration = firstPositive(Number(video.duration), Number(data.format.duration)) ?? 0;
  const declared = Number(video.nb_frames);
  const frameCountExact = Number.isInteger(declared) && declared > 0 && !variableFrameRate;
  return {
    path: file,
    width: swap ? codedH : codedW,
    height: swap ? codedW : codedH,
    frameRate,
    fps,
    variableFrameRate,
    duration,
    frameCount: frameCountExact ? declared : Math.max(1, Math.round(duration * fps)),
    frameCountExact,
    rotation,
    codec: String(video.codec_name),
    audio: audio
      ? { codec: String(audio.codec_name), channels: Number(audio.channels) || 0, sampleRate: Number(audio.sample_rate) || 0 }
      : undefined,
  };
}

function isAttachedPicture(s: ProbeStream): boolean {
  return Number(s['DISPOSITION:attached_pic']) === 1;
}

function normaliseRotation(r: number): number {
  if (!Number.isFinite(r)) return 0;
  return (((Math.round(r / 90) * 90) % 360) + 360) % 360;
}

function firstPositive(...values: number[]): number | undefined {
  return values.find((v) => Number.isFinite(v) && v > 0);
}
