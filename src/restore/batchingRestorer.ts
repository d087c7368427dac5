import { checkRestoreArgs, type Restorer } from './restorer.ts';

/** Options for BatchingRestorer. */
export interface BatchingOptions {
  /** Longest a request waits for others to share its batch, ms. Default 8. `Infinity`: only full batches run. */
  budgetMs?: number;
  /** Faces per inner call; default the inner restorer's maxBatch. */
  maxBatch?: number;
}

interface Pending {
  crops: readonly Uint8Array[];
  weights: readonly number[];
  resolve: (out: Uint8Array[]) => void;
  reject: (e: unknown) => void;
}

/**
 * Live-mode micro-batching: `restore` calls from several streams (e.g. restore peers for several
 * publishers) that arrive within `budgetMs` of the first waiting one are merged into one call of the inner
 * restorer, each face keeping its own w; a full batch runs at once. File mode does not need this: the
 * pipeline fills batches from consecutive frames.
 */
export class BatchingRestorer implements Restorer {
  readonly name: string;
  readonly maxBatch: number;
  readonly #inner: Restorer;
  readonly #budgetMs: number;
  #queue: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();

  constructor(inner: Restorer, options: BatchingOptions = {}) {
    this.#inner = inner;
    this.maxBatch = options.maxBatch ?? inner.maxBatch;
    this.#budgetMs = options.budgetMs ?? 8;
    if (!(this.maxBatch >= 1)) throw new TypeError(`Expected a positive maxBatch but received ${this.maxBatch}`);
    if (!(this.#budgetMs >= 0)) throw new TypeError(`Expected a non-negative budgetMs but received ${this.#budgetMs}`);
    this.name = `${inner.name}, micro-batched (${this.maxBatch} faces or ${this.#budgetMs} ms)`;
  }

  restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    try {
      checkRestoreArgs(crops, weights);
    } catch (e) {
      return Promise.reject(e);
    }
    if (crops.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.#queue.push({ crops, weights, resolve, reject });
      if (this.#queued() >= this.maxBatch) this.#flush();
      else if (!this.#timer && Number.isFinite(this.#budgetMs)) this.#timer = setTimeout(() => this.#flush(), this.#budgetMs);
    });
  }

  #queued(): number {
    return this.#queue.reduce((n, p) => n + p.crops.length, 0);
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    this.#running = this.#running.then(async () => {
      try {
        const out = await this.#inner.restore(batch.flatMap((p) => p.crops), batch.flatMap((p) => p.weights));
        let k = 0;
        for (const p of batch) {
          p.resolve(out.slice(k, k + p.crops.length));
          k += p.crops.length;
        }
      } catch (e) {
        for (const p of batch) p.reject(e);
      }
    });
  }

  /** Runs what is waiting, then closes the inner restorer. Idempotent. */
  async close(): Promise<void> {
    this.#flush();
    await this.#running;
    await this.#inner.close();
  }
}
