/**
 * Checks at the CLI edge, before any work starts, that an output can be written: a container the product
 * can write (chosen by extension, as the file sink chooses it), a video codec that container holds, and a
 * target that is not a folder and lies in a folder the user may write to. A refused output creates nothing.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { FaceRestoreError } from '../../errors.ts';

/**
 * Output extensions the file sink maps to an ffmpeg muxer (`src/stream/fileSink.ts`), and the video
 * encoders each container holds; `undefined` means any encoder ffmpeg can put there.
 */
const CONTAINERS: Readonly<Record<string, { codecs?: readonly string[]; defaultCodec?: string }>> = {
  '.mp4': {}, '.m4v': {}, '.mov': {}, '.mkv': {}, '.avi': {}, '.ts': {}, '.nut': {},
  '.webm': { codecs: ['libvpx', 'libvpx-vp9', 'libaom-av1', 'libsvtav1', 'librav1e'], defaultCodec: 'libvpx-vp9' },
};

/** The extensions {@link checkVideoOutput} accepts, for messages and docs. */
export const VIDEO_OUTPUT_EXTENSIONS: readonly string[] = Object.keys(CONTAINERS);

/** Options for {@link checkVideoOutput}. */
export interface VideoOutputCheck {
  /** Video encoder asked for. */
  codec: string;
  /** True when the codec is the CLI's default rather than the user's choice (then it may be adapted). */
  codecIsDefault: boolean;
  /** The video encoders this ffmpeg has (src/stream/encoderList.ts); unchecked when absent. */
  encoders?: ReadonlySet<string> | undefined;
}

/**
 * Refuses an output the product cannot write (E_USAGE naming the supported extensions, or the codecs a
 * container holds) or a target that cannot be written (E_OUTPUT), and returns the video codec to use: the
 * container's own default (VP9 for `.webm`) when the user left the codec at the CLI default.
 * A file without an extension is written as MP4, as the file sink does.
 */
export async function checkVideoOutput(output: string, o: VideoOutputCheck): Promise<string> {
  const ext = path.extname(output).toLowerCase();
  const container = ext === '' ? {} : CONTAINERS[ext];
  if (!container) {
    throw new FaceRestoreError('E_USAGE', `cannot write a '${ext}' file (${output}); supported output extensions: ${VIDEO_OUTPUT_EXTENSIONS.join(', ')}`);
  }
  let codec = o.codec;
  if (container.codecs && !container.codecs.includes(codec)) {
    if (!o.codecIsDefault) throw new FaceRestoreError('E_USAGE', `a ${ext} file cannot hold ${codec} video; use --codec ${container.codecs.join(' | ')}`);
    codec = container.defaultCodec!;
  }
  if (o.encoders && !o.encoders.has(codec)) {
    const known = ['libx264', 'libx265', 'libvpx-vp9', 'libaom-av1', 'libsvtav1', 'mpeg4', 'h264_nvenc', 'hevc_nvenc'].filter((c) => o.encoders!.has(c));
    throw new FaceRestoreError('E_USAGE', `this ffmpeg has no video encoder '${codec}'${known.length ? `; it has ${known.join(', ')} (\`ffmpeg -encoders\` lists all)` : ''}`);
  }
  await checkWritableTarget(output, 'output');
  return codec;
}

/**
 * Refuses (E_OUTPUT) a target that is a folder, or whose nearest existing folder the user may not write
 * to; folders still missing are created later by the writer. `what` names the target in messages.
 */
export async function checkWritableTarget(target: string, what: string): Promise<void> {
  const info = await stat(target).catch(() => undefined);
  if (info?.isDirectory()) throw new FaceRestoreError('E_OUTPUT', `${what} ${target} is a folder; give a file name`);
  let dir = path.dirname(path.resolve(target));
  for (;;) {
    const d = await stat(dir).catch(() => undefined);
    if (d) {
      if (!d.isDirectory()) throw new FaceRestoreError('E_OUTPUT', `cannot write ${what} ${target}: ${dir} is a file, not a folder`);
      break;
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new FaceRestoreError('E_OUTPUT', `cannot write ${what} ${target}: the folder ${dir} is not writable (permission denied)`);
  }
}
