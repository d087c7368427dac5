import { describe, expect, it } from 'vitest';
import { buildConcatList, buildCountFramesArgs, buildJoinArgs, buildPacketProbeArgs, concatQuote, parsePacketProbe } from '../src/apps/jobs/jobArgs.ts';
import { ComponentPool } from '../src/apps/jobs/ComponentPool.ts';
import { jobSpecSchema, parseJobData, segmentJobData, segmentJobSchema } from '../src/apps/jobs/jobData.ts';
import { planJob } from '../src/apps/jobs/planJob.ts';
import { toPortableOptions, withLocalSettings } from '../src/engine/options.ts';
import { placeFrame, type SegmentWindow } from '../src/apps/jobs/segmentWindow.ts';
import { SegmentSink } from '../src/apps/jobs/SegmentSink.ts';
import { buildTimeline, planSegments, type Timeline } from '../src/apps/jobs/timeline.ts';
import { WindowTracker } from '../src/apps/jobs/WindowTracker.ts';
import { formatSeconds } from '../src/apps/jobs/statusView.ts';
import type { FrameSink } from '../src/stream/sink.ts';
import type { FaceTracker } from '../src/track/tracker.ts';
import type { AnalyzedFrame, FaceDetection, VideoFrame, VideoInfo } from '../src/types.ts';
import { shared } from './helpers/paths.ts';

const ENCODE = { codec: 'libx264', crf: 18, preset: 'medium', deterministic: true };

describe('job argument builders', () => {
  it('lists video packets with time base, declared frames and start time, without decoding', () => {
    expect(buildPacketProbeArgs('/in/in.mp4')).toEqual([
      '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts,flags:stream=time_base,nb_frames:format=start_time', '-of', 'json', 'file:/in/in.mp4',
    ]);
    expect(buildCountFramesArgs('/w/o.mp4')).toEqual(['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', 'file:/w/o.mp4']);
  });

  it('parses the packet list, leaving out discarded packets and noting missing pts', () => {
    const json = JSON.stringify({
      packets: [{ pts: 1024, flags: 'K__' }, { pts: 0, flags: 'K_D' }, { pts: 2048, flags: '___' }, { flags: '___' }],
      streams: [{ time_base: '1/12800', nb_frames: '4' }],
      format: { start_time: '0.080000' },
    });
    const p = parsePacketProbe(json, 'x.mp4');
    expect(p).toEqual({ timeBase: [1, 12800], startTime: 0.08, packets: [{ pts: 1024, key: true }, { pts: 2048, key: false }], missingPts: true, packetsRead: 4, declaredFrames: 4 });
    expect(() => parsePacketProbe('not json', 'x.mp4')).toThrow(/E?packet list of x\.mp4/);
    expect(() => parsePacketProbe('{"streams":[{}]}', 'x.mp4')).toThrow(/time base/);
  });

  it('quotes concat list entries', () => {
    expect(concatQuote("it's.mp4")).toBe("'it'\\''s.mp4'");
    expect(buildConcatList(['seg-00000.mp4', 'seg-00001.mp4'])).toBe("ffconcat version 1.0\nfile 'seg-00000.mp4'\nfile 'seg-00001.mp4'\n");
  });

  it('joins without re-encoding video, copying mp4-compatible audio from the source', () => {
    expect(buildJoinArgs({ list: '/w/l.ffconcat', source: '/in/a.mp4', audioCodec: 'aac', output: '/w/.join.partial', deterministic: true })).toEqual([
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
      '-f', 'concat', '-safe', '0', '-i', 'file:/w/l.ffconcat',
      '-i', 'file:/in/a.mp4', '-map', '0:v:0', '-map', '1:a:0', '-c:v', 'copy', '-c:a', 'copy',
      '-movflags', '+faststart', '-fflags', '+bitexact', '-flags:v', '+bitexact', '-map_metadata', '-1',
      '-f', 'mp4', '-y', 'file:/w/.join.partial',
    ]);
    const pcm = buildJoinArgs({ list: 'l', source: 's.avi', audioCodec: 'pcm_s16le', output: 'o' });
    expect(pcm.slice(pcm.indexOf('-c:a'), pcm.indexOf('-c:a') + 4)).toEqual(['-c:a', 'aac', '-b:a', '160k']);
    expect(pcm).not.toContain('+bitexact');
    const silent = buildJoinArgs({ list: 'l', source: 's', audioCodec: undefined, output: 'o' });
    expect(silent).not.toContain('1:a:0');
    expect(silent.slice(silent.indexOf('-map'), silent.indexOf('-map') + 4)).toEqual(['-map', '0:v:0', '-c:v', 'copy']);
  });
});

