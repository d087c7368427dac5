import { describe, expect, it } from 'vitest';
import { RawFrameQueue } from '../src/ingest/frameQueue.ts';
import { VideoDecoder } from '../src/ingest/decoder.ts';
import { probeVideo } from '../src/ingest/probe.ts';
import { FramePool } from '../src/util/framePool.ts';
import { openSocketPair } from '../src/util/socketPair.ts';
import { childPids, frameHash } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';

/** Bytes 0, 1, 2, … (mod 251, so frames of 10 bytes differ from each other). */
const stream = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);

describe('FramePool', () => {
  it('hands back its own buffers, ignores foreign ones and a second give, and keeps at most maxFree', () => {
    const pool = new FramePool(16, 2);
    const a = pool.take();
    const b = pool.take();
    const c = pool.take();
    expect(a.length).toBe(16);
    expect(pool.allocated).toBe(3);
    expect(pool.give(Buffer.alloc(16))).toBe(false);
    expect(pool.give(a)).toBe(true);
    expect(pool.give(a)).toBe(false);
    expect(pool.give(b)).toBe(true);
    expect(pool.give(c)).toBe(false);
    const again = [pool.take(), pool.take()];
    expect(new Set(again)).toEqual(new Set([a, b]));
    expect(pool.allocated).toBe(3);
    expect(pool.take()).not.toBe(c);
    expect(pool.allocated).toBe(4);
  });
});

describe('RawFrameQueue', () => {
  it('reassembles frames in order from pieces of any size, drops an incomplete tail, and recycles through a pool', async () => {
    const bytes = stream(10 * 7 + 3);
    for (const piece of [1, 3, 10, 11, 64]) {
      const pool = new FramePool(10);
      const q = new RawFrameQueue(10, pool, 100);
      for (let o = 0; o < bytes.length; o += piece) q.push(bytes, o, Math.min(bytes.length, o + piece));
      q.end();
      const got: number[][] = [];
      for (let f = await q.next(); f; f = await q.next()) {
        got.push([...f]);
        pool.give(f);
      }
      expect(got).toEqual(Array.from({ length: 7 }, (_, k) => [...bytes.subarray(10 * k, 10 * k + 10)]));
      expect(await q.next()).toBeUndefined();
    }
  });

  it('says stop at highWater complete frames and asks to resume once one is taken; an error comes after the frames before it', async () => {
    const q = new RawFrameQueue(4, undefined, 2);
    let drains = 0;
    q.onDrain = () => drains++;
    expect(q.push(stream(4))).toBe(true);
    expect(q.push(stream(6))).toBe(false);
    expect(drains).toBe(0);
    expect([...(await q.next())!]).toEqual([0, 1, 2, 3]);
    expect(drains).toBe(1);
    expect([...(await q.next())!]).toEqual([0, 1, 2, 3]);
    // The consumer waits for a frame that has not come yet: bytes 4, 5 are there, 0, 1 complete it.
    const waiting = q.next();
    q.push(stream(2));
    q.push(stream(3));
    q.end(new Error('pipe broke'));
    expect([...(await waiting)!]).toEqual([4, 5, 0, 1]);
    await expect(q.next()).rejects.toThrow('pipe broke');
  });
});

describe('VideoDecoder reads through a socket pair or the pipe', () => {
  it('gives the same frames, pts and colour either way, with and without a pool, and leaves no child process', async () => {
    const info = await probeVideo(shared('footage/retalk_1.mp4'));
    const runs: string[][] = [];
    const cases: Array<{ socket?: boolean; pool?: FramePool }> = [{ socket: false }, {}, { pool: new FramePool(info.width * info.height * 1.5) }];
    for (const options of cases) {
      const d = await VideoDecoder.create(info, { duration: 1.5, ...options });
      const seen: string[] = [];
      for await (const f of d.frames()) {
        seen.push(`${f.index} ${f.pts.toFixed(4)} ${f.colour?.matrix}/${f.colour?.range} ${frameHash(f)}`);
        options.pool?.give(f.data);
      }
      runs.push(seen);
      if (options.pool) expect(options.pool.allocated).toBeLessThanOrEqual(4);
    }
    expect(runs[0]!.length).toBeGreaterThan(30);
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
    expect(await childPids()).toEqual([]);
  });

  it('falls back to the pipe when no socket can be made (temporary folder missing), with the same frames', async () => {
    const info = await probeVideo(shared('footage/retalk_1.mp4'));
    const read = async () => {
      const seen: string[] = [];
      for await (const f of (await VideoDecoder.create(info, { duration: 0.5 })).frames()) seen.push(`${f.index} ${f.pts.toFixed(4)} ${frameHash(f)}`);
      return seen;
    };
    const want = await read();
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = '/nonexistent/facerestore-test';
    try {
      // The socket pair cannot be made here, so the frames below came through the pipe.
      await expect(openSocketPair({ buffer: new Uint8Array(16), callback: () => true })).rejects.toThrow(/ENOENT/);
      expect(await read()).toEqual(want);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    expect(want.length).toBeGreaterThan(10);
    expect(await childPids()).toEqual([]);
  });

  it('stopping early (the consumer breaks off) kills ffmpeg', async () => {
    const info = await probeVideo(shared('footage/retalk_1.mp4'));
    const d = await VideoDecoder.create(info);
    let n = 0;
    for await (const _ of d.frames()) if (++n === 3) break;
    expect(n).toBe(3);
    expect(await childPids()).toEqual([]);
  });
});
