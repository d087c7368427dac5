/** A frame in the live scheduler. */
export interface ScheduledFrame<F> {
  /** 0-based arrival order. */
  seq: number;
  frame: F;
  /** Arrival time, ms (scheduler clock). */
  arrival: number;
}

/** Counters of the scheduler. */
export interface SchedulerCounters {
  framesIn: number;
  /** Sent restored. */
  restored: number;
  /** Sent unrestored because restoring would have exceeded the budget. */
  passedThrough: number;
  /** Never sent: superseded by a newer frame while waiting, or restored too late. */
  dropped: number;
}

/** What the scheduler drives. */
export interface SchedulerHooks<F, R> {
  /** Start restoring a frame (at most one at a time). */
  dispatch(item: ScheduledFrame<F>): void;
  /** Send a frame: `result` when restored, undefined to pass the original through. */
  emit(item: ScheduledFrame<F>, result: R | undefined): void;
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/**
 * Live-mode scheduling: never queues. At most one frame is being restored and at most one waits
 * (latest frame wins: a newer arrival supersedes the waiting one, which is dropped). Every frame has a
 * deadline `arrival + budgetMs`; a frame that cannot be restored by then is sent unrestored at once
 * (pass-through) — when it is predicted to miss (from the recent restore times) or at the deadline at the
 * latest — and a restore that finishes late is discarded. Frames go out in arrival order: once frame k
 * is sent, no frame before k is.
 */
export class FrameScheduler<F, R> {
  readonly budgetMs: number;
  readonly counters: SchedulerCounters = { framesIn: 0, restored: 0, passedThrough: 0, dropped: 0 };
  readonly #hooks: SchedulerHooks<F, R>;
  #seq = 0;
  #lastSent = -1;
  #inFlight: { item: ScheduledFrame<F>; dispatchedAt: number } | undefined;
  #waiting: ScheduledFrame<F> | undefined;
  readonly #timers = new Map<number, unknown>();
  /** Exponential mean of restore times, ms (undefined before the first). */
  #workMs: number | undefined;
  #closed = false;

  constructor(budgetMs: number, hooks: SchedulerHooks<F, R>) {
    if (!(budgetMs > 0)) throw new TypeError(`Expected a positive number for budgetMs but received ${budgetMs}`);
    this.budgetMs = budgetMs;
    this.#hooks = hooks;
  }

  /** Mean restore time, ms. */
  get workMs(): number {
    return this.#workMs ?? 0;
  }

  /** Sequence number of the frame being restored, if any. */
  get inFlightSeq(): number | undefined {
    return this.#inFlight?.item.seq;
  }

  get busy(): boolean {
    return this.#inFlight !== undefined;
  }

  /** A frame arrived. */
  push(frame: F): void {
    if (this.#closed) return;
    const now = this.#hooks.now();
    const item: ScheduledFrame<F> = { seq: this.#seq++, frame, arrival: now };
    this.counters.framesIn++;
    if (!this.#inFlight) {
      this.#dispatch(item, now);
      return;
    }
    // Busy: would this frame still make its deadline after the current one and its own restore?
    const work = this.#workMs ?? 0;
    const freeAt = Math.max(now, this.#inFlight.dispatchedAt + work);
    if (freeAt + work - item.arrival > this.budgetMs) {
      this.#supersedeWaiting();
      this.#passThrough(item);
      return;
    }
    this.#supersedeWaiting();
    this.#waiting = item;
    this.#arm(item);
  }

  /** The restore of `seq` finished (`result` undefined when it failed: the frame passes through if in time). */
  complete(seq: number, result: R | undefined): void {
    const f = this.#inFlight;
    if (!f || f.item.seq !== seq) return;
    this.#inFlight = undefined;
    const now = this.#hooks.now();
    const took = now - f.dispatchedAt;
    this.#workMs = this.#workMs === undefined ? took : 0.8 * this.#workMs + 0.2 * took;
    const item = f.item;
    if (item.seq > this.#lastSent && now - item.arrival <= this.budgetMs) {
      this.#disarm(item);
      this.#lastSent = item.seq;
      if (result === undefined) {
        this.counters.passedThrough++;
        this.#hooks.emit(item, undefined);
      } else {
        this.counters.restored++;
        this.#hooks.emit(item, result);
      }
    } else if (item.seq > this.#lastSent) {
      // Late (its deadline timer has not fired yet, e.g. a busy event loop): it still goes out, unrestored.
      this.#passThrough(item);
    } else {
      this.#disarm(item);
    }
    const next = this.#waiting;
    this.#waiting = undefined;
    if (next && !this.#closed) {
      if (now - next.arrival + (this.#workMs ?? 0) > this.budgetMs) this.#passThrough(next);
      else this.#dispatch(next, now);
    }
  }

  /** Stops: pending timers are cleared and nothing more is emitted. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) this.#hooks.clearTimer(t);
    this.#timers.clear();
    this.#inFlight = undefined;
    this.#waiting = undefined;
  }

  #dispatch(item: ScheduledFrame<F>, now: number): void {
    this.#inFlight = { item, dispatchedAt: now };
    this.#arm(item);
    this.#hooks.dispatch(item);
  }

  #supersedeWaiting(): void {
    const w = this.#waiting;
    if (!w) return;
    this.#waiting = undefined;
    this.#disarm(w);
    this.counters.dropped++;
  }

  /** Sends a frame unrestored now (if nothing newer went out), else drops it. */
  #passThrough(item: ScheduledFrame<F>): void {
    this.#disarm(item);
    if (this.#waiting === item) this.#waiting = undefined;
    if (item.seq <= this.#lastSent) {
      this.counters.dropped++;
      return;
    }
    this.#lastSent = item.seq;
    this.counters.passedThrough++;
    this.#hooks.emit(item, undefined);
  }

  #arm(item: ScheduledFrame<F>): void {
    const left = Math.max(0, item.arrival + this.budgetMs - this.#hooks.now());
    this.#timers.set(
      item.seq,
      this.#hooks.setTimer(() => {
        this.#timers.delete(item.seq);
        if (this.#closed) return;
        // Deadline: whether waiting or still being restored, it goes out unrestored now.
        // (A restore still running for it is discarded when it completes.)
        if (item.seq > this.#lastSent) this.#passThrough(item);
      }, left),
    );
  }

  #disarm(item: ScheduledFrame<F>): void {
    const t = this.#timers.get(item.seq);
    if (t !== undefined) {
      this.#hooks.clearTimer(t);
      this.#timers.delete(item.seq);
    }
  }
}
