/** Pure ffmpeg argument builders for the benchmark's reference runs. */

/** A bare decode + encode of the video stream with the same encoder settings the pipeline uses. */
export function buildTranscodeArgs(o: { input: string; output: string; codec: string; preset: string; crf: number; duration?: number }): string[] {
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    '-i', o.input,
    ...(o.duration !== undefined ? ['-t', String(o.duration)] : []),
    '-map', '0:v:0', '-c:v', o.codec, '-preset', o.preset, '-crf', String(o.crf), '-pix_fmt', 'yuv420p',
    '-f', 'mp4', '-y', o.output,
  ];
}

/** A clip of `seconds` made by looping `input` (video and audio), for memory-versus-length runs. */
export function buildLoopClipArgs(o: { input: string; output: string; seconds: number }): string[] {
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    '-stream_loop', '-1', '-i', o.input, '-t', String(o.seconds),
    '-map', '0:v:0', '-map', '0:a:0?', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '18', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    '-f', 'mp4', '-y', o.output,
  ];
}

/**
 * The input at another frame size, for overhead-by-resolution runs: scaled to fit inside width×height
 * keeping its aspect (faces keep their shape, so detection sees the same faces) and centred on black
 * to exactly width×height (sizes must be even: 4:2:0). Frames keep their timestamps (`-fps_mode
 * passthrough`): the mp4 muxer's default constant rate would duplicate frames of an irregular clip
 * (short_hamilton_clip: 275 frames became 300), so the scaled clip would not hold the same frames. Near-lossless (x264 veryfast crf 12) so both
 * measured runs decode a clean picture; audio copied as it is; `duration` seconds from the start.
 */
export function buildScaleClipArgs(o: { input: string; output: string; width: number; height: number; duration?: number }): string[] {
  const { width: w, height: h } = o;
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    '-i', o.input,
    ...(o.duration !== undefined ? ['-t', String(o.duration)] : []),
    '-map', '0:v:0', '-map', '0:a:0?', '-fps_mode', 'passthrough',
    '-vf', `scale=${w}:${h}:force_original_aspect_ratio=decrease:force_divisible_by=2,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,setsar=1`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '12', '-pix_fmt', 'yuv420p', '-c:a', 'copy',
    '-f', 'mp4', '-y', o.output,
  ];
}

/** One frame of `input` at `seconds` as a still image (`output`'s extension names the format), for the photo throughput. */
export function buildStillArgs(o: { input: string; output: string; seconds: number }): string[] {
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    '-ss', String(o.seconds), '-i', o.input, '-frames:v', '1', '-q:v', '2',
    '-y', o.output,
  ];
}
