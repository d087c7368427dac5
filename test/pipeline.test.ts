import { threadSessionsCpuMs } from '../src/runtime/ortThread.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignmentFor, cropFootprint } from '../src/compose/align.ts';
import { createPipeline, type Pipeline } from '../src/apps/file/pipeline.ts';
import { runFile } from '../src/apps/file/runFile.ts';
import { Components } from '../src/engine/components.ts';
import type { FrameSink, SinkWriteResult } from '../src/stream/sink.ts';
import type { AnalyzedFrame, Box, VideoFrame } from '../src/types.ts';
import { CallbackSink, childPids, decodeFrames, ffmpeg, ffprobeJson, frameHash } from './helpers/media.ts';
import { i420Layout } from '../src/util/yuv.ts';
import { shared } from './helpers/paths.ts';

function inside(x: number, y: number, rects: readonly Box[]): boolean {
  return rects.some((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height);
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-pipeline-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('file pipeline through the library API (classic restorer, BlazeFace)', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await createPipeline({ batch: 4 });
  });
  afterAll(async () => {
    await pipeline.close();
    await pipeline.close();
  });

  it('hamilton clip: every frame in order; every Y, U and V byte outside the face rectangles bit-identical to the decoded input; faces changed (frame buffers recycled, as for the encoder)', async () => {
    const reference = decodeFrames(shared('footage/short_hamilton_clip.mp4'));
    let changedFrames = 0;
    let changedPixels = 0;
    let checked = 0;
    const sink = new CallbackSink(async ({ frame, faces }) => {
      const ref = (await reference.next()).value as VideoFrame;
      expect(ref.index).toBe(frame.index);
      expect(frame.colour).toEqual({ matrix: 'bt709', range: 'limited' });
      const rects = faces.map((f) => cropFootprint(alignmentFor(f.points), frame.width, frame.height));
      const L = i420Layout(frame.width, frame.height);
      let changed = 0;
      for (let y = 0; y < frame.height; y++) {
        for (let x = 0; x < frame.width; x++) {
          const i = y * frame.width + x;
          if (frame.data[i] !== ref.data[i]) {
            if (!inside(x, y, rects)) throw new Error(`frame ${frame.index}: luma (${x},${y}) outside every face changed`);
            changed++;
          }
          checked++;
        }
      }
      for (let cy = 0; cy < L.ch; cy++) {
        for (let cx = 0; cx < L.cw; cx++) {
          const i = cy * L.cw + cx;
          if (frame.data[L.uOff + i] === ref.data[L.uOff + i] && frame.data[L.vOff + i] === ref.data[L.vOff + i]) continue;
          // A chroma sample may change only when a luma pixel it covers is inside a face's rectangle.
          const covered = [0, 1].some((dy) => [0, 1].some((dx) => inside(2 * cx + dx, 2 * cy + dy, rects)));
          if (!covered) throw new Error(`frame ${frame.index}: chroma (${cx},${cy}) outside every face changed`);
        }
      }
      if (changed > 0) changedFrames++;
      changedPixels += changed;
    }, { releasesFrames: true });
    const summary = await pipeline.run(shared('footage/short_hamilton_clip.mp4'), sink);
    const probe = await ffprobeJson(shared('footage/short_hamilton_clip.mp4'));
    const v = probe.streams.find((s) => s.codec_type === 'video')!;
    expect(summary.frames).toBe(Number(v.nb_read_frames));
    expect(sink.indices).toEqual(Array.from({ length: summary.frames }, (_, i) => i));
    for (let i = 1; i < sink.pts.length; i++) expect(sink.pts[i]!).toBeGreaterThan(sink.pts[i - 1]!);
    expect(sink.finished).toBe(true);
    expect(summary.faces).toBeGreaterThan(100);
    expect(changedFrames).toBeGreaterThan(summary.framesWithFaces * 0.9);
    expect(changedPixels).toBeGreaterThan(summary.faces * 500);
    expect(checked).toBe(summary.frames * 640 * 360);
    expect(await childPids()).toEqual([]);
  });

  it('batched and unbatched runs give the same frames', async () => {
    const hashes: string[][] = [];
    for (const batch of [1, 8]) {
      const p = await createPipeline({ batch });
      const h: string[] = [];
      try {
        await p.run(shared('footage/retalk_1.mp4'), new CallbackSink(({ frame }) => void h.push(frameHash(frame))), { duration: 2 });
      } finally {
        await p.close();
      }
      hashes.push(h);
    }
    expect(hashes[0]!.length).toBeGreaterThan(40);
    expect(hashes[1]).toEqual(hashes[0]);
  });

  it('a clip without faces comes out as decoded', async () => {
    const clip = path.join(tmp, 'noface.mp4');
    await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', clip);
    const ref: string[] = [];
    for await (const f of decodeFrames(clip)) ref.push(frameHash(f));
    const got: string[] = [];
    const summary = await pipeline.run(clip, new CallbackSink(({ frame }) => void got.push(frameHash(frame))));
    expect(summary.faces).toBe(0);
    expect(got).toEqual(ref);
  });

  it('odd sizes and rotation metadata: frames come out upright at the display size, and encode at that exact size', async () => {
    const odd = path.join(tmp, 'odd.mp4');
    const rotated = path.join(tmp, 'rot-odd.mp4');
    await ffmpeg('-i', shared('footage/retalk_2.mp4'), '-t', '1', '-vf', 'scale=323:241', '-c:v', 'libx264', '-pix_fmt', 'yuv444p', '-c:a', 'copy', odd);
    // ffmpeg 5.1 writes the rotate tag as a display matrix only when stream-copying.
    await ffmpeg('-i', odd, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', rotated);
    const out = path.join(tmp, 'rot-odd-out.mp4');
    const summary = await pipeline.restoreFile(rotated, out);
    expect([summary.width, summary.height]).toEqual([241, 323]);
    const v = (await ffprobeJson(out)).streams.find((s) => s.codec_type === 'video')!;
    expect([v.width, v.height]).toEqual([241, 323]);
    expect(Number(v.nb_read_frames)).toBe(summary.frames);
  });

  it('tiny and odd sizes (1×1, 3×5, 4096×16): every frame through, unchanged without faces, encoded at the exact size', async () => {
    for (const [w, h] of [[1, 1], [3, 5], [4096, 16]] as const) {
      const clip = path.join(tmp, `tiny-${w}x${h}.mkv`);
      await ffmpeg('-f', 'lavfi', '-i', `testsrc2=size=64x64:rate=25:duration=0.4,format=yuv444p,scale=${w}:${h}`, '-c:v', 'ffv1', clip);
      const ref: string[] = [];
      for await (const f of decodeFrames(clip)) {
        expect(f.data.length).toBe(w * h + 2 * Math.ceil(w / 2) * Math.ceil(h / 2));
        ref.push(frameHash(f));
      }
      const got: string[] = [];
      await pipeline.run(clip, new CallbackSink(({ frame }) => void got.push(frameHash(frame))));
      expect(got).toEqual(ref);
      const out = path.join(tmp, `tiny-${w}x${h}-out.mkv`);
      const summary = await pipeline.restoreFile(clip, out);
      const v = (await ffprobeJson(out)).streams.find((s) => s.codec_type === 'video')!;
      expect([v.width, v.height, Number(v.nb_read_frames)]).toEqual([w, h, 10]);
      expect(summary.frames).toBe(10);
    }
  });

  it('the summary carries CPU per stage: main-thread stages, other threads, and the ffmpeg children', async () => {
    const p = await createPipeline({ restorer: 'none' });
    try {
      // 6 s of the clip (~155 frames): thread CPU is accounted in scheduler ticks (~4 ms here), so a stage
      // costing ~0.05 ms per frame (decode's pipe reads) could read 0 over the 30 frames of a 2 s window.
      const summary = await p.restoreFile(shared('footage/short_hamilton_clip.mp4'), path.join(tmp, 'cpu.mp4'), { preset: 'veryfast' }, { duration: 6 });
      const n = summary.frames;
      expect(n).toBeGreaterThan(140); // the clip's first frame is at 0.85 s
      const s = summary.stageCpuMs;
      for (const k of ['decode', 'detect', 'track', 'encode', 'other'] as const) expect(s[k], k).toBeGreaterThan(0);
      // No restorer: nothing is warped, restored or pasted.
      expect([s.restore, s.paste]).toEqual([0, 0]);
      expect(summary.childCpuMs!.decode).toBeGreaterThan(0);
      expect(summary.childCpuMs!.encode).toBeGreaterThan(0);
      const f = summary.cpuMsPerFrame;
      expect(f.detect).toBeCloseTo(s.detect / n, 9);
      expect(f.ffmpegEncode).toBeCloseTo(summary.childCpuMs!.encode / n, 9);
      const parts = f.decode + f.detect + f.track + f.align + f.restore + f.paste + f.encode + f.other + f.offMain + f.ffmpegDecode + f.ffmpegEncode;
      expect(f.total).toBeCloseTo(parts, 9);
      // No restorer: no restorer worker threads; what they would use is a part of offMain, not added to the total.
      expect([summary.restoreWorkersCpuMs, f.restoreWorkers]).toEqual([0, 0]);
      // The output is tagged with the source's colour (BT.709), which the frames were never converted out of.
      const v = (await ffprobeJson(path.join(tmp, 'cpu.mp4'))).streams.find((x) => x.codec_type === 'video')!;
      expect(v.color_space).toBe('bt709');
    } finally {
      await p.close();
    }
  });

  it('detectorThread: the detector runs on its worker thread, whose CPU counts as detect; same faces as on the main thread', async () => {
    const threaded = await createPipeline({ restorer: 'none', detectorThread: true });
    const plain = await createPipeline({ restorer: 'none' });
    try {
      const worker0 = threadSessionsCpuMs();
      const a = await threaded.restoreFile(shared('footage/short_hamilton_clip.mp4'), path.join(tmp, 'thread.mp4'), { preset: 'ultrafast' }, { duration: 1.5 });
      const workerMs = threadSessionsCpuMs() - worker0;
      expect(workerMs).toBeGreaterThan(0);
      expect(a.stageCpuMs.detect).toBeGreaterThanOrEqual(workerMs);
      const worker1 = threadSessionsCpuMs();
      const b = await plain.restoreFile(shared('footage/short_hamilton_clip.mp4'), path.join(tmp, 'plain.mp4'), { preset: 'ultrafast' }, { duration: 1.5 });
      expect(threadSessionsCpuMs()).toBe(worker1);
      expect([a.frames, a.faces, a.framesWithFaces]).toEqual([b.frames, b.faces, b.framesWithFaces]);
      expect(a.faces).toBeGreaterThan(0);
    } finally {
      await threaded.close();
      await plain.close();
    }
  });

  it('a failing sink aborts the run, stops ffmpeg and leaves no child process', async () => {
    const sink = new CallbackSink(({ frame }) => {
      if (frame.index === 5) throw new Error('sink broke');
    });
    await expect(pipeline.run(shared('footage/retalk_2.mp4'), sink)).rejects.toThrow('sink broke');
    expect(sink.aborted).toBe(true);
    expect(await childPids()).toEqual([]);
  });

  it('an abort signal stops the run', async () => {
    const controller = new AbortController();
    const sink = new CallbackSink(({ frame }) => {
      if (frame.index === 3) controller.abort(new Error('stop now'));
    });
    await expect(pipeline.run(shared('footage/retalk_2.mp4'), sink, { signal: controller.signal })).rejects.toThrow('stop now');
    expect(await childPids()).toEqual([]);
  });
});

