import type { FramePool } from '../util/framePool.ts';

/**
 * Reassembles fixed-size raw frames from a byte stream (a decoder's output, read in pieces of any size) and
 * hands them out in order, holding at most `highWater` complete frames: `push` returns false at that point so
 * the reader pauses its source, and `onDrain` asks it to resume once the consumer has taken one. Bytes of an
 * incomplete last frame are dropped at the end. Frame buffers come from `pool` when given (else new ones).
 */
export class RawFrameQueue {
  readonly #frameBytes: number;
  readonly #pool: FramePool | undefined;
  readonly #highWater: number;
  readonly #ready: Buffer[] = [];
  #frame: Buffer | undefined;
  #filled = 0;
  #ended = false;
  #error: unknown;
  #waiter: (() => void) | undefined;
  /** Called when the queue falls below `highWater` again after `push` returned false. */
  onDrain: (() => void) | undefined;
  #full = false;

  /** `highWater`: complete frames held before `push` says stop. Default 2. */
  constructor(frameBytes: number, pool?: FramePool, highWater = 2) {
    this.#frameBytes = frameBytes;
    this.#pool = pool;
    this.#highWater = Math.max(1, highWater);
  }

  /** Takes `src[start, end)`; returns false when the reader should pause (the queue is full). */
  push(src: Uint8Array, start = 0, end = src.length): boolean {
    let offset = start;
    while (offset < end) {
      if (!this.#frame) this.#frame = this.#pool?.take() ?? Buffer.allocUnsafe(this.#frameBytes);
      const n = Math.min(end - offset, this.#frameBytes - this.#filled);
      this.#frame.set(src.subarray(offset, offset + n), this.#filled);
      this.#filled += n;
      offset += n;
      if (this.#filled === this.#frameBytes) {
        this.#ready.push(this.#frame);
        this.#frame = undefined;
        this.#filled = 0;
        this.#wake();
      }
    }
    this.#full = this.#ready.length >= this.#highWater;
    return !this.#full;
  }

  /** No more bytes will come; with `error`, `next` rejects with it once the frames before are taken. */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (this.#frame) this.#pool?.give(this.#frame);
    this.#frame = undefined;
    this.#wake();
  }

  /** The next complete frame, or undefined once the stream has ended and every frame was taken. */
  async next(): Promise<Buffer | undefined> {
    while (this.#ready.length === 0) {
      if (this.#ended) {
        if (this.#error !== undefined) throw this.#error;
        return undefined;
      }
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
    const f = this.#ready.shift()!;
    if (this.#full && this.#ready.length < this.#highWater) {
      this.#full = false;
      this.onDrain?.();
    }
    return f;
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }
}
