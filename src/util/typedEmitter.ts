import { EventEmitter } from 'node:events';

/** Event name → the listener's argument tuple, e.g. `{ died: [Error]; closed: [] }`. */
export type EventMap = Record<string, unknown[]>;

/**
 * An EventEmitter whose events and arguments are typed by `E`. `safeEmit` runs every listener and
 * keeps a listener's exception from breaking the emitter or the code that emitted (it goes to
 * `onListenerError`, by default the console), the way mediasoup's enhanced emitter does.
 */
export class TypedEmitter<E extends EventMap> {
  readonly #emitter = new EventEmitter({ captureRejections: false });
  readonly #onListenerError: (event: string, error: unknown) => void;

  constructor(onListenerError?: (event: string, error: unknown) => void) {
    this.#onListenerError = onListenerError ?? ((event, error) => console.error(`listener of "${event}" threw:`, error));
    // Several owners may observe one object (a room, a monitor, tests); no leak warning at 10.
    this.#emitter.setMaxListeners(0);
  }

  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  listenerCount<K extends keyof E & string>(event: K): number {
    return this.#emitter.listenerCount(event);
  }

  /** Calls every listener of `event` in order; returns whether there was one. A throwing listener does not stop the others. */
  safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    const listeners = this.#emitter.rawListeners(event) as Array<(...a: unknown[]) => void>;
    for (const l of listeners) {
      try {
        // rawListeners returns once-wrappers, which remove themselves when called.
        const r = l.apply(this, args) as unknown;
        if (r instanceof Promise) r.catch((e: unknown) => this.#onListenerError(event, e));
      } catch (e) {
        this.#onListenerError(event, e);
      }
    }
    return listeners.length > 0;
  }

  removeAllListeners(event?: keyof E & string): this {
    this.#emitter.removeAllListeners(event);
    return this;
  }
}
