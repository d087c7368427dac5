/**
 * Pure builders of ffmpeg/ffprobe argument lists for probing and decoding. Nothing here spawns anything.
 * Local inputs go in as `file:` + absolute path (see localInput), never as bare paths.
 */

import { localInput } from '../util/localInput.ts';

/**
 * ffprobe arguments that print every stream and the container's facts of a local `file` as JSON.
 * `-count_packets` makes ffprobe demux the file (no decoding) and report each stream's real packet
 * count (`nb_read_packets`), so plans rest on what the file holds rather than on what its header claims.
 */
export function buildProbeArgs(file: string): string[] {
  return ['-v', 'error', '-count_packets', '-print_format', 'json', '-show_streams', '-show_format', localInput(file)];
}

/** Options for buildDecodeArgs. */
export interface DecodeArgsOptions {
  /** Local file (passed as `file:` + absolute path). */
  input: string;
  /** When set, frames are resampled to this constant rate (rational string) — used for variable-rate input. */
  constantFrameRate?: string;
  /** Start time in seconds (input seek, frame accurate after decoding). */
  start?: number;
  /** Duration to decode, seconds. */
  duration?: number;
}

/**
 * ffmpeg arguments that decode the first video stream of `input` to raw I420 (`yuv420p`) on stdout, one
 * frame after another, with `showinfo` lines per frame on stderr carrying its pts and colour. Rotation
 * metadata is applied by ffmpeg's autorotation (before our filters), so frames come out upright. 4:2:0
 * input (nearly all video) passes through without any colour conversion.
 */
export function buildDecodeArgs(o: DecodeArgsOptions): string[] {
  const filters = [...(o.constantFrameRate ? [`fps=${o.constantFrameRate}`] : []), 'showinfo=checksum=0'];
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'info',
    ...(o.start !== undefined ? ['-ss', String(o.start)] : []),
    '-i',
    localInput(o.input),
    ...(o.duration !== undefined ? ['-t', String(o.duration)] : []),
    '-map',
    '0:v:0',
    '-vf',
    filters.join(','),
    '-fps_mode',
    'passthrough',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'yuv420p',
    'pipe:1',
  ];
}

/** Parses one `showinfo` stderr line into its frame number and pts (seconds), or undefined. */
export function parseShowinfoLine(line: string): { n: number; ptsTime: number } | undefined {
  if (!line.includes('Parsed_showinfo')) return undefined;
  const n = /\bn:\s*(\d+)/.exec(line);
  const t = /\bpts_time:\s*(-?[\d.]+(?:e[-+]?\d+)?)/i.exec(line);
  if (!n || !t) return undefined;
  return { n: Number(n[1]), ptsTime: Number(t[1]) };
}

/** Parses a `showinfo` colour line (`color_range:tv color_space:bt709 …`) into its range and space names, or undefined. */
export function parseShowinfoColour(line: string): { range: string; space: string } | undefined {
  if (!line.includes('Parsed_showinfo')) return undefined;
  const m = /\bcolor_range:\s*(\S+)\s+color_space:\s*(\S+)/.exec(line);
  return m ? { range: m[1]!, space: m[2]! } : undefined;
}
