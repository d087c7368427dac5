import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLoopClipArgs, buildScaleClipArgs, buildStillArgs, buildTranscodeArgs } from '../src/apps/bench/benchArgs.ts';
import { ChildCpuMeter } from '../src/apps/bench/childCpu.ts';
import { median, medianFigures, perFrameFigures } from '../src/apps/bench/stats.ts';
import { addPipelineFlags, pipelineFlagsFromOptions, pipelineOptionsFromFlags } from '../src/apps/cli/pipelineFlags.ts';
import { LANDMARKS_DEFAULT, portableOptionsSchema, toPortableOptions, type PortableOptions } from '../src/engine/options.ts';
import { tinyRestorerModel } from './helpers/tinyModels.ts';
import { repo, shared } from './helpers/paths.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-bench-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function positive(v: unknown, name: string): void {
  expect(typeof v, name).toBe('number');
  expect(v as number, name).toBeGreaterThan(0);
  expect(Number.isFinite(v as number), name).toBe(true);
}

/** Flags → portable options, through the same commander definitions and mapping the CLI uses. */
function optionsFromArgs(args: string[]): PortableOptions {
  const cmd = addPipelineFlags(new Command('x').exitOverride().configureOutput({ writeErr: () => undefined }));
  cmd.parse(args, { from: 'user' });
  return toPortableOptions(pipelineOptionsFromFlags(cmd.opts(), '/cache', { ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' }));
}

describe('pipelineFlagsFromOptions', () => {
  /** A value other than the default for every portable field. */
  const changed: PortableOptions = {
    restorer: 'onnx',
    model: '/models/cf model.onnx',
    fidelity: 0.3,
    detector: 'yunet',
    detectorModel: '/models/yunet.onnx',
    detectorThreshold: 0.71,
    landmarks: !LANDMARKS_DEFAULT,
    device: 'auto',
    precision: 'fp16',
    warp: 'graph',
    batch: 8,
    threads: 3,
    threadSpinning: false,
    detectorThread: true,
    queueDepth: 9,
    track: false,
    detectEvery: 5,
    reid: true,
    lookAhead: 3,
    fidelityMode: 'auto',
    fidelityOverrides: { '2': 0.1, '17': 1e-7 },
    upscale: 2,
    bgUpsampler: '/models/RealESRGAN_x2plus.pth',
    faceUpsample: true,
    colorize: 'auto',
    colorizeModel: '/models/codeformer_colorization.pth',
    inpaintMask: '/masks/mask.png',
    inpaintModel: '/models/codeformer_inpainting.pth',
  };

  it('covers every portable field, each with a non-default value here', () => {
    // A field added to the schema later without a flag (and without an entry here) fails this test.
    expect(Object.keys(changed).sort()).toEqual(Object.keys(portableOptionsSchema.shape).sort());
    const defaults = optionsFromArgs([]) as Record<string, unknown>;
    for (const [k, v] of Object.entries(changed)) expect(defaults[k], k).not.toEqual(v);
  });

  it('round-trips options → flags → options → flags', () => {
    const flags = pipelineFlagsFromOptions(changed);
    const back = optionsFromArgs(flags);
    expect(back).toEqual(changed);
    expect(pipelineFlagsFromOptions(back)).toEqual(flags);
  });

  it('round-trips flags → options → flags → options, defaults included', () => {
    const given = ['--no-track', '--detect-every', '4', '--fidelity-mode', 'auto', '--fidelity-override', '3=0.25', '--fidelity-override', '8=1', '--restorer', 'none'];
    const first = optionsFromArgs(given);
    expect(first).toMatchObject({ track: false, detectEvery: 4, fidelityMode: 'auto', fidelityOverrides: { '3': 0.25, '8': 1 }, restorer: 'none' });
    const flags = pipelineFlagsFromOptions(first);
    expect(optionsFromArgs(flags)).toEqual(first);
    expect(optionsFromArgs([])).toEqual(optionsFromArgs(pipelineFlagsFromOptions(optionsFromArgs([]))));
  });

  it('writes switches only where they differ from the default', () => {
    const flags = pipelineFlagsFromOptions(optionsFromArgs([]));
    expect(flags).not.toContain('--no-track');
    expect(flags).not.toContain('--no-thread-spinning');
    expect(flags).not.toContain('--fidelity-override');
  });
});

describe('bench ffmpeg argument builders', () => {
  it('scales into the requested frame keeping the aspect, for the given duration, audio copied', () => {
    expect(buildScaleClipArgs({ input: 'in.mp4', output: '/t/s.mp4', width: 1280, height: 720, duration: 2 })).toEqual([
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
      '-i', 'in.mp4', '-t', '2',
      '-map', '0:v:0', '-map', '0:a:0?', '-fps_mode', 'passthrough',
      '-vf', 'scale=1280:720:force_original_aspect_ratio=decrease:force_divisible_by=2,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1',
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '12', '-pix_fmt', 'yuv420p', '-c:a', 'copy',
      '-f', 'mp4', '-y', '/t/s.mp4',
    ]);
    expect(buildScaleClipArgs({ input: 'in.mp4', output: 'o.mp4', width: 640, height: 360 })).not.toContain('-t');
  });

  it('transcodes the video only with the pipeline encoder settings', () => {
    expect(buildTranscodeArgs({ input: 'a.mp4', output: 'b.mp4', codec: 'libx264', preset: 'fast', crf: 20, duration: 1.5 })).toEqual([
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
      '-i', 'a.mp4', '-t', '1.5',
      '-map', '0:v:0', '-c:v', 'libx264', '-preset', 'fast', '-crf', '20', '-pix_fmt', 'yuv420p',
      '-f', 'mp4', '-y', 'b.mp4',
    ]);
  });

  it('takes one still at a time as an image', () => {
    expect(buildStillArgs({ input: 'a.mp4', output: '/t/s.jpg', seconds: 1.25 })).toEqual([
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-ss', '1.25', '-i', 'a.mp4', '-frames:v', '1', '-q:v', '2', '-y', '/t/s.jpg',
    ]);
  });

  it('loops the input to the requested length', () => {
    const args = buildLoopClipArgs({ input: 'a.mp4', output: 'l.mp4', seconds: 600 });
    expect(args.slice(5, 11)).toEqual(['-stream_loop', '-1', '-i', 'a.mp4', '-t', '600']);
    expect(args.at(-1)).toBe('l.mp4');
  });
});

describe('bench statistics', () => {
  it('takes medians and per-frame figures of whatever the summary holds', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([undefined, 5])).toBe(5);
    expect(median([])).toBeUndefined();
    const summary = { frames: 10, seconds: 2, restorer: 'x', stageMs: { decode: 20, encode: 50 }, stageCpuMs: { detect: 30 }, childCpuMs: 40, cpuMsPerFrame: { total: 7 }, mixed: { a: 1, b: 'no' } };
    // cpuMsPerFrame is per frame already: kept, not divided again.
    expect(perFrameFigures(summary, 10)).toEqual({ stageMs: { decode: 2, encode: 5 }, stageCpuMs: { detect: 3 }, childCpuMs: 4, cpuMsPerFrame: { total: 7 } });
    expect(medianFigures([{ s: { a: 1 }, t: 5 }, { s: { a: 3 }, t: 7 }, { s: { a: 2 }, t: 6 }])).toEqual({ s: { a: 2 }, t: 6 });
  });

  it.runIf(process.platform === 'linux')('counts the CPU of a child process tree, grandchildren included', async () => {
    const meter = await ChildCpuMeter.create();
    // The grandchild burns CPU and prints its own times (the shell's `times`): user and system of itself.
    const script = "sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; times'";
    const { result, cpuSeconds } = await meter.measure(() => promisify(execFile)('sh', ['-c', script]));
    const own = result.stdout.split('\n')[0]!.split(' ').map((t) => Number(/(\d+)m([\d.]+)s/.exec(t)![1]) * 60 + Number(/(\d+)m([\d.]+)s/.exec(t)![2]));
    const grandchild = own[0]! + own[1]!;
    expect(grandchild).toBeGreaterThan(0.05);
    // The meter reads the same kernel accounting at 10 ms ticks: at least the grandchild's own time.
    expect(cpuSeconds!).toBeGreaterThanOrEqual(grandchild - 0.02);
  });
});

describe('facerestore bench --json', () => {
  it('measures two sizes against bare ffmpeg, per-stage figures, restorer faces/s; all numbers sane', async () => {
    const model = path.join(tmp, 'tiny.onnx');
    await writeFile(model, tinyRestorerModel());
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        repo('bin/facerestore.mjs'), 'bench', '--json', shared('footage/retalk_2.mp4'), '--model', model, '--duration', '1',
        '--sizes', '320x180,640x360', '--repeats', '1', '--memory', 'none', '--batches', '1,4', '--faces', '4', '--preset', 'ultrafast',
        '--detect-every', '2', '--fidelity-mode', 'auto', '--fidelity-override', '1=0.25', '--photos', '2', '--photo-repeats', '1',
      ],
      { maxBuffer: 16 << 20 },
    );
    const r = JSON.parse(stdout);
    expect(r.settings.restorer).toMatch(/onnx:tiny\.onnx/);
    // The child runs got the pipeline settings the bench was given.
    expect(r.settings.options).toMatchObject({ detectEvery: 2, fidelityMode: 'auto', fidelityOverrides: { '1': 0.25 }, model });
    expect(r.settings.childArgs).toEqual(expect.arrayContaining(['--detect-every', '2', '--fidelity-mode', 'auto', '--fidelity-override', '1=0.25']));
    expect(r.settings.repeats).toBe(1);
    expect(r.sizes.map((s: { size: string }) => s.size)).toEqual(['320x180', '640x360']);
    for (const s of r.sizes) {
      expect(s.scaled, s.size).toBe(true);
      expect(s.runs).toHaveLength(1);
      // 1 s of a 25 fps clip, the same frames at both sizes.
      expect(s.frames, s.size).toBe(r.sizes[0].frames);
      expect(Math.abs(s.frames - 25), s.size).toBeLessThanOrEqual(1);
      positive(s.faces, `${s.size} faces`);
      for (const k of ['wallSeconds', 'cpuSeconds', 'runSeconds', 'fps', 'peakRssMB']) positive(s.pipeline[k], `${s.size} pipeline.${k}`);
      for (const k of ['wallSeconds', 'cpuSeconds', 'fps']) positive(s.ffmpeg[k], `${s.size} ffmpeg.${k}`);
      // The run's own time excludes the child's start-up, so it cannot exceed the process's wall time.
      expect(s.pipeline.runSeconds).toBeLessThanOrEqual(s.pipeline.wallSeconds);
      // Ratios come from the reported medians (one repeat: the run itself).
      expect(s.ratio.wall).toBeCloseTo(s.pipeline.wallSeconds / s.ffmpeg.wallSeconds, 9);
      expect(s.ratio.run).toBeCloseTo(s.pipeline.runSeconds / s.ffmpeg.wallSeconds, 9);
      expect(s.ratio.cpu).toBeCloseTo(s.pipeline.cpuSeconds / s.ffmpeg.cpuSeconds, 9);
      expect(s.runs[0].pipeline.wallSeconds).toBe(s.pipeline.wallSeconds);
      expect(s.runs[0].ratio.cpu).toBeCloseTo(s.ratio.cpu, 9);
      expect(s.pipeline.fps).toBeCloseTo(s.frames / s.pipeline.runSeconds, 9);
      for (const stage of ['decode', 'detect', 'align', 'restore', 'paste', 'encode']) {
        positive(s.stages[stage].ms, `${stage}.ms`);
        positive(s.stages[stage].fps, `${stage}.fps`);
        // Per frame = the run's total over its frames.
        expect(s.perFrame.stageMs[stage] * s.frames).toBeCloseTo(s.stages[stage].ms, 6);
      }
    }
    expect(r.restorer.throughput.map((t: { batch: number }) => t.batch)).toEqual([1, 4]);
    // Each batch size times at least three calls of a full batch and at least --faces faces (after its warm-up).
    expect(r.restorer.throughput.map((t: { faces: number }) => t.faces)).toEqual([4, 12]);
    for (const t of r.restorer.throughput) for (const k of ['faces', 'seconds', 'facesPerSecond', 'secondsPerFace']) positive(t[k], `throughput.${k}`);
    expect(r.memory).toBeUndefined();
    positive(r.machine.cpus, 'machine.cpus');
    // Photo throughput on two stills taken from the clip: the restorer's pass and a pass with none.
    expect(r.photos).toMatchObject({ source: 'clip frames', repeats: 1, sizes: ['844x844', '844x844'] });
    expect(r.photos.passes.map((p: { restorer: string }) => p.restorer)).toEqual([expect.stringMatching(/onnx:tiny\.onnx/), expect.stringMatching(/^none/)]);
    for (const p of r.photos.passes) {
      expect(p.images).toBe(2);
      for (const k of ['faces', 'seconds', 'imagesPerSecond', 'facesPerSecond']) positive(p[k], `photos.${k}`);
      expect(p.imagesPerSecond).toBeCloseTo(p.images / p.seconds, 9);
      expect(p.facesPerSecond).toBeCloseTo(p.faces / p.seconds, 9);
    }
    expect(r.photos.passes[0].restored).toBe(r.photos.passes[0].faces);
    expect(r.photos.passes[1].restored).toBe(0);
  });

  it('measures peak memory on looped clips of two lengths at the clip size', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [repo('bin/facerestore.mjs'), 'bench', '--json', shared('footage/retalk_2.mp4'), '--restorer', 'none', '--duration', '0.5', '--repeats', '1', '--memory', '1,2', '--batches', '1', '--preset', 'ultrafast', '--photos', '0'],
      { maxBuffer: 16 << 20 },
    );
    const r = JSON.parse(stdout);
    expect(r.sizes.map((s: { size: string; scaled: boolean }) => [s.size, s.scaled])).toEqual([['844x844', false]]);
    expect(r.memory.map((m: { clipSeconds: number }) => m.clipSeconds)).toEqual([1, 2]);
    for (const m of r.memory) for (const k of ['peakRssMB', 'frames', 'seconds']) positive(m[k], `memory.${k}`);
    expect(r.memory[1].frames).toBeGreaterThan(r.memory[0].frames);
    expect(r.photos).toBeUndefined();
    expect(r.memoryRatio).toBeCloseTo(r.memory[1].peakRssMB / r.memory[0].peakRssMB, 9);
  });

  it('refuses an odd or malformed size with a usage error', async () => {
    const e = await promisify(execFile)(process.execPath, [repo('bin/facerestore.mjs'), 'bench', shared('footage/retalk_2.mp4'), '--sizes', '641x360']).catch((x) => x);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/even sizes WxH/);
  });
});
