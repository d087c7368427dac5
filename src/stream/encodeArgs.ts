/** Pure builders of ffmpeg argument lists for encoding. Nothing here spawns anything. */
import type { YuvColour } from '../util/yuv.ts';

import { localInput, localOutput } from '../util/localInput.ts';

/** Audio codecs an MP4/MOV container can carry as they are (copied, not re-encoded). */
const MP4_AUDIO_COPY = new Set(['aac', 'mp3', 'ac3', 'eac3', 'alac', 'opus', 'flac']);

/** Video encoding settings. */
export interface VideoCodecOptions {
  /** ffmpeg encoder. Default `libx264`. */
  codec?: string;
  /** Constant rate factor (x264/x265/vpx quality, lower is better). Default 18. */
  crf?: number;
  /** Encoder preset. Default `medium`. */
  preset?: string;
  /** Output pixel format; default yuv420p, or yuv444p when a dimension is odd (4:2:0 needs even sizes). */
  pixelFormat?: string;
  /**
   * Bit-exact, repeatable output for the same input frames: single-threaded x264 without
   * non-deterministic threading, so reruns (and resumed jobs) produce identical files. Default false.
   */
  deterministic?: boolean;
}

/** Options for buildEncodeArgs. */
export interface EncodeArgsOptions extends VideoCodecOptions {
  width: number;
  height: number;
  /** Frame rate of the raw input (rational string, e.g. `30000/1001`). */
  frameRate: string;
  /** Local file whose first audio stream is copied into the output (usually the source), when it has audio; passed as `file:` + absolute path. */
  audioFrom?: { path: string; codec: string; start?: number; duration?: number };
  /** Output path (usually a temporary name; renaming is the caller's business). */
  output: string;
  /** Container format passed as -f (the temp name may lack the extension). Default `mp4`. */
  format?: string;
  /** Colour of the raw frames (the source's), tagged on the output so players read it as the source. Default: untagged (BT.601 limited). */
  colour?: YuvColour;
}

/**
 * Input options that tag raw I420 frames with their colour: the matrix when it is not BT.601 (ffmpeg's
 * reading of untagged video) and full range when it is full; nothing for BT.601 limited.
 */
export function colourTagArgs(colour: YuvColour | undefined): string[] {
  if (!colour) return [];
  const args: string[] = [];
  if (colour.matrix === 'bt709') args.push('-colorspace', 'bt709');
  else if (colour.matrix === 'bt2020') args.push('-colorspace', 'bt2020nc');
  if (colour.range === 'full') args.push('-color_range', 'pc');
  return args;
}

/** Default pixel format for a size: 4:2:0 when both sides are even, else 4:4:4 (keeps the exact size). */
export function defaultPixelFormat(width: number, height: number): string {
  return width % 2 === 0 && height % 2 === 0 ? 'yuv420p' : 'yuv444p';
}

/**
 * ffmpeg arguments that read raw I420 (`yuv420p`) frames on stdin and write an encoded file, copying audio
 * when possible. With the default 4:2:0 output the frames reach the encoder without any conversion.
 */
export function buildEncodeArgs(o: EncodeArgsOptions): string[] {
  const codec = o.codec ?? 'libx264';
  const format = o.format ?? 'mp4';
  const args = [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'error',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'yuv420p',
    '-s',
    `${o.width}x${o.height}`,
    '-r',
    o.frameRate,
    ...colourTagArgs(o.colour),
    '-i',
    'pipe:0',
  ];
  if (o.audioFrom) {
    args.push(...(o.audioFrom.start !== undefined ? ['-ss', String(o.audioFrom.start)] : []));
    args.push(...(o.audioFrom.duration !== undefined ? ['-t', String(o.audioFrom.duration)] : []));
    args.push('-i', localInput(o.audioFrom.path), '-map', '0:v:0', '-map', '1:a:0');
    const copy = (format === 'mp4' || format === 'mov') && MP4_AUDIO_COPY.has(o.audioFrom.codec);
    args.push(...(copy ? ['-c:a', 'copy'] : format === 'webm' ? ['-c:a', 'libopus', '-b:a', '128k'] : ['-c:a', 'aac', '-b:a', '160k'])); // WebM holds only Opus or Vorbis audio
  } else {
    args.push('-map', '0:v:0');
  }
  args.push('-c:v', codec);
  if (codec === 'libx264' || codec === 'libx265') {
    args.push('-preset', o.preset ?? 'medium', '-crf', String(o.crf ?? 18));
    if (o.deterministic) args.push('-threads', '1');
  } else if (codec === 'libvpx' || codec === 'libvpx-vp9') {
    args.push('-crf', String(o.crf ?? 18), '-b:v', '0');
  }
  args.push('-pix_fmt', o.pixelFormat ?? defaultPixelFormat(o.width, o.height));
  if (format === 'mp4' || format === 'mov') args.push('-movflags', '+faststart');
  // Deterministic output also needs no encoder tag with a version string that could change between hosts.
  if (o.deterministic) args.push('-fflags', '+bitexact', '-flags:v', '+bitexact', '-map_metadata', '-1');
  args.push('-f', format, '-y', localOutput(o.output));
  return args;
}
