import { FaceRestoreError } from '../errors.ts';
import type { VideoFrame, VideoInfo } from '../types.ts';
import type { Readable } from 'node:stream';
import type { StageCpuMeter } from '../util/cpuMeter.ts';
import type { FramePool } from '../util/framePool.ts';
import { ChildRunner } from '../util/process.ts';
import { openSocketPair } from '../util/socketPair.ts';
import { colourFromNames, i420Layout, type YuvColour } from '../util/yuv.ts';
import { buildDecodeArgs, decodeShowinfoNames, parseShowinfoColour, parseShowinfoLine } from './ffmpegArgs.ts';
import { RawFrameQueue } from './frameQueue.ts';

/** Options for VideoDecoder.create. */
export interface DecoderOptions {
  ffmpegPath?: string;
  /** Decode from this time (seconds). */
  start?: number;
  /** Decode this many seconds. */
  duration?: number;
  /** Charges this process's share of decoding (reassembling frames from the socket or pipe) to its `decode` stage. */
  cpu?: StageCpuMeter;
  /**
   * Frame buffers come from here (the caller gives them back once a frame is written); default a new buffer
   * per frame. The pool's size must be the frames' I420 size.
   */
  pool?: FramePool;
  /**
   * Read ffmpeg's output through a Unix socket pair into one reused buffer (util/socketPair.ts) rather than
   * its stdout pipe; falls back to the pipe when the pair cannot be made. Default true.
   */
  socket?: boolean;
}

/** Bytes of the reused read buffer of the socket path (a Unix socket read returns up to its ~208 KiB buffer). */
const SOCKET_READ_BYTES = 256 * 1024;

/**
 * What resampling a variable-rate input to a constant rate did, counted from every source frame's pts
 * (logged before the fps filter) and the frames that came out. The fps filter shows, in each output slot
 * (1/rate), the last source frame whose pts rounds to that slot or earlier: a source frame is dropped when
 * the next one rounds to its slot too (or its slot lies past the end), and repeated for each further slot it fills.
 */
export interface ResampleReport {
  /** The constant rate frames were resampled to (rational string). */
  rate: string;
  /** Source frames the decoder read (before resampling). */
  sourceFrames: number;
  /** Frames after resampling (those handed on). */
  outputFrames: number;
  /** Source frames never shown: another source frame rounded to the same output slot. */
  dropped: number;
  /** Extra copies of source frames, filling slots where the source had no new frame (gaps). */
  duplicated: number;
}

/**
 * Streams the frames of a probed video as I420 (see VideoFrame), in presentation order, each with its index,
 * pts and colour (matrix and range as ffmpeg's `showinfo` reports them for that frame).
 * Variable-rate input is resampled to its average rate (duplicating or dropping frames, as a player
 * would) so the output keeps its duration and stays in sync with the audio; {@link resampling} says
 * exactly how many frames that dropped and duplicated. Memory use is at most two complete frames and the
 * one being read, plus the socket's (or pipe's) buffer: the consumer's pace drives ffmpeg's (backpressure
 * through the socket). ffmpeg's output is read through a Unix socket pair into one reused buffer where it can
 * be made (util/socketPair.ts: no per-read allocation), else through its stdout pipe.
 */
export class VideoDecoder {
  readonly info: VideoInfo;
  readonly #runner: ChildRunner;
  readonly #frames: RawFrameQueue;
  /** Where the frames' bytes come from: the socket pair's reader, or the child's stdout pipe. */
  readonly #source: Readable;
  readonly #options: DecoderOptions;
  readonly #pts = new Map<number, number>();
  readonly #colour = new Map<number, YuvColour>();
  #lastN = -1;
  #ptsWaiter: (() => void) | undefined;
  #closed = false;
  #started = false;
  readonly #showinfo: { output: string; source: string | undefined };
  /** Resampling only: output slots that some source frame rounds to, and how many source frames came. */
  readonly #sourceSlots = new Set<number>();
  #sourceFrames = 0;
  #outputFrames = 0;

  private constructor(info: VideoInfo, runner: ChildRunner, options: DecoderOptions, frames: RawFrameQueue, source: Readable) {
    this.info = info;
    this.#options = options;
    this.#runner = runner;
    this.#frames = frames;
    this.#source = source;
    this.#showinfo = decodeShowinfoNames(info.variableFrameRate);
  }