/** A constant-rate timeline: n frames at `fps`, keyframes every `gop` frames, packets in decode order (B-frames). */
function cfrTimeline(n: number, fps: number, gop: number): Timeline {
  const tick = 12800 / fps;
  const packets = Array.from({ length: n }, (_, i) => ({ pts: Math.round(i * tick), key: i % gop === 0 }));
  for (let i = 1; i + 1 < n; i += 3) [packets[i], packets[i + 1]] = [packets[i + 1]!, packets[i]!];
  const info = { frameRate: `${fps}/1`, fps, variableFrameRate: false, duration: n / fps, path: 'x' };
  return buildTimeline({ timeBase: [1, 12800], startTime: 0, packets, missingPts: false, packetsRead: n, declaredFrames: n }, info);
}

/** Every frame in exactly one segment, segments contiguous and in order. */
function expectPartition(t: Timeline, plans: ReturnType<typeof planSegments>): void {
  let next = 0;
  for (const p of plans) {
    expect(p.firstFrame).toBe(next);
    const count = p.frameCount ?? t.times.length - p.firstFrame;
    next += count;
    for (let i = p.firstFrame; i < p.firstFrame + count; i++) {
      if (p.startTime !== null) expect(t.times[i]!).toBeGreaterThanOrEqual(p.startTime);
      if (p.endTime !== null) expect(t.times[i]!).toBeLessThan(p.endTime);
    }
  }
  expect(next).toBe(t.times.length);
}

