import { describe, expect, it } from 'vitest';
import { FrameScheduler } from '../src/apps/live/frameScheduler.ts';
import { checkI420, drawPassthroughMarker } from '../src/compose/i420.ts';
import { i420Layout } from '../src/util/yuv.ts';
import { parseClientMessage } from '../src/apps/live/protocol.ts';
import { RtcDelayMeter } from '../src/apps/live/rtcStats.ts';
import { TokenBucket } from '../src/apps/live/rateLimiter.ts';
import { originAllowed, tokenMatches } from '../src/apps/live/auth.ts';
import { PEER_CONFIG_VERSION, restorePeerConfigSchema } from '../src/apps/live/peerConfig.ts';
import { RestoreJobs } from '../src/apps/live/restoreJobs.ts';
import { decodePathSegment, parseRequestTarget } from '../src/util/requestTarget.ts';

/** A fake clock with timers, for the scheduler. */
function fakeClock() {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 1;
  return {
    now: () => now,
    setTimer: (fn: () => void, ms: number) => {
      const id = next++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimer: (h: unknown) => void timers.delete(h as number),
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        now = due[1].at;
        timers.delete(due[0]);
        due[1].fn();
      }
      now = end;
    },
  };
}

/** A scheduler on a fake clock; with `workMs`, a simulated worker completes each restore after that long. */
function harness(budget: number, onMiss: 'passthrough' | 'drop' = 'passthrough', workMs?: number) {
  const clock = fakeClock();
  const out: Array<{ seq: number; restored: boolean; at: number }> = [];
  const dispatched: number[] = [];
  const s: FrameScheduler<number, string> = new FrameScheduler<number, string>(budget, {
    dispatch: (item) => {
      dispatched.push(item.seq);
      if (workMs !== undefined) clock.setTimer(() => s.complete(item.seq, 'r'), workMs);
    },
    emit: (item, r) => out.push({ seq: item.seq, restored: r !== undefined, at: clock.now() }),
    now: clock.now,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
  }, onMiss);
  return { clock, out, dispatched, s };
}

