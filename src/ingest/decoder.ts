import { FaceRestoreError } from '../errors.ts';
import type { VideoFrame, VideoInfo } from '../types.ts';
import { ChildRunner } from '../util/process.ts';
import { buildDecodeArgs, parseShowinfoLine } from './ffmpegArgs.ts';

/** Options for VideoDecoder.create. */
export interface DecoderOptions {
  ffmpegPath?: string;
  /** Decode from this time (seconds). */
  start?: number;
  /** Decode this many seconds. */
  duration?: number;
}

/**
 * Streams the frames of a probed video as RGB24, in presentation order, each with its index and pts.
 * Variable-rate input is resampled to its average rate (duplicating or dropping frames, as a player
 * would) so the output keeps its duration and stays in sync with the audio. Memory use is one frame
 * at a time plus the pipe's buffer: the consumer's pace drives ffmpeg's (backpressure through the pipe).
 */
export class VideoDecoder {
  readonly info: VideoInfo;
  readonly #runner: ChildRunner;
  readonly #frameBytes: number;
  readonly #options: DecoderOptions;
  readonly #pts = new Map<number, number>();
  #ptsWaiter: (() => void) | undefined;
  #closed = false;
  #started = false;

  private constructor(info: VideoInfo, runner: ChildRunner, options: DecoderOptions) {
    this.info = info;
    this.#options = options;
    this.#runner = runner;
    this.#frameBytes = info.width * info.height * 3;
  }

  /** Starts ffmpeg on `info.path`. Errors: E_FFMPEG_MISSING. */
  static async create(info: VideoInfo, options: DecoderOptions = {}): Promise<VideoDecoder> {
    const args = buildDecodeArgs({
      input: info.path,
      constantFrameRate: info.variableFrameRate ? info.frameRate : undefined,
      start: options.start,
      duration: options.duration,
    });
    const lines: string[] = [];
    let sink: (line: string) => void = (line) => void lines.push(line);
    const runner = await ChildRunner.start(options.ffmpegPath ?? 'ffmpeg', args, {
      missingCode: 'E_FFMPEG_MISSING',
      onStderrLine: (line) => sink(line),
    });
    const decoder = new VideoDecoder(info, runner, options);
    sink = (line) => decoder.#onStderr(line);
    lines.forEach(sink);
    return decoder;
  }

  #onStderr(line: string): void {
    const parsed = parseShowinfoLine(line);
    if (!parsed) return;
    this.#pts.set(parsed.n, parsed.ptsTime);
    this.#ptsWaiter?.();
  }

  async #ptsOf(n: number): Promise<number> {
    while (!this.#pts.has(n)) {
      if (!this.#runner.running) {
        await this.#runner.exited;
        if (!this.#pts.has(n)) return n / this.info.fps;
        break;
      }
      await new Promise<void>((resolve) => {
        this.#ptsWaiter = resolve;
        const t = setTimeout(resolve, 50);
        t.unref();
      });
    }
    const v = this.#pts.get(n)!;
    this.#pts.delete(n);
    return v;
  }

  /**
   * Yields frames in order. Throws E_DECODE when ffmpeg fails before producing any frame, or
   * when it stops mid-stream with an error (truncated or corrupt data); frames already yielded stand.
   */
  async *frames(): AsyncGenerator<VideoFrame> {
    if (this.#started) throw new FaceRestoreError('E_INTERNAL', 'VideoDecoder.frames() can be iterated once');
    this.#started = true;
    const { width, height } = this.info;
    let index = 0;
    let frame = Buffer.allocUnsafe(this.#frameBytes);
    let filled = 0;
    try {
      for await (const chunk of this.#runner.child.stdout! as AsyncIterable<Buffer>) {
        let offset = 0;
        while (offset < chunk.length) {
          const n = Math.min(chunk.length - offset, this.#frameBytes - filled);
          chunk.copy(frame, filled, offset, offset + n);
          filled += n;
          offset += n;
          if (filled === this.#frameBytes) {
            const pts = await this.#ptsOf(index);
            yield { index, pts, width, height, data: frame };
            index++;
            frame = Buffer.allocUnsafe(this.#frameBytes);
            filled = 0;
          }
        }
      }
      const exit = await this.#runner.exited;
      if (this.#closed) return;
      // ffmpeg exits 0 on a truncated file after logging errors; what gives it away is missing frames.
      const decodeErrors = /Invalid|error while decoding|partial file|corrupt|Truncat|EOF/i.test(this.#runner.stderr);
      const short = index < this.info.frameCount * 0.95 - 1 || (decodeErrors && index < this.info.frameCount - 1);
      if (exit.code !== 0 || index === 0 || (short && this.#options.duration === undefined)) {
        throw new FaceRestoreError(
          'E_DECODE',
          `decoding ${this.info.path} failed after ${index} of ~${this.info.frameCount} frames (truncated or corrupt input)` +
            (exit.code !== 0 ? ` (ffmpeg exit ${exit.code ?? exit.signal})` : '') +
            `: ${this.#runner.stderrTail(3) || 'no frames decoded'}`,
          { details: { framesDecoded: index } },
        );
      }
    } finally {
      await this.close();
    }
  }

  /** Stops ffmpeg. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#runner.child.stdout?.destroy();
    await this.#runner.kill();
  }
}
