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
  // Resampling: a showinfo before the fps filter logs every source frame's pts too, so the decoder can say
  // exactly which source frames the resampling drops or repeats (decodeShowinfoNames names the two).
  const filters = o.constantFrameRate ? ['showinfo=checksum=0', `fps=${o.constantFrameRate}`, 'showinfo=checksum=0'] : ['showinfo=checksum=0'];
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

/**
 * The log names of the showinfo filters in {@link buildDecodeArgs}'s chain: `output` reports the frames
 * that reach stdout; `source`, only when resampling, the source frames before the fps filter.
 */
export function decodeShowinfoNames(resampled: boolean): { output: string; source: string | undefined } {
  return resampled ? { output: 'Parsed_showinfo_2', source: 'Parsed_showinfo_0' } : { output: 'Parsed_showinfo_0', source: undefined };
}

/**
 * Parses one `showinfo` stderr line into its frame number and pts (seconds), or undefined. With `filter`
 * (a name from {@link decodeShowinfoNames}), only that filter's lines count.
 */
export function parseShowinfoLine(line: string, filter = 'Parsed_showinfo'): { n: number; ptsTime: number } | undefined {
  if (!line.includes(filter === 'Parsed_showinfo' ? filter : `[${filter} @`)) return undefined;
  const n = /\bn:\s*(\d+)/.exec(line);
  const t = /\bpts_time:\s*(-?[\d.]+(?:e[-+]?\d+)?)/i.exec(line);
  if (!n || !t) return undefined;
  return { n: Number(n[1]), ptsTime: Number(t[1]) };
}

/** Parses a `showinfo` colour line (`color_range:tv color_space:bt709 …`) into its range and space names, or undefined. */
export function parseShowinfoColour(line: string, filter = 'Parsed_showinfo'): { range: string; space: string } | undefined {
  if (!line.includes(filter === 'Parsed_showinfo' ? filter : `[${filter} @`)) return undefined;
  const m = /\bcolor_range:\s*(\S+)\s+color_space:\s*(\S+)/.exec(line);
  return m ? { range: m[1]!, space: m[2]! } : undefined;
}