describe('timeline and segment plan', () => {
  it('sorts packets into presentation order and keeps keyframes', () => {
    const t = cfrTimeline(10, 25, 5);
    expect(t.kind).toBe('frames');
    expect(t.times).toEqual(Array.from({ length: 10 }, (_, i) => i * 0.04));
    expect(t.keyIndices).toEqual([0, 5]);
    expect(t.countExact).toBe(true);
  });

  it('cuts at keyframes near each target, with boundaries half-way between frames', () => {
    const t = cfrTimeline(250, 25, 60); // keyframes at 0, 2.4, 4.8, 7.2, 9.6 s
    const plans = planSegments(t, { segmentSeconds: 2, warmupSeconds: 1 });
    expect(plans.map((p) => p.firstFrame)).toEqual([0, 60, 120, 180]);
    expect(plans[1]!.startTime).toBeCloseTo(2.38, 9);
    expect(plans[1]!.firstTime).toBeCloseTo(2.4, 9);
    expect(plans[0]!.windowStart).toBeNull();
    expect(plans[1]!.windowStart).toBeCloseTo(1.38, 6);
    expect(plans.at(-1)!.endTime).toBeNull();
    // The last keyframe (9.6 s) would leave 0.4 s: merged into the last segment.
    expect(plans.at(-1)!.frameCount).toBe(70);
    expectPartition(t, plans);
  });

  it('cuts between frames when no keyframe is near, and never leaves a runt segment', () => {
    const t = cfrTimeline(125, 25, 1000);
    const plans = planSegments(t, { segmentSeconds: 2, warmupSeconds: 0 });
    expect(plans.map((p) => [p.firstFrame, p.frameCount])).toEqual([[0, 50], [50, 50], [100, 25]]);
    // Without warm-up the window starts just before the first frame (not at the previous boundary).
    expect(plans[1]!.windowStart).toBeCloseTo(1.999, 6);
    expectPartition(t, plans);
    expect(planSegments(cfrTimeline(60, 25, 1000), { segmentSeconds: 2, warmupSeconds: 1 })).toHaveLength(1);
    expect(() => planSegments(t, { segmentSeconds: 0, warmupSeconds: 0 })).toThrow(TypeError);
  });

  it('puts windows of variable-rate input on the output frame grid', () => {
    const packets = [0, 1, 3, 4, 6, 7, 9, 10, 12].flatMap((k) => [k * 1024, k * 1024 + 512]).map((pts, i) => ({ pts: pts + 507, key: i % 10 === 0 }));
    const info = { frameRate: '1350/61', fps: 1350 / 61, variableFrameRate: true, duration: 0.9, path: 'x' };
    const t = buildTimeline({ timeBase: [1, 15360], startTime: 0, packets, missingPts: false, packetsRead: 18, declaredFrames: 18 }, info);
    expect(t.kind).toBe('slots');
    expect(t.countExact).toBe(false);
    const slot = 61 / 1350;
    t.times.forEach((x, i) => expect(x / slot).toBeCloseTo(t.times[0]! / slot + i, 9));
    const plans = planSegments(t, { segmentSeconds: 0.3, warmupSeconds: 0.1 });
    expect(plans.length).toBeGreaterThan(1);
    for (const p of plans.slice(1)) {
      const m = p.windowStart! / slot;
      expect(Math.abs(m - Math.round(m))).toBeLessThan(1e-4);
      expect(p.windowStart!).toBeLessThanOrEqual(p.startTime! - 0.1 + 1e-6);
    }
    expect(plans.at(-1)!.frameCount).toBeNull();
    expectPartition(t, plans);
  });

  it('plans real footage: constant-rate, variable-rate and unreadable input', async () => {
    const opts = { outDir: '/tmp/fr-plan-out', pipeline: {}, encode: ENCODE, segmentSeconds: 2, warmupSeconds: 1 };
    const r2 = await planJob(shared('footage/retalk_2.mp4'), opts);
    expect(r2.id).toMatch(/^fr-[0-9a-f]{16}$/);
    expect(r2.spec.error).toBeNull();
    expect(r2.spec.video).toMatchObject({ frames: 125, framesExact: true, audioCodec: 'aac' });
    expect(r2.spec.segments.map((s) => s.frameCount)).toEqual([50, 50, 25]);
    expect(r2.spec.output).toBe('/tmp/fr-plan-out/retalk_2.mp4');
    expect(r2.spec.workDir).toBe(`/tmp/fr-plan-out/.facerestore-work/${r2.id}`);
    expect((await planJob(shared('footage/retalk_2.mp4'), opts)).id).toBe(r2.id);
    expect((await planJob(shared('footage/retalk_2.mp4'), { ...opts, warmupSeconds: 2 })).id).not.toBe(r2.id);
    const r1 = await planJob(shared('footage/retalk_1.mp4'), opts);
    expect(r1.spec.video?.framesExact).toBe(false);
    // The keyframe at 4.57 s is a cut.
    expect(r1.spec.segments.map((s) => s.firstTime?.toFixed(2))).toEqual(['0.05', '2.03', '4.56']);
    const bad = await planJob(shared('README.md'), opts);
    expect(bad.spec.error?.code).toBe('E_PROBE');
    expect(bad.spec.segments).toEqual([]);
  });
});

function frame(index: number, pts: number): VideoFrame {
  return { index, pts, width: 2, height: 2, data: new Uint8Array(12) };
}

/** Records what reaches the file sink. */
class RecordingSink implements FrameSink {
  written: number[] = [];
  finished = false;
  aborted = false;
  async start(): Promise<void> {}
  async write(item: AnalyzedFrame): Promise<void> {
    this.written.push(item.frame.index);
  }
  async finish(): Promise<void> {
    this.finished = true;
  }
  async abort(): Promise<void> {
    this.aborted = true;
  }
}

// A segment owning frames 50..99 of a 25 fps clip, decoded from 0.98 s (a second of warm-up).
const WINDOW: SegmentWindow = { index: 1, startTime: 1.98, endTime: 3.98, windowStart: 0.98, frameCount: 50, firstTime: 2, lastTime: 3.96, frameSeconds: 0.04 };
const window = (pts: number) => WINDOW.windowStart! + pts;
const reported = (globalIndex: number) => globalIndex * 0.04 - 0.98;

