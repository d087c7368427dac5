/**
 * An async FIFO with a fixed capacity: `push` waits while full (backpressure), `pop` waits while empty.
 * `close()` ends the stream (pop returns undefined once drained); `fail(e)` makes both sides throw e.
 */
export class BoundedQueue<T> {
  readonly capacity: number;
  readonly #items: T[] = [];
  #closed = false;
  #error: unknown;
  #wakeProducer: (() => void) | undefined;
  #wakeConsumer: (() => void) | undefined;

  constructor(capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new TypeError(`Expected a positive integer for capacity but received ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length;
  }

  async push(item: T): Promise<void> {
    while (this.#items.length >= this.capacity && this.#error === undefined) {
      await new Promise<void>((r) => (this.#wakeProducer = r));
    }
    if (this.#error !== undefined) throw this.#error;
    if (this.#closed) throw new Error('push after close');
    this.#items.push(item);
    this.#wake('consumer');
  }

  /** Next item, or undefined when closed and drained. */
  async pop(): Promise<T | undefined> {
    while (this.#items.length === 0 && !this.#closed && this.#error === undefined) {
      await new Promise<void>((r) => (this.#wakeConsumer = r));
    }
    if (this.#error !== undefined) throw this.#error;
    const item = this.#items.shift();
    this.#wake('producer');
    return item;
  }

  /** Removes and returns what is queued now, without waiting. */
  drainNow(): T[] {
    const items = this.#items.splice(0);
    this.#wake('producer');
    return items;
  }

  /** True once closed and empty. */
  get done(): boolean {
    return this.#closed && this.#items.length === 0;
  }

  close(): void {
    this.#closed = true;
    this.#wake('consumer');
  }

  fail(error: unknown): void {
    if (this.#error === undefined) this.#error = error ?? new Error('queue failed');
    this.#wake('consumer');
    this.#wake('producer');
  }

  #wake(side: 'producer' | 'consumer'): void {
    const f = side === 'producer' ? this.#wakeProducer : this.#wakeConsumer;
    if (side === 'producer') this.#wakeProducer = undefined;
    else this.#wakeConsumer = undefined;
    f?.();
  }
}