/** Takes frames until it has `wanted`, then says it is done. */
class FirstFramesSink implements FrameSink {
  readonly indices: number[] = [];
  started = 0;
  finished = 0;
  aborted = 0;
  readonly wanted: number;
  constructor(wanted: number) {
    this.wanted = wanted;
  }
  async start(): Promise<void> {
    this.started++;
  }
  async write(item: AnalyzedFrame): Promise<SinkWriteResult> {
    if (this.finished || this.indices.length >= this.wanted) throw new Error(`frame ${item.frame.index} after the sink said done`);
    this.indices.push(item.frame.index);
    return this.indices.length === this.wanted ? 'done' : undefined;
  }
  async finish(): Promise<void> {
    this.finished++;
  }
  async abort(): Promise<void> {
    this.aborted++;
  }
}

describe('runs on a borrowed component set, ending and closing', () => {
  it('a sink that has all it needs ends the run normally: decoding stops, finish() once, summary returned; the borrowed set stays open', async () => {
    const components = await Components.create({ restorer: 'none', track: false });
    try {
      const sink = new FirstFramesSink(10);
      const summary = await runFile(components, shared('footage/short_hamilton_clip.mp4'), sink);
      expect(sink.indices).toEqual(Array.from({ length: 10 }, (_, i) => i));
      expect([sink.started, sink.finished, sink.aborted]).toEqual([1, 1, 0]);
      expect(summary).toMatchObject({ frames: 10, endedBySink: true, width: 640, height: 360, restorer: 'none (passthrough)' });
      expect(await childPids()).toEqual([]);
      expect(components.closed).toBe(false);
      // The same set runs again; a sink that never says done gets every frame.
      const all = new CallbackSink(() => undefined);
      const again = await runFile(components, shared('footage/retalk_2.mp4'), all, { duration: 1 });
      expect(again.endedBySink).toBe(false);
      expect(all.indices).toEqual(Array.from({ length: again.frames }, (_, i) => i));
      expect(again.frames).toBe(25);
    } finally {
      await components.close();
    }
    await expect(runFile(components, shared('footage/retalk_2.mp4'), new FirstFramesSink(1))).rejects.toMatchObject({ code: 'E_CLOSED' });
  });

  it('close() during a run: the run rejects with E_CLOSED, the sink is aborted, no child process is left', async () => {
    const p = await createPipeline({ restorer: 'none' });
    let closing: Promise<void> | undefined;
    const sink = new CallbackSink(({ frame }) => {
      // Not awaited here: close() waits for the run, and the run waits for this write.
      if (frame.index === 3) closing = p.close();
    });
    const err = await p.run(shared('footage/short_hamilton_clip.mp4'), sink).catch((e) => e);
    expect(err).toMatchObject({ code: 'E_CLOSED', message: 'pipeline closed during a run' });
    expect(closing).toBeDefined();
    await closing;
    expect(sink.aborted).toBe(true);
    expect(sink.finished).toBe(false);
    expect(sink.indices.length).toBeLessThan(50);
    expect(p.components.closed).toBe(true);
    expect(await childPids()).toEqual([]);
    await expect(p.run(shared('footage/retalk_2.mp4'), new FirstFramesSink(1))).rejects.toMatchObject({ code: 'E_CLOSED' });
  });
});

describe('pipeline options are validated at the edge', () => {
  it('lists every problem with a code', async () => {
    const err = await createPipeline({ fidelity: 2, batch: 0, detector: 'yunet' } as never).catch((e) => e);
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toMatch(/fidelity/);
    expect(err.message).toMatch(/batch/);
    const unknown = await createPipeline({ fidelty: 0.3 } as never).catch((e) => e);
    expect(unknown.message).toMatch(/fidelty/);
  });
});
