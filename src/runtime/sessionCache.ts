import type { OrtModel } from './ort.ts';

/**
 * Sessions built on demand, one per key (e.g. a frame size and colour, for graphs whose input shapes are
 * fixed): a session still loading is shared by every caller of its key, and one that fails to load is
 * forgotten so that the next call tries again.
 */
export class SessionCache {
  readonly #models = new Map<string, Promise<OrtModel>>();

  /** The session of `key`, created with `create` when there is none. */
  get(key: string, create: () => Promise<OrtModel>): Promise<OrtModel> {
    let model = this.#models.get(key);
    if (!model) {
      model = create();
      model.catch(() => this.#models.delete(key));
      this.#models.set(key, model);
    }
    return model;
  }

  /** Closes every session (those still loading once they have loaded). Idempotent. */
  async close(): Promise<void> {
    const models = [...this.#models.values()];
    this.#models.clear();
    await Promise.all(models.map((m) => m.then((x) => x.close(), () => undefined)));
  }
}