describe('segment window', () => {
  it('places frames by decode time, boundaries half-way between frames', () => {
    expect(placeFrame(WINDOW, reported(49))).toBe('before');
    expect(placeFrame(WINDOW, reported(50))).toBe('inside');
    expect(placeFrame(WINDOW, reported(99))).toBe('inside');
    expect(placeFrame(WINDOW, reported(100))).toBe('after');
    // Rounding of timestamps by far less than half a frame does not move a frame across a boundary.
    expect(placeFrame(WINDOW, reported(50) - 0.015)).toBe('inside');
    expect(window(0)).toBe(0.98);
  });

  it('keeps only its frames, says it is done at the first frame past the end, and commits on finish', async () => {
    const inner = new RecordingSink();
    const sink = new SegmentSink(inner, WINDOW);
    await sink.start({} as VideoInfo);
    const said: Array<[number, unknown]> = [];
    for (let g = 25; g <= 102; g++) {
      const r = await sink.write({ frame: frame(g, reported(g)), faces: [] });
      if (r !== undefined) said.push([g, r]);
    }
    expect(inner.written).toEqual(Array.from({ length: 50 }, (_, i) => 50 + i));
    // 'done' from frame 100 (the next segment's first) on; nothing is committed before finish().
    expect(said).toEqual([[100, 'done'], [101, 'done'], [102, 'done']]);
    expect(inner.finished).toBe(false);
    expect(sink.committed).toBe(false);
    await sink.finish();
    expect(inner.finished).toBe(true);
    expect(sink.committed).toBe(true);
    await sink.abort();
    expect(inner.aborted).toBe(false);
  });

  it('fails and drops the file when a frame is missing or repeated at a boundary', async () => {
    const short = new RecordingSink();
    const s1 = new SegmentSink(short, WINDOW);
    for (let g = 51; g <= 100; g++) await s1.write({ frame: frame(g, reported(g)), faces: [] });
    await expect(s1.finish()).rejects.toMatchObject({ code: 'E_DECODE', message: expect.stringContaining('decoded 49 of its 50 frames (truncated or corrupt input)') });
    expect(short.aborted).toBe(true);
    expect(short.finished).toBe(false);

    const s2 = new SegmentSink(new RecordingSink(), WINDOW);
    await s2.write({ frame: frame(50, reported(50)), faces: [] });
    await expect(s2.write({ frame: frame(51, reported(50)), faces: [] })).rejects.toThrow(/segment 1: frame times went backwards or repeated/);

    const s3 = new SegmentSink(new RecordingSink(), WINDOW);
    for (let g = 50; g < 99; g++) await s3.write({ frame: frame(g, reported(g)), faces: [] });
    await expect(s3.finish()).rejects.toMatchObject({ code: 'E_DECODE', message: expect.stringContaining('decoded 49 of its 50 frames') });
  });

  it('tracks warm-up frames without restoring them, and skips frames past the end', () => {
    const seen: number[] = [];
    const inner: FaceTracker = {
      update(f: VideoFrame, d: readonly FaceDetection[] | undefined) {
        seen.push(f.index);
        return (d ?? []).map((x) => ({ ...x, trackId: 1, rawPoints: x.points, fidelity: 0.5 }));
      },
    };
    const t = new WindowTracker(inner, WINDOW);
    const det: FaceDetection = { box: { x: 0, y: 0, width: 1, height: 1 }, score: 1, points: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]] };
    expect(t.update(frame(0, reported(40)), [det])).toEqual([]);
    expect(t.update(frame(10, reported(50)), [det])).toHaveLength(1);
    expect(t.needsDetection(frame(60, reported(100)))).toBe(false);
    expect(t.regions(2, 2)).toEqual([]);
    expect(t.update(frame(60, reported(100)), undefined)).toEqual([]);
    expect(seen).toEqual([0, 10]);
  });

  it('formats durations', () => {
    expect([formatSeconds(null), formatSeconds(4.4), formatSeconds(75), formatSeconds(3 * 3600 + 120)]).toEqual(['-', '4s', '1m15s', '3h02m']);
  });
});

