/**
 * Recycles the raw frame buffers of one video (all of one size) between the decoder and the sink.
 *
 * Why: every decoded 1280×720 I420 frame is a fresh 1.4 MB ArrayBuffer, and V8 counts such external memory
 * toward its next full (mark-compact) collection. Allocating one per frame made the file pipeline run about
 * one full GC every 6–7 frames (42 in a 275-frame 720p run), costing more thread CPU than the detector's
 * letterbox and tracking together (docs/realtime.md, "Frame buffers and the decoder's socket").
 */
export class FramePool {
  /** Size of every buffer, bytes. */
  readonly bytes: number;
  readonly #free: Buffer[] = [];
  /** Buffers this pool made (only those are taken back) and which of them are free now (double gives are ignored). */
  readonly #own = new WeakSet<Uint8Array>();
  readonly #isFree = new WeakSet<Uint8Array>();
  readonly #maxFree: number;
  #allocated = 0;

  /** `maxFree`: free buffers kept at most (the rest are left to the GC). Default 32. */
  constructor(bytes: number, maxFree = 32) {
    this.bytes = bytes;
    this.#maxFree = maxFree;
  }

  /** A buffer of `bytes` bytes, recycled when one is free (its content is the previous frame's, not zeros). */
  take(): Buffer {
    const b = this.#free.pop();
    if (b) {
      this.#isFree.delete(b);
      return b;
    }
    this.#allocated++;
    const n = Buffer.allocUnsafeSlow(this.bytes);
    this.#own.add(n);
    return n;
  }

  /**
   * Hands a buffer back once nothing reads or writes it any more. Buffers the pool did not make (an
   * upscaled frame, a caller's) and buffers already given back are ignored; returns whether it was taken.
   */
  give(buf: Uint8Array): boolean {
    if (!this.#own.has(buf) || this.#isFree.has(buf) || this.#free.length >= this.#maxFree) return false;
    this.#isFree.add(buf);
    this.#free.push(buf as Buffer);
    return true;
  }

  /** Buffers allocated so far (frames decoded minus those served from recycled buffers). */
  get allocated(): number {
    return this.#allocated;
  }
}