describe('FrameScheduler (live latency control)', () => {
  it('restores every frame when restoring is faster than the frame interval', () => {
    const { clock, out, s } = harness(100);
    for (let i = 0; i < 10; i++) {
      s.push(i);
      clock.advance(20);
      s.complete(i, 'r');
      clock.advance(13);
    }
    expect(out.map((o) => o.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(out.every((o) => o.restored)).toBe(true);
    expect(s.counters).toMatchObject({ framesIn: 10, restored: 10, passedThrough: 0, dropped: 0 });
  });

  it('never sends a frame later than the budget, keeps order, and marks pass-through', () => {
    const { clock, out, s, dispatched } = harness(100);
    const arrivals = new Map<number, number>();
    // Restores take 150 ms (over budget): every frame must go out unrestored by its deadline.
    for (let i = 0; i < 30; i++) {
      arrivals.set(i, clock.now());
      s.push(i);
      clock.advance(33);
      const seq = dispatched.at(-1)!;
      if (clock.now() - 150 >= 0 && s.busy && (i % 5 === 4)) s.complete(seq, 'late');
    }
    clock.advance(500);
    const seqs = out.map((o) => o.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    for (const o of out) expect(o.at - arrivals.get(o.seq)!).toBeLessThanOrEqual(100);
    expect(out.some((o) => !o.restored)).toBe(true);
  });

  it('lets the newest waiting frame win and drops the superseded one', () => {
    const { clock, out, s, dispatched } = harness(200);
    s.push(0); // dispatched
    clock.advance(10);
    s.push(1); // waits
    clock.advance(10);
    s.push(2); // supersedes 1
    clock.advance(10);
    s.complete(0, 'r');
    expect(dispatched).toEqual([0, 2]);
    clock.advance(10);
    s.complete(2, 'r');
    expect(out.map((o) => [o.seq, o.restored])).toEqual([[0, true], [2, true]]);
    expect(s.counters.dropped).toBe(1);
  });

  it('with onMiss=drop sends fewer, restored frames and passes one through only when the picture would stall', () => {
    const { clock, out, s } = harness(100, 'drop', 60);
    // Restores take 60 ms, frames come every 33 ms: about every second frame can be restored in time.
    for (let i = 0; i < 30; i++) {
      s.push(i);
      clock.advance(33);
    }
    clock.advance(300);
    expect(out.length).toBeGreaterThan(10);
    expect(out.length).toBeLessThan(25);
    expect(out.every((o) => o.restored)).toBe(true);
    expect(s.counters.dropped + s.counters.restored).toBe(30);
    // A restorer that never answers: frames still go out (unrestored), at least one per budget.
    const stuck = harness(100, 'drop');
    for (let i = 0; i < 30; i++) {
      stuck.s.push(i);
      stuck.clock.advance(33);
    }
    expect(stuck.out.length).toBeGreaterThan(5);
    expect(stuck.out.every((o) => !o.restored)).toBe(true);
    for (let k = 1; k < stuck.out.length; k++) expect(stuck.out[k]!.at - stuck.out[k - 1]!.at).toBeLessThanOrEqual(140);
  });

  it('passes every frame through at once while restores take longer than the budget, and probes', () => {
    const { clock, out, s, dispatched } = harness(100, 'drop', 250);
    const arrivals: number[] = [];
    for (let i = 0; i < 90; i++) {
      arrivals.push(clock.now());
      s.push(i);
      clock.advance(33);
    }
    // After the first slow restore is measured, frames leave as they arrive.
    const late = out.filter((o) => o.seq > 15);
    expect(late.length).toBeGreaterThan(60);
    for (const o of late) expect(o.at - arrivals[o.seq]!).toBe(0);
    expect(out.every((o) => !o.restored)).toBe(true);
    // About one probe a second (3 s of frames).
    expect(dispatched.length).toBeGreaterThanOrEqual(3);
    expect(dispatched.length).toBeLessThanOrEqual(6);
  });

  it('discards a restore that finishes after its frame was passed through', () => {
    const { clock, out, s } = harness(50);
    s.push(0);
    clock.advance(60); // deadline: 0 goes out unrestored
    expect(out).toEqual([{ seq: 0, restored: false, at: 50 }]);
    s.complete(0, 'too late');
    expect(out).toHaveLength(1);
    expect(s.counters).toMatchObject({ restored: 0, passedThrough: 1 });
  });
});

describe('I420 helpers', () => {
  it('checks sizes and paints the marker in the top-right corner', () => {
    expect(() => checkI420(new Uint8Array(10), 8, 6)).toThrow(TypeError);
    const w = 64, h = 48;
    const yuv = new Uint8Array(i420Layout(w, h).size).fill(128);
    drawPassthroughMarker(yuv, w, h);
    expect(yuv[4 * w + w - 10]).toBe(81);
    expect(yuv[4 * w + 4]).toBe(128);
  });
});

describe('protocol, rate limit and auth', () => {
  it('parses valid messages and names the first problem of invalid ones', () => {
    expect(parseClientMessage(JSON.stringify({ type: 'ping', id: 1, t: 0 }))).toMatchObject({ ok: true });
    expect(parseClientMessage('{')).toEqual({ ok: false, reason: 'message is not JSON' });
    expect(parseClientMessage(JSON.stringify({ type: 'join', id: 1, room: '../x', token: 't', role: 'viewer' }))).toMatchObject({ ok: false, reason: expect.stringContaining('room') });
    expect(parseClientMessage('x'.repeat(100), 50)).toMatchObject({ ok: false, reason: expect.stringContaining('larger') });
    expect(parseClientMessage(JSON.stringify({ type: 'setFidelity', id: 1, producerId: 'p', trackId: 0, w: 1.5 }))).toMatchObject({ ok: false });
  });

  it('token bucket allows a burst then the sustained rate', () => {
    let now = 0;
    const b = new TokenBucket({ perSecond: 10, burst: 5 }, () => now);
    expect(Array.from({ length: 6 }, () => b.take())).toEqual([true, true, true, true, true, false]);
    now += 100;
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
  });

  it('compares tokens and origins', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abd', 'abc')).toBe(false);
    expect(tokenMatches('', 'abc')).toBe(false);
    expect(originAllowed(undefined, 'h:1', false, [])).toBe(true);
    expect(originAllowed('http://h:1', 'h:1', false, [])).toBe(true);
    expect(originAllowed('https://h:1', 'h:1', false, [])).toBe(false);
    expect(originAllowed('https://evil', 'h:1', false, [])).toBe(false);
    expect(originAllowed('https://ok', 'h:1', false, ['https://ok'])).toBe(true);
  });
});

describe('RtcDelayMeter (where live latency goes, from WebRTC stats)', () => {
  const report = (...stats: object[]) => ({ values: () => stats });
  const inbound = (frames: number, jb: number, asm: number, dec: number) => ({ type: 'inbound-rtp', kind: 'video', jitterBufferEmittedCount: frames, jitterBufferDelay: jb, framesAssembledFromMultiplePackets: frames, totalAssemblyTime: asm, framesDecoded: frames, totalDecodeTime: dec });
  const outbound = (frames: number, enc: number, packets: number, sendDelay: number) => ({ type: 'outbound-rtp', kind: 'video', framesEncoded: frames, totalEncodeTime: enc, packetsSent: packets, totalPacketSendDelay: sendDelay });

  it('gives means over the window between two updates, across a recv and a send report', () => {
    const m = new RtcDelayMeter();
    // A slow start (1 s of jitter buffer per frame) must not leak into the next window.
    m.update(report(inbound(10, 10, 1, 0.1)), report(outbound(10, 0.05, 50, 1)));
    const pair = { type: 'candidate-pair', nominated: true, availableOutgoingBitrate: 8_000_000 };
    const audio = { type: 'inbound-rtp', kind: 'audio', jitterBufferEmittedCount: 1000, jitterBufferDelay: 1000 };
    const d = m.update(report(inbound(40, 10.6, 1.15, 0.13), audio), report(outbound(40, 0.17, 250, 3), pair));
    expect(d).toEqual({ jitterBufferMs: 20, assemblyMs: 5, decodeMs: 1, encodeMs: 4, pacerMs: 10, estimateKbps: 8000 });
  });

  it('reports nothing for a window without frames or after counters restart', () => {
    const m = new RtcDelayMeter();
    m.update(report(inbound(100, 3, 0.5, 0.1)));
    expect(m.update(report(inbound(100, 3, 0.5, 0.1)))).toEqual({});
    // A replaced stream starts its counters again: lower than before is not a negative delay.
    expect(m.update(report(inbound(5, 0.1, 0.01, 0.005)))).toEqual({});
    expect(m.update(report(inbound(15, 0.4, 0.06, 0.015)))).toEqual({ jitterBufferMs: 30, assemblyMs: 5, decodeMs: 1 });
  });

  it('rides along in restoreStats, validated like the rest', () => {
    const stats = { fpsIn: 30, fpsOut: 30, framesIn: 9, restored: 0, passedThrough: 9, dropped: 0, peerLatencyMs: 0, workMs: 0, width: 640, height: 480, restorer: 'none', budgetMs: 120 };
    const msg = (rtc: unknown) => JSON.stringify({ type: 'restoreStats', id: 1, producerId: 'p1', stats: { ...stats, rtc }, faces: [] });
    expect(parseClientMessage(msg({ jitterBufferMs: 20, pacerMs: 10, estimateKbps: 8000 }))).toMatchObject({ ok: true });
    expect(parseClientMessage(msg({ jitterBufferMs: -1 }))).toMatchObject({ ok: false, reason: expect.stringContaining('jitterBufferMs') });
    expect(parseClientMessage(msg({ extra: 1 }))).toMatchObject({ ok: false });
  });
});

describe('request targets (parsed without throwing)', () => {
  it('gives path and query for origin and absolute form', () => {
    expect(parseRequestTarget('/')?.pathname).toBe('/');
    expect(parseRequestTarget('/ws?room=a')?.pathname).toBe('/ws');
    expect(parseRequestTarget('/ws?room=a')?.searchParams.get('room')).toBe('a');
    // Dot segments resolve; the static table then decides (no file-system path is ever built from it).
    expect(parseRequestTarget('/x/../app.js')?.pathname).toBe('/app.js');
    expect(parseRequestTarget('http://host:8080/healthz')?.pathname).toBe('/healthz');
    expect(parseRequestTarget('HTTPS://host/ws')?.pathname).toBe('/ws');
    // Browsers leave brackets unescaped in queries: still fine.
    expect(parseRequestTarget('/?a=[1]')?.pathname).toBe('/');
  });

  it('refuses what is malformed (undefined: a 400), where new URL would throw or read a host', () => {
    for (const t of [undefined, '', 'http://[::1', 'http://[', '//[', '//evil.example/ws', '/%E0%A4%A', '/%zz', '*', 'example.com:443', 'ftp://h/x']) {
      expect(parseRequestTarget(t), String(t)).toBeUndefined();
    }
  });

  it('decodes a path segment or says it is malformed', () => {
    expect(decodePathSegment('a%20b')).toBe('a b');
    expect(decodePathSegment('%E0%A4')).toBeUndefined();
    expect(decodePathSegment('%zz')).toBeUndefined();
  });
});

describe('RestoreJobs (which restorer has which camera stream)', () => {
  it('assigns waiting streams oldest first to idle restorers, one stream each', () => {
    const jobs = new RestoreJobs();
    jobs.open('cam1');
    jobs.open('cam2');
    jobs.open('cam3');
    expect(jobs.assignWaiting(['r1'])).toEqual([{ producerId: 'cam1', restorer: 'r1' }]);
    // r1 is busy now: only r2 takes one.
    expect(jobs.assignWaiting(['r1', 'r2'])).toEqual([{ producerId: 'cam2', restorer: 'r2' }]);
    expect(jobs.waiting('cam3')).toBe(true);
    expect(jobs.restorerOf('cam1')).toBe('r1');
    expect(jobs.size).toBe(3);
  });

  it('puts a leaving restorer’s streams back to waiting and ends streams', () => {
    const jobs = new RestoreJobs();
    jobs.open('cam1');
    jobs.assignWaiting(['r1']);
    expect(jobs.release('r1')).toEqual(['cam1']);
    expect(jobs.waiting('cam1')).toBe(true);
    expect(jobs.release('r1')).toEqual([]);
    jobs.assignWaiting(['r2']);
    expect(jobs.end('cam1')).toBe('r2');
    expect(jobs.end('cam1')).toBeUndefined();
    expect(jobs.waiting('cam1')).toBe(false);
    expect(jobs.size).toBe(0);
  });
});

describe('restore peer config (what a spawned peer reads on stdin)', () => {
  const base = { url: 'ws://127.0.0.1:1/ws', room: 'r', peerToken: 't' };

  it('carries portable options only, versioned', () => {
    const c = restorePeerConfigSchema.parse({ ...base, pipeline: { restorer: 'classic', fidelity: 0.3 } });
    expect(c.v).toBe(PEER_CONFIG_VERSION);
    expect(c.pipeline).toMatchObject({ restorer: 'classic', fidelity: 0.3, detector: 'auto' });
    expect(restorePeerConfigSchema.parse(base).pipeline).toMatchObject({ fidelity: 0.5 });
    // Machine-local settings never travel; another version is refused by name.
    expect(restorePeerConfigSchema.safeParse({ ...base, pipeline: { cacheDir: '/x' } }).success).toBe(false);
    expect(restorePeerConfigSchema.safeParse({ ...base, pipeline: { ffmpegPath: '/x' } }).success).toBe(false);
    const old = restorePeerConfigSchema.safeParse({ ...base, v: 1 });
    expect(old.success).toBe(false);
    expect(old.error?.issues[0]?.message).toContain(`version: expected ${PEER_CONFIG_VERSION}`);
  });
});
