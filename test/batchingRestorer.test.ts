import { describe, expect, it } from 'vitest';
import { BatchingRestorer } from '../src/restore/batchingRestorer.ts';
import { CROP_BYTES, type Restorer } from '../src/restore/restorer.ts';

/** A restorer whose output encodes its input's first byte and the weight, recording each call's weights. */
class Echo implements Restorer {
  readonly name = 'echo';
  readonly maxBatch = 4;
  readonly calls: number[][] = [];
  async restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    this.calls.push([...weights]);
    return crops.map((c, i) => Uint8Array.of(c[0]!, Math.round(weights[i]! * 100)));
  }
  async close(): Promise<void> {}
}

const crop = (v: number) => new Uint8Array(CROP_BYTES).fill(v);

describe('BatchingRestorer (live micro-batching)', () => {
  it('merges requests from several streams into one call, each face keeping its w and its result', async () => {
    const inner = new Echo();
    const b = new BatchingRestorer(inner, { budgetMs: 50 });
    const [a, c] = await Promise.all([b.restore([crop(1), crop(2)], [0.1, 0.2]), b.restore([crop(3)], [0.9])]);
    expect(inner.calls).toEqual([[0.1, 0.2, 0.9]]);
    expect(a.map((x) => [...x])).toEqual([[1, 10], [2, 20]]);
    expect(c.map((x) => [...x])).toEqual([[3, 90]]);
  });

  it('a full batch runs without waiting for the deadline', async () => {
    const inner = new Echo();
    const b = new BatchingRestorer(inner, { budgetMs: Infinity, maxBatch: 3 });
    const out = await Promise.all([b.restore([crop(1)], [0]), b.restore([crop(2), crop(3)], [0.5, 1])]);
    expect(inner.calls).toEqual([[0, 0.5, 1]]);
    expect(out.flat().map((x) => x[0])).toEqual([1, 2, 3]);
  });

  it('a lone request runs when its deadline passes; close() runs what waits', async () => {
    const inner = new Echo();
    const b = new BatchingRestorer(inner, { budgetMs: 5 });
    expect((await b.restore([crop(7)], [0.3]))[0]![0]).toBe(7);
    const pending = new BatchingRestorer(inner, { budgetMs: Infinity });
    const p = pending.restore([crop(8)], [0.4]);
    await pending.close();
    expect((await p)[0]![0]).toBe(8);
    expect(inner.calls).toEqual([[0.3], [0.4]]);
  });

  it('an inner failure rejects every request of that batch', async () => {
    const failing: Restorer = { name: 'f', maxBatch: 2, restore: async () => Promise.reject(new Error('boom')), close: async () => undefined };
    const b = new BatchingRestorer(failing, { budgetMs: Infinity });
    const r = await Promise.allSettled([b.restore([crop(1)], [0]), b.restore([crop(2)], [0])]);
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected']);
  });
});

describe('BatchingRestorer argument checks', () => {
  it('rejects misuse as a TypeError (a rejected promise, not a synchronous throw)', async () => {
    const b = new BatchingRestorer(new Echo());
    const p = b.restore([crop(1)], []);
    await expect(p).rejects.toThrow(TypeError);
  });
});
