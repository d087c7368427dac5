import { FaceRestoreError } from '../../errors.ts';
import { createPipeline, type Pipeline, type PipelineHooks } from '../file/pipeline.ts';
import type { PipelineOptionsInput } from '../../engine/options.ts';

/**
 * Pipelines (detector + restorer, loaded once) reused across a worker's jobs. A pipeline runs one
 * segment at a time; concurrent jobs take separate pipelines, and jobs with other settings get their
 * own. At most `maxIdle` idle pipelines are kept (the oldest is closed first). `close()` closes every
 * idle pipeline and, later, each one still in use when it comes back.
 */
export class PipelinePool {
  readonly #maxIdle: number;
  readonly #hooks: PipelineHooks;
  readonly #idle: Array<{ key: string; pipeline: Pipeline }> = [];
  #closed = false;

  constructor(maxIdle: number, hooks: PipelineHooks = {}) {
    this.#maxIdle = Math.max(1, maxIdle);
    this.#hooks = hooks;
  }

  /** An idle pipeline with these options, or a new one (E_CONFIG, model and device errors as createPipeline). */
  async acquire(options: PipelineOptionsInput): Promise<{ pipeline: Pipeline; release: () => Promise<void> }> {
    if (this.#closed) throw new FaceRestoreError('E_CLOSED', 'the pipeline pool is closed');
    const key = JSON.stringify(options, Object.keys(options).sort());
    const i = this.#idle.findIndex((e) => e.key === key);
    let pipeline: Pipeline;
    if (i >= 0) pipeline = this.#idle.splice(i, 1)[0]!.pipeline;
    else {
      pipeline = await createPipeline(options, this.#hooks);
    }
    let released = false;
    return {
      pipeline,
      release: async () => {
        if (released) return;
        released = true;
        if (this.#closed) return pipeline.close();
        this.#idle.push({ key, pipeline });
        while (this.#idle.length > this.#maxIdle) await this.#idle.shift()!.pipeline.close();
      },
    };
  }

  /** Closes the idle pipelines; ones in use close when released. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled(this.#idle.splice(0).map((e) => e.pipeline.close()));
  }
}