  /**
   * For variable-rate input (resampled to `info.frameRate`): how many source frames came in, how many went
   * out, and how many were dropped or duplicated, so far (complete once frames() has ended). Undefined
   * for constant-rate input, where every source frame is handed on once with its own pts.
   */
  resampling(): ResampleReport | undefined {
    if (!this.#showinfo.source) return undefined;
    // Output slots run from the first source frame's slot for outputFrames slots; a source frame whose slot
    // lies past the last (the stream ended there) is never shown.
    let first = Infinity;
    for (const slot of this.#sourceSlots) first = Math.min(first, slot);
    let shown = 0;
    for (const slot of this.#sourceSlots) if (slot < first + this.#outputFrames) shown++;
    return {
      rate: this.info.frameRate,
      sourceFrames: this.#sourceFrames,
      outputFrames: this.#outputFrames,
      dropped: Math.max(0, this.#sourceFrames - shown),
      duplicated: Math.max(0, this.#outputFrames - shown),
    };
  }

  /** Starts ffmpeg on `info.path`. Errors: E_FFMPEG_MISSING. */
  static async create(info: VideoInfo, options: DecoderOptions = {}): Promise<VideoDecoder> {
    const args = buildDecodeArgs({
      input: info.path,
      constantFrameRate: info.variableFrameRate ? info.frameRate : undefined,
      start: options.start,
      duration: options.duration,
    });
    const bytes = i420Layout(info.width, info.height).size;
    if (options.pool && options.pool.bytes !== bytes) throw new FaceRestoreError('E_INTERNAL', `frame pool of ${options.pool.bytes} bytes for ${info.width}×${info.height} frames (${bytes} bytes)`);
    const queue = new RawFrameQueue(bytes, options.pool);
    const cpu = options.cpu;
    const take = (buf: Uint8Array, n: number): boolean => {
      const c = cpu?.now() ?? 0;
      const more = queue.push(buf, 0, n);
      if (cpu) cpu.add('decode', c);
      return more;
    };
    const pair = options.socket === false ? undefined : await openSocketPair({ buffer: Buffer.allocUnsafe(SOCKET_READ_BYTES), callback: (n, buf) => take(buf, n) }).catch(() => undefined);
    const lines: string[] = [];
    let sink: (line: string) => void = (line) => void lines.push(line);
    let runner: ChildRunner;
    try {
      runner = await ChildRunner.start(options.ffmpegPath ?? 'ffmpeg', args, {
        missingCode: 'E_FFMPEG_MISSING',
        onStderrLine: (line) => sink(line),
        stdout: pair?.childEnd,
      });
    } catch (e) {
      pair?.childEnd.destroy();
      pair?.reader.destroy();
      throw e;
    }
    const source: Readable = pair?.reader ?? runner.child.stdout!;
    if (!pair) source.on('data', (chunk: Buffer) => void (take(chunk, chunk.length) || source.pause()));
    queue.onDrain = () => source.resume();
    source.once('end', () => queue.end());
    source.once('close', () => queue.end());
    // A read error (not expected from a local socket or pipe) surfaces as a decode error of this input.
    source.once('error', (e) => queue.end(new FaceRestoreError('E_DECODE', `reading the decoded frames of ${info.path} failed: ${e.message}`, { cause: e })));
    const decoder = new VideoDecoder(info, runner, options, queue, source);
    sink = (line) => decoder.#onStderr(line);
    lines.forEach(sink);
    return decoder;
  }

  #onStderr(line: string): void {
    const source = this.#showinfo.source ? parseShowinfoLine(line, this.#showinfo.source) : undefined;
    if (source) {
      this.#sourceFrames++;
      this.#sourceSlots.add(Math.round(source.ptsTime * this.info.fps));
      return;
    }
    const parsed = parseShowinfoLine(line, this.#showinfo.output);
    if (parsed) {
      this.#pts.set(parsed.n, parsed.ptsTime);
      this.#lastN = parsed.n;
      this.#ptsWaiter?.();
      return;
    }
    // showinfo logs a frame's colour line after its pts line, before the frame reaches stdout.
    const colour = parseShowinfoColour(line, this.#showinfo.output);
    if (colour && this.#lastN >= 0) {
      this.#colour.set(this.#lastN, colourFromNames(colour.space, colour.range));
      this.#ptsWaiter?.();
    }
  }

  /** The pts and colour of frame n, waiting for showinfo's lines about it (a frame's bytes can overtake them). */
  async #factsOf(n: number): Promise<{ pts: number; colour: YuvColour | undefined }> {
    // A colour line missing (another ffmpeg's showinfo) must not stall: frame n+1's pts line ends the wait.
    while (!this.#pts.has(n) || (!this.#colour.has(n) && !this.#pts.has(n + 1))) {
      if (!this.#runner.running) {
        await this.#runner.exited;
        if (!this.#pts.has(n)) return { pts: n / this.info.fps, colour: this.#takeColour(n) };
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
    return { pts: v, colour: this.#takeColour(n) };
  }

  #takeColour(n: number): YuvColour | undefined {
    const c = this.#colour.get(n);
    this.#colour.delete(n);
    return c;
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
    try {
      for (let data = await this.#frames.next(); data; data = await this.#frames.next()) {
        const { pts, colour } = await this.#factsOf(index);
        yield colour ? { index, pts, width, height, data, colour } : { index, pts, width, height, data };
        index++;
        this.#outputFrames = index;
      }
      const exit = await this.#runner.exited;
      if (this.#closed) return;
      // ffmpeg exits 0 on a truncated file after logging errors; what gives it away is missing frames.
      const decodeErrors = /Invalid|error while decoding|partial file|corrupt|Truncat|EOF/i.test(this.#runner.stderr);
      const short = index < this.info.frameCount * 0.95 - 1 || (decodeErrors && index < this.info.frameCount - 1);
      const windowed = this.#options.duration !== undefined || this.#options.start !== undefined;
      if (exit.code === 0 && index === 0 && windowed && !decodeErrors) {
        // An empty window is the user's choice of times, not a damaged file: say where the video lies.
        const from = this.#options.start ?? 0;
        const to = this.#options.duration !== undefined ? `${round3(from + this.#options.duration)} s` : 'the end';
        const vs = this.info.videoStart ?? 0;
        throw new FaceRestoreError(
          'E_USAGE',
          `no video frames of ${this.info.path} lie between ${round3(from)} s and ${to}: its video runs from ${round3(vs)} s to ${round3(vs + this.info.duration)} s (times count from the container's start)`,
        );
      }
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
    this.#source.destroy();
    this.#frames.end();
    await this.#runner.kill();
  }
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
