/** While restoring cannot fit the budget, one frame per this many ms is still restored to re-measure. */
const PROBE_INTERVAL_MS = 1000;

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
 * What happens to a frame that cannot be restored within the budget: `passthrough` sends it unrestored
 * (every frame goes out, restored or not); `drop` drops it unless nothing has gone out for a whole budget,
 * in which case it is passed through to keep the picture alive (a slow restorer then gives fewer, all
 * restored frames instead of alternating restored and unrestored ones).
 */
export type MissPolicy = 'passthrough' | 'drop';

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
  readonly onMiss: MissPolicy;
  readonly counters: SchedulerCounters = { framesIn: 0, restored: 0, passedThrough: 0, dropped: 0 };
  readonly #hooks: SchedulerHooks<F, R>;
  #seq = 0;
  #lastSent = -1;
  #lastSentAt = -Infinity;
  #lastDispatchAt = -Infinity;
  #inFlight: { item: ScheduledFrame<F>; dispatchedAt: number } | undefined;
  #waiting: ScheduledFrame<F> | undefined;
  readonly #timers = new Map<number, unknown>();
  /** Frames already sent or dropped (a late restore result of one is discarded). */
  readonly #settled = new WeakSet<ScheduledFrame<F>>();
  /** Exponential mean of restore times, ms (undefined before the first). */
  #workMs: number | undefined;
  #closed = false;

  constructor(budgetMs: number, hooks: SchedulerHooks<F, R>, onMiss: MissPolicy = 'passthrough') {
    if (!(budgetMs > 0)) throw new TypeError(`Expected a positive number for budgetMs but received ${budgetMs}`);
    if (onMiss !== 'passthrough' && onMiss !== 'drop') throw new TypeError(`Expected 'passthrough' or 'drop' for onMiss but received ${String(onMiss)}`);
    this.budgetMs = budgetMs;
    this.onMiss = onMiss;
    this.#hooks = hooks;
  }

  /** Mean restore time, ms. */
  get workMs(): number {
    return this.#workMs ?? 0;
  }

  /** True when the mean restore time exceeds the budget (no frame can be restored in time). */
  get #infeasible(): boolean {
    return (this.#workMs ?? 0) > this.budgetMs;
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
      if (this.#infeasible) {
        // Restores take longer than the whole budget: the frame goes out now, unrestored; about once a
        // second one is still restored (result discarded) to notice when restoring fits again.
        this.#passThrough(item);
        if (now - this.#lastDispatchAt >= PROBE_INTERVAL_MS) this.#dispatch(item, now);
        return;
      }
      this.#dispatch(item, now);
      return;
    }
    // Busy: would this frame still make its deadline after the current one and its own restore? (A restore
    // already running longer than the mean counts as that long: a stalled worker makes frames miss.)
    const work = Math.max(this.#workMs ?? 0, now - this.#inFlight.dispatchedAt);
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
    const item = f.item;
    // Probes (sent while restoring was infeasible) are rare: weigh them more.
    const weight = this.#settled.has(item) && this.#infeasible ? 0.5 : 0.2;
    this.#workMs = this.#workMs === undefined ? took : (1 - weight) * this.#workMs + weight * took;
    if (!this.#settled.has(item)) {
      if (item.seq > this.#lastSent && now - item.arrival <= this.budgetMs && result !== undefined) {
        this.#settle(item);
        this.#lastSent = item.seq;
        this.#lastSentAt = now;
        this.counters.restored++;
        this.#hooks.emit(item, result);
      } else {
        // Failed, or late (its deadline timer has not fired yet, e.g. a busy event loop).
        this.#passThrough(item);
      }
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
    this.#lastDispatchAt = now;
    if (!this.#settled.has(item)) this.#arm(item);
    this.#hooks.dispatch(item);
  }

  #supersedeWaiting(): void {
    const w = this.#waiting;
    if (!w) return;
    this.#waiting = undefined;
    this.#settle(w);
    this.counters.dropped++;
  }

  #settle(item: ScheduledFrame<F>): void {
    this.#settled.add(item);
    this.#disarm(item);
  }

  /**
   * A frame that misses its restore: sent unrestored now (policy `passthrough`, or `drop` when nothing went
   * out for a whole budget), else dropped. A frame older than one already sent is always dropped.
   */
  #passThrough(item: ScheduledFrame<F>): void {
    if (this.#settled.has(item)) return;
    this.#settle(item);
    if (this.#waiting === item) this.#waiting = undefined;
    const now = this.#hooks.now();
    // `drop` only while restoring is feasible at all; otherwise every frame goes out (unrestored, marked).
    if (item.seq <= this.#lastSent || (this.onMiss === 'drop' && !this.#infeasible && now - this.#lastSentAt < this.budgetMs)) {
      this.counters.dropped++;
      return;
    }
    this.#lastSent = item.seq;
    this.#lastSentAt = now;
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
        // Deadline: whether waiting or still being restored, it misses (a restore still running for it is
        // discarded when it completes).
        this.#passThrough(item);
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
