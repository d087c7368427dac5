import os from 'node:os';
import { FaceRestoreError } from '../errors.ts';
import { CLASSIC_DEFAULTS, ClassicKernel, type ClassicParams } from './classicKernel.ts';
import { ClassicPool } from './classicPool.ts';
import { CROP_BYTES, checkRestoreArgs, type Restorer } from './restorer.ts';

/** Tuning of the classic restorer; sizes are in pixels of the 512 crop. */
export interface ClassicRestorerOptions {
  /** Median filter size for denoising (odd). Default 3. */
  denoise?: number;
  /** Gaussian sigma of the detail layer that gets sharpened. Default 2.5. */
  sharpenSigma?: number;
  /** Gain of the detail layer. Default 1.2. */
  sharpenAmount?: number;
  /** Side of the low-pass image for local contrast (the crop shrunk to this and blown back up). Default 24. */
  contrastScale?: number;
  /** Gain of local contrast (difference to the low-pass image). Default 0.35. */
  contrastAmount?: number;
  /** Share of the enhancement that remains at w = 1 (at w = 0 all of it). Default 0.4. */
  minStrength?: number;
  /**
   * Worker threads that restore a batch's crops in parallel (`create` only). Default: the available
   * parallelism (`os.availableParallelism()`). 0: on the calling thread, as `new ClassicRestorer()` does.
   */
  threads?: number;
}

/** The kernel's settings: the tuning options with defaults filled in (threads left out). */
function classicParams(options: ClassicRestorerOptions): ClassicParams {
  const { threads: _threads, ...tuning } = options;
  return { ...CLASSIC_DEFAULTS, ...tuning };
}

/**
 * A non-learned face restorer: median denoise, then an unsharp mask (detail layer) and local contrast
 * (difference to a heavily low-passed copy) on the aligned crop, mixed with the input by the fidelity
 * weight: out = in + s·(enhanced − in), s = 1 − (1 − minStrength)·w. It is the default when no model is
 * given, so the pipeline shows a visible, honest result without learned weights; it adds no detail that
 * is not in the input. `ClassicRestorer.create()` runs the crops on a pool of worker threads
 * (classicPool.ts), keeping the calling thread free for decoding, encoding and WebRTC; the constructor
 * alone computes on the calling thread. Both give the same bytes (classicKernel.ts).
 */
export class ClassicRestorer implements Restorer {
  readonly maxBatch = 16;
  readonly #params: ClassicParams;
  /** Made on first use on the calling thread (a pooled restorer never needs it here). */
  #kernel: ClassicKernel | undefined;
  #pool: ClassicPool | undefined;
  #closed = false;

  /** A restorer that computes on the calling thread (no workers); `create()` is the parallel one. */
  constructor(options: ClassicRestorerOptions = {}) {
    this.#params = classicParams(options);
  }

  /**
   * A restorer whose crops run on `threads` worker threads (default the available parallelism; 0: the
   * calling thread).
   * @throws FaceRestoreError E_CONFIG for a thread count that is not a whole number ≥ 0
   */
  static async create(options: ClassicRestorerOptions = {}): Promise<ClassicRestorer> {
    const threads = options.threads ?? os.availableParallelism();
    if (!Number.isInteger(threads) || threads < 0) throw new FaceRestoreError('E_CONFIG', `Expected a whole number ≥ 0 for the classic restorer's threads but received ${threads}`);
    const r = new ClassicRestorer(options);
    if (threads > 0) r.#pool = await ClassicPool.create(threads, r.#params);
    return r;
  }

  /** Human-readable name, with where the crops run. */
  get name(): string {
    const n = this.#pool?.size;
    const where = n ? `${n} worker thread${n === 1 ? '' : 's'}` : 'calling thread';
    return `classic (median denoise + unsharp mask + local contrast; not a learned model; ${where})`;
  }

  /** Ids of the pool's worker threads (empty without a pool); for checking that close() ended them. */
  get threadIds(): number[] {
    return this.#pool?.threadIds ?? [];
  }

  /** CPU ms of the pool's worker threads so far (0 without a pool; see ClassicPool.workerCpuMs). */
  get workerCpuMs(): number {
    return this.#pool?.workerCpuMs ?? 0;
  }

  async restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    checkRestoreArgs(crops, weights);
    if (this.#closed) throw new FaceRestoreError('E_CLOSED', 'the classic restorer is closed');
    if (this.#pool) {
      const pool = this.#pool;
      return Promise.all(crops.map((c, i) => pool.run(c, weights[i]!)));
    }
    const kernel = (this.#kernel ??= new ClassicKernel(this.#params));
    return Promise.all(
      crops.map(async (c, i) => {
        const out = new Uint8Array(CROP_BYTES);
        await kernel.run(c, weights[i]!, out);
        return out;
      }),
    );
  }

  /** Gives result buffers back to the pool (Restorer.release); without a pool nothing is kept. */
  release(outputs: readonly Uint8Array[]): void {
    this.#pool?.release(outputs);
  }

  /** Terminates the pool's workers (crops in flight fail with E_CLOSED). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#pool?.close();
  }
}
