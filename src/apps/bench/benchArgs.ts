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
