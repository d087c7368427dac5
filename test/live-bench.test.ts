import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repo } from './helpers/paths.ts';

/** The live latency bench end to end, tiny and short: it must keep producing real, paired measurements. */
describe('bench/live-latency.ts', () => {
  it('measures the bare loop and the live path at the published size, with a per-hop breakdown', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [repo('bench/live-latency.ts'), '--sizes', '320x240', '--modes', 'bare,passthrough', '--seconds', '2', '--warmup', '1', '--repeats', '1'],
      { maxBuffer: 16 << 20, timeout: 150_000 },
    );
    const r = JSON.parse(stdout);
    expect(r.results.map((x: { mode: string }) => x.mode)).toEqual(['bare', 'passthrough']);
    for (const x of r.results) {
      expect(x.receivedSize, x.mode).toBe('320x240');
      // ~30 fps for 2 s: most returned frames are paired with their original by the burned-in counter.
      expect(x.samples, x.mode).toBeGreaterThan(20);
      // Speed is the bench's business, not the test's: only that the pairs make sense.
      expect(x.p50Ms, x.mode).toBeGreaterThan(0);
      expect(x.p90Ms, x.mode).toBeGreaterThanOrEqual(x.p50Ms);
      expect(x.breakdownMs.middle.jitterBufferMs, x.mode).toBeGreaterThan(0);
      expect(x.breakdownMs.middle.encodeMs, x.mode).toBeGreaterThan(0);
      expect(x.breakdownMs.returned.jitterBufferMs, x.mode).toBeGreaterThan(0);
    }
    expect(r.cameraClipFps).toBe(30);
    expect(r.budgetMs).toBe(120);
    for (const x of r.results) {
      expect(x.rates.cameraFps, x.mode).toBeGreaterThan(0);
      expect(x.rates.viewerFps, x.mode).toBeGreaterThan(0);
    }
    expect(r.results[0].rates.restoredFps).toBeUndefined(); // the bare loop has no restore peer
    // The live path's middle hop is the restore peer: it passed every frame through (restorer none).
    const live = r.results[1];
    expect(live.peer[0].restored).toBe(0);
    expect(live.peer[0].passedThrough).toBeGreaterThan(30);
    expect(live.rates.restoredFps).toBe(0);
    expect(live.rates.passedThroughFps).toBeGreaterThan(0);
    expect(live.rates.droppedFps).toBeGreaterThanOrEqual(0);
    // Every frame the peer received was restored, passed through or dropped (a frame or two in flight at the ends).
    const split = live.rates.restoredFps + live.rates.passedThroughFps + live.rates.droppedFps;
    expect(Math.abs(split - live.rates.peerInFps)).toBeLessThan(1.5);
    // The restore worker's time by part (it looked for faces for the overlay, twice a second): detection only.
    expect(live.stagesMs.frames).toBeGreaterThan(0);
    expect(live.stagesMs.detect).toBeGreaterThan(0);
    expect(live.stagesMs.total).toBeGreaterThanOrEqual(live.stagesMs.detect);
    for (const k of ['warp', 'restore', 'paste']) expect(live.stagesMs[k], k).toBe(0);
    expect(typeof r.addedOverBare[0].addedMeanMs).toBe('number');
  });
});
