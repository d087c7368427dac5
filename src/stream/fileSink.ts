import { mkdir, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { FaceRestoreError } from '../errors.ts';
import type { AnalyzedFrame, VideoInfo } from '../types.ts';
import { ChildRunner } from '../util/process.ts';
import { commitPartial, discardPartial, partialPathFor, removeStalePartials } from '../util/atomicFile.ts';
import { buildEncodeArgs, type VideoCodecOptions } from './encodeArgs.ts';
import type { FrameSink } from './sink.ts';

/** Options for FileSink. */
export interface FileSinkOptions extends VideoCodecOptions {
  /** Final output path; written only when encoding succeeds. */
  output: string;
  ffmpegPath?: string;
  /** Copy the source's audio (default true when it has audio). */
  copyAudio?: boolean;
  /** Container format; default from the output's extension (`mp4` when unknown). */
  format?: string;
  /** Decode window of the source, so the audio is cut to match (segments). */
  window?: { start?: number; duration?: number };
}

const FORMAT_BY_EXT: Record<string, string> = { '.mp4': 'mp4', '.m4v': 'mp4', '.mov': 'mov', '.mkv': 'matroska', '.webm': 'webm', '.avi': 'avi', '.ts': 'mpegts', '.nut': 'nut' };

/**
 * Encodes frames with ffmpeg into a temporary file beside the output and renames it into place on
 * success. On any failure or abort the temporary file is removed: no partial output remains.
 */
export class FileSink implements FrameSink {
  readonly options: FileSinkOptions;
  /** `write` resolves once the frame's bytes are in the encoder's pipe (see write). */
  readonly releasesFrames = true;
  #runner: ChildRunner | undefined;
  #partial: string | undefined;
  #done = false;
  /** The outermost folder this sink created for the output, removed again (when empty) if the run fails. */
  #createdDir: string | undefined;

  constructor(options: FileSinkOptions) {
    this.options = options;
  }

  async start(info: VideoInfo): Promise<void> {
    const out = this.options.output;
    this.#createdDir = await mkdir(path.dirname(path.resolve(out)), { recursive: true }).catch((e: Error) => {
      throw new FaceRestoreError('E_OUTPUT', `cannot create the output folder for ${out}: ${e.message}`, { cause: e });
    });
    if (await stat(out).then((s) => s.isDirectory(), () => false)) throw new FaceRestoreError('E_OUTPUT', `output ${out} is a directory`);
    // A run killed before it could clean up left its temporary file; a re-run is the resume.
    await removeStalePartials(out);
    this.#partial = partialPathFor(out);
    const format = this.options.format ?? FORMAT_BY_EXT[path.extname(out).toLowerCase()] ?? 'mp4';
    const args = buildEncodeArgs({
      ...this.options,
      width: info.width,
      height: info.height,
      frameRate: info.frameRate,
      audioFrom: info.audio && this.options.copyAudio !== false ? { path: info.path, codec: info.audio.codec, ...this.options.window } : undefined,
      output: this.#partial,
      format,
      colour: info.colour,
    });
    this.#runner = await ChildRunner.start(this.options.ffmpegPath ?? 'ffmpeg', args, { missingCode: 'E_FFMPEG_MISSING' });
  }

  async write(item: AnalyzedFrame): Promise<void> {
    const runner = this.#runner;
    if (!runner) throw new FaceRestoreError('E_INTERNAL', 'FileSink.write before start');
    const stdin = runner.child.stdin!;
    if (!runner.running || stdin.destroyed) await this.#fail('the encoder stopped early');
    // Resolves when the write has reached the pipe (its callback; a frame is larger than the stream's buffer,
    // so this is also when the stream drains): the frame's buffer is free again from then on (releasesFrames).
    await new Promise<void>((resolve) => {
      const done = () => {
        runner.child.off('close', done);
        resolve();
      };
      runner.child.once('close', done);
      stdin.write(item.frame.data, done);
    });
    if (!runner.running) await this.#fail('the encoder stopped early');
  }

  async finish(): Promise<void> {
    const runner = this.#runner;
    if (!runner || !this.#partial) throw new FaceRestoreError('E_INTERNAL', 'FileSink.finish before start');
    runner.child.stdin!.end();
    const exit = await runner.exited;
    if (exit.code !== 0) await this.#fail(`ffmpeg exit ${exit.code ?? exit.signal}`);
    try {
      await commitPartial(this.#partial, this.options.output);
    } catch (e) {
      await this.abort();
      throw new FaceRestoreError('E_OUTPUT', `cannot move the finished output into ${this.options.output}: ${(e as Error).message}`, { cause: e });
    }
    this.#done = true;
  }

  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#runner?.kill();
    if (this.#partial) await discardPartial(this.#partial);
    await this.#removeCreatedFolders();
  }

  /** Removes the folders {@link start} created, deepest first, stopping at one that is not empty. */
  async #removeCreatedFolders(): Promise<void> {
    const top = this.#createdDir;
    if (!top) return;
    for (let dir = path.dirname(path.resolve(this.options.output)); ; dir = path.dirname(dir)) {
      if (!(await rmdir(dir).then(() => true, () => false))) return;
      if (dir === top || path.dirname(dir) === dir) return;
    }
  }

  async #fail(why: string): Promise<never> {
    const tail = this.#runner?.stderrTail(3);
    await this.abort();
    throw new FaceRestoreError('E_ENCODE', `encoding ${this.options.output} failed: ${why}${tail ? `: ${tail}` : ''}`);
  }
}
