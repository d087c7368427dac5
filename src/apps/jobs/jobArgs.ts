/**
 * Pure builders and parsers of the ffprobe/ffmpeg argument lists the job system runs. Nothing here
 * spawns anything. Local files go in as `file:` + absolute path (see localInput).
 */

import { FaceRestoreError } from '../../errors.ts';
import { localInput, localOutput } from '../../util/localInput.ts';

/** Audio codecs an MP4 container carries as they are (the same list as the file encoder's). */
const MP4_AUDIO_COPY = new Set(['aac', 'mp3', 'ac3', 'eac3', 'alac', 'opus', 'flac']);

/**
 * ffprobe arguments that list the first video stream's packets (pts and flags, in decode order) with the
 * stream's time base and the container's start time, as JSON. No decoding: fast even for hours of video.
 */
export function buildPacketProbeArgs(input: string): string[] {
  return ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts,flags:stream=time_base,nb_frames:format=start_time', '-of', 'json', localInput(input)];
}

/** One video packet: presentation timestamp in stream ticks and whether it starts a keyframe. */
export interface ProbedPacket {
  pts: number;
  key: boolean;
}

/** What buildPacketProbeArgs's output says. */
export interface PacketProbe {
  /** Stream time base as [numerator, denominator]. */
  timeBase: [number, number];
  /** Container start time in seconds (ffmpeg subtracts it from every timestamp when decoding). */
  startTime: number;
  /** Packets that decode to a frame (discarded ones left out), in decode order. */
  packets: ProbedPacket[];
  /** True when some packet has no pts (the timeline cannot be known without decoding). */
  missingPts: boolean;
  /** Packets read, discarded ones included. */
  packetsRead: number;
  /** Frame count the container declares (NaN when it declares none). */
  declaredFrames: number;
}

/** Parses buildPacketProbeArgs's JSON. Throws E_PROBE when it is not what ffprobe writes. */
export function parsePacketProbe(json: string, input: string): PacketProbe {
  let data: { packets?: Array<{ pts?: number | string; flags?: string }>; streams?: Array<{ time_base?: string; nb_frames?: string }>; format?: { start_time?: string } };
  try {
    data = JSON.parse(json);
  } catch (e) {
    throw new FaceRestoreError('E_PROBE', `cannot read the packet list of ${input}: ffprobe wrote no JSON`, { cause: e });
  }
  const tb = /^(\d+)\/(\d+)$/.exec(data.streams?.[0]?.time_base ?? '');
  if (!tb || Number(tb[1]) <= 0 || Number(tb[2]) <= 0) throw new FaceRestoreError('E_PROBE', `cannot read the video time base of ${input}`);
  const startTime = Number(data.format?.start_time);
  const packets: ProbedPacket[] = [];
  let missingPts = false;
  for (const p of data.packets ?? []) {
    const flags = p.flags ?? '';
    if (flags.includes('D')) continue;
    const pts = Number(p.pts);
    if (p.pts === undefined || !Number.isFinite(pts)) {
      missingPts = true;
      continue;
    }
    packets.push({ pts, key: flags.includes('K') });
  }
  const declared = Number(data.streams?.[0]?.nb_frames);
  return {
    timeBase: [Number(tb[1]), Number(tb[2])],
    startTime: Number.isFinite(startTime) ? startTime : 0,
    packets,
    missingPts,
    packetsRead: data.packets?.length ?? 0,
    declaredFrames: declared > 0 ? declared : NaN,
  };
}

/** Quotes a path for an ffconcat `file` line (single quotes; a quote inside becomes '\''). */
export function concatQuote(file: string): string {
  return `'${file.replace(/'/g, "'\\''")}'`;
}

/** An ffconcat list of `files` (paths relative to the list's folder, or absolute). */
export function buildConcatList(files: readonly string[]): string {
  return ['ffconcat version 1.0', ...files.map((f) => `file ${concatQuote(f)}`), ''].join('\n');
}

/** Options for buildJoinArgs. */
export interface JoinArgsOptions {
  /** The ffconcat list of the segment files. */
  list: string;
  /** The original input, whose first audio stream is copied into the output when `audioCodec` is set. */
  source: string;
  /** Codec of the source's audio, or undefined when it has none. */
  audioCodec: string | undefined;
  /** Output path (a temporary name; renaming is the caller's business). */
  output: string;
  /** Container format (`mp4`). */
  format?: string;
  /** No version strings or metadata that could differ between hosts (repeatable bytes). */
  deterministic?: boolean;
}

/**
 * ffmpeg arguments that join the segment files with the concat demuxer without re-encoding the video, and
 * take the whole audio track from the original (copied when the container can carry it).
 */
export function buildJoinArgs(o: JoinArgsOptions): string[] {
  const format = o.format ?? 'mp4';
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-f', 'concat', '-safe', '0', '-i', localInput(o.list)];
  if (o.audioCodec) {
    const copy = (format === 'mp4' || format === 'mov') && MP4_AUDIO_COPY.has(o.audioCodec);
    args.push('-i', localInput(o.source), '-map', '0:v:0', '-map', '1:a:0', '-c:v', 'copy', ...(copy ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', '160k']));
  } else {
    args.push('-map', '0:v:0', '-c:v', 'copy');
  }
  if (format === 'mp4' || format === 'mov') args.push('-movflags', '+faststart');
  if (o.deterministic) args.push('-fflags', '+bitexact', '-flags:v', '+bitexact', '-map_metadata', '-1');
  args.push('-f', format, '-y', localOutput(o.output));
  return args;
}

/** ffprobe arguments that print the number of video packets (frames) a finished file holds. */
export function buildCountFramesArgs(file: string): string[] {
  return ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', localInput(file)];
}
