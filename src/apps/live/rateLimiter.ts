/** Options of a token bucket. */
export interface RateLimitOptions {
  /** Sustained messages per second. */
  perSecond: number;
  /** Messages allowed in a burst. */
  burst: number;
}

/** Default per-connection limit: plenty for signaling (a page sends a few messages per second). */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { perSecond: 20, burst: 60 };

/**
 * A token bucket: `take()` spends one token, refilled at `perSecond` up to `burst`. The clock is a
 * parameter so tests need no timers.
 */
export class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(options: RateLimitOptions, now: () => number = () => performance.now()) {
    if (!(options.perSecond > 0)) throw new TypeError(`Expected a positive number for perSecond but received ${options.perSecond}`);
    if (!(options.burst >= 1)) throw new TypeError(`Expected a number ≥ 1 for burst but received ${options.burst}`);
    this.#perMs = options.perSecond / 1000;
    this.#burst = options.burst;
    this.#now = now;
    this.#tokens = options.burst;
    this.#last = now();
  }

  /** Spends a token; false when the bucket is empty (the caller rejects the message). */
  take(): boolean {
    const t = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (t - this.#last) * this.#perMs);
    this.#last = t;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
