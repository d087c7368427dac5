/** A camera stream given to a restorer. */
export interface Assignment {
  producerId: string;
  restorer: string;
}

/**
 * The restore jobs of one room: every camera producer is a job, waiting for a restorer or assigned to
 * one; a restorer has at most one job (it is CPU-bound). Book-keeping only: the room sends the messages.
 * Jobs wait in the order their streams appeared.
 */
export class RestoreJobs {
  /** Camera producer id → restorer peer id, or undefined while it waits. */
  readonly #jobs = new Map<string, string | undefined>();

  get size(): number {
    return this.#jobs.size;
  }

  /** The restorer of a camera producer's job (undefined while it waits, or when there is no such job). */
  restorerOf(producerId: string): string | undefined {
    return this.#jobs.get(producerId);
  }

  /** Whether a camera producer still waits for a restorer. */
  waiting(producerId: string): boolean {
    return this.#jobs.has(producerId) && this.#jobs.get(producerId) === undefined;
  }

  /** A new camera stream: its job waits for a restorer. */
  open(producerId: string): void {
    this.#jobs.set(producerId, undefined);
  }

  /** The camera stream ended: removes its job and returns the restorer it had, if any. */
  end(producerId: string): string | undefined {
    const restorer = this.#jobs.get(producerId);
    this.#jobs.delete(producerId);
    return restorer;
  }

  /** A restorer left: its jobs wait again. Returns their producer ids. */
  release(restorer: string): string[] {
    const freed: string[] = [];
    for (const [producerId, r] of this.#jobs) {
      if (r !== restorer) continue;
      this.#jobs.set(producerId, undefined);
      freed.push(producerId);
    }
    return freed;
  }

  /** Gives waiting jobs, oldest first, to the idle ones of `restorers` (peer ids in join order). */
  assignWaiting(restorers: Iterable<string>): Assignment[] {
    const busy = new Set([...this.#jobs.values()].filter((v) => v !== undefined));
    const idle = [...restorers].filter((r) => !busy.has(r));
    const made: Assignment[] = [];
    for (const [producerId, r] of this.#jobs) {
      if (r !== undefined) continue;
      const restorer = idle.shift();
      if (restorer === undefined) break;
      this.#jobs.set(producerId, restorer);
      made.push({ producerId, restorer });
    }
    return made;
  }

  clear(): void {
    this.#jobs.clear();
  }
}
