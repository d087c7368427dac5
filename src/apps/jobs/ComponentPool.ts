import { FaceRestoreError } from '../../errors.ts';
import { Components, type ComponentHooks } from '../../engine/components.ts';
import { parsePortableOptions, withLocalSettings, type LocalSettingsInput, type PortableOptions, type PortableOptionsInput } from '../../engine/options.ts';

/** A component set lent by the pool; `release()` gives it back (idempotent). */
export interface PooledComponents {
  components: Components;
  release(): Promise<void>;
}

/** JSON with object keys sorted at every level, so equal options give equal keys. */
function stableKey(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableKey).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableKey(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Component sets (detector + restorer, loaded once) reused across a worker's jobs, keyed by the jobs'
 * portable options; this machine's settings (tool paths, cache folder) are fixed per pool. A set runs one
 * segment at a time: concurrent jobs borrow separate sets, and jobs with other settings get their own.
 * At most `maxIdle` idle sets are kept (the oldest is closed first). `close()` closes every idle set and,
 * later, each one still lent out when it comes back.
 */
export class ComponentPool {
  readonly #maxIdle: number;
  readonly #local: LocalSettingsInput;
  readonly #hooks: ComponentHooks;
  readonly #idle: Array<{ key: string; components: Components }> = [];
  #closed = false;

  constructor(maxIdle: number, local: LocalSettingsInput = {}, hooks: ComponentHooks = {}) {
    this.#maxIdle = Math.max(1, maxIdle);
    this.#local = local;
    this.#hooks = hooks;
  }

  /** Idle sets kept now (for tests and status). */
  get idle(): number {
    return this.#idle.length;
  }

  /** An idle set with these options, or a new one (E_CONFIG, model and device errors as Components.create). */
  async acquire(portable: PortableOptionsInput | PortableOptions): Promise<PooledComponents> {
    if (this.#closed) throw new FaceRestoreError('E_CLOSED', 'the component pool is closed');
    const key = stableKey(parsePortableOptions(portable));
    const i = this.#idle.findIndex((e) => e.key === key);
    const components = i >= 0 ? this.#idle.splice(i, 1)[0]!.components : await Components.create(withLocalSettings(portable, this.#local), this.#hooks);
    let released = false;
    return {
      components,
      release: async () => {
        if (released) return;
        released = true;
        if (this.#closed || components.closed) return components.close();
        this.#idle.push({ key, components });
        while (this.#idle.length > this.#maxIdle) await this.#idle.shift()!.components.close();
      },
    };
  }

  /** Closes the idle sets; ones lent out close when released. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled(this.#idle.splice(0).map((e) => e.components.close()));
  }
}
