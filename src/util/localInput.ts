import path from 'node:path';

/**
 * A local file as ffmpeg and ffprobe must be given it: `file:` + its absolute path. A bare path is read
 * by ffmpeg as a URL or an option when it looks like one: `pipe:0` reads stdin (and hangs),
 * `concat:a.mp4|b.mp4` reads other files, a relative `http://host/x.mp4` fetches the URL, and a name
 * starting with `-` is taken for an option. The `file:` protocol opens exactly the named file.
 * (Relative paths resolve against the process's working folder.)
 */
export function localInput(file: string): string {
  return `file:${path.resolve(file)}`;
}

/** A local output file as ffmpeg must be given it (same reasons as localInput: `out:1.mp4` would be a protocol). */
export const localOutput = localInput;