describe('job data across the queue', () => {
  it('carries resolved portable options, keeps machine-local settings out, and refuses the old version', async () => {
    const portable = toPortableOptions({ restorer: 'classic', fidelity: 0.7, cacheDir: '/x', ffmpegPath: '/opt/ffmpeg' });
    const planned = await planJob(shared('footage/retalk_2.mp4'), { outDir: '/tmp/fr-plan-out', pipeline: portable, encode: ENCODE, segmentSeconds: 2, warmupSeconds: 1 });
    expect(planned.spec.v).toBe(2);
    expect(planned.spec.pipeline).toEqual({ restorer: 'classic', fidelity: 0.7, detector: 'auto', landmarks: true, lookAhead: 8, device: 'cpu', precision: 'auto', batch: 4, threadSpinning: true, queueDepth: 4, track: true, detectEvery: 1, fidelityMode: 'fixed', fidelityOverrides: {}, upscale: 1, faceUpsample: false, colorize: 'off', warp: 'cpu' });
    // Through JSON (what Redis holds) and back: the same data, validated on the worker's side.
    expect(parseJobData(jobSpecSchema, JSON.parse(JSON.stringify(planned.spec)), 'join')).toEqual(planned.spec);
    const seg = parseJobData(segmentJobSchema, JSON.parse(JSON.stringify(segmentJobData(planned.id, planned.spec, planned.spec.segments[1]!))), 'segment');
    expect(seg.pipeline).toEqual(planned.spec.pipeline);
    expect(withLocalSettings(seg.pipeline, { ffmpegPath: '/usr/local/bin/ffmpeg' })).toMatchObject({ restorer: 'classic', fidelity: 0.7, ffmpegPath: '/usr/local/bin/ffmpeg', ffprobePath: 'ffprobe' });
    const local = { ...planned.spec, pipeline: { ...planned.spec.pipeline, cacheDir: '/x' } };
    expect(() => parseJobData(jobSpecSchema, local, 'join')).toThrow(/invalid join job data.*pipeline: Unrecognized key.*cacheDir/);
    const v1 = { ...JSON.parse(JSON.stringify(planned.spec)), v: 1, pipeline: { restorer: 'classic' } };
    const err = (() => {
      try {
        parseJobData(jobSpecSchema, v1, 'join');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toMatchObject({ code: 'E_JOB', message: 'join job data version 1 is not supported (this worker reads version 2): submit the input again with this version of facerestore' });
    // A planning error travels as a serialized error (code, message, details).
    const bad = await planJob(shared('README.md'), { outDir: '/tmp/fr-plan-out', pipeline: {}, encode: ENCODE, segmentSeconds: 2, warmupSeconds: 1 });
    expect(parseJobData(jobSpecSchema, JSON.parse(JSON.stringify(bad.spec)), 'join').error).toMatchObject({ code: 'E_PROBE', message: expect.stringContaining('README.md') });
    // Options a worker could not run are refused at submit, not on the worker.
    await expect(planJob(shared('footage/retalk_2.mp4'), { outDir: '/tmp/fr-plan-out', pipeline: { restorer: 'onnx' }, encode: ENCODE, segmentSeconds: 2, warmupSeconds: 1 })).rejects.toMatchObject({ code: 'E_CONFIG' });
  });
});

describe('component pool', () => {
  it('lends one set per portable options at a time, reuses it, keeps at most maxIdle, and closes what it holds', async () => {
    const pool = new ComponentPool(1, { ffmpegPath: 'ffmpeg' });
    const a = await pool.acquire({ restorer: 'none', track: false });
    // Lent out: a concurrent job with the same options gets its own set.
    const b = await pool.acquire({ restorer: 'none', track: false });
    expect(b.components).not.toBe(a.components);
    await a.release();
    await a.release();
    // Equal options in another key order find the idle set.
    const a2 = await pool.acquire({ track: false, restorer: 'none' });
    expect(a2.components).toBe(a.components);
    await b.release();
    await a2.release();
    // maxIdle 1: the older idle set (b's) is closed.
    expect(b.components.closed).toBe(true);
    expect(a.components.closed).toBe(false);
    expect(pool.idle).toBe(1);
    const other = await pool.acquire({ restorer: 'none', track: false, fidelity: 0.9 });
    expect(other.components).not.toBe(a.components);
    expect(other.components.options).toMatchObject({ fidelity: 0.9, ffmpegPath: 'ffmpeg' });
    await expect(pool.acquire({ restorer: 'none', cacheDir: '/x' } as never)).rejects.toMatchObject({ code: 'E_CONFIG' });
    await pool.close();
    expect(a.components.closed).toBe(true);
    expect(other.components.closed).toBe(false);
    await other.release();
    expect(other.components.closed).toBe(true);
    await expect(pool.acquire({})).rejects.toMatchObject({ code: 'E_CLOSED' });
  });
});
