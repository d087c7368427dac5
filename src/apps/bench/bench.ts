import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FaceRestoreError } from '../../errors.ts';
import { probeVideo } from '../../ingest/probe.ts';
import { toPortableOptions, type PipelineOptionsInput, type PortableOptions } from '../../engine/options.ts';
import type { RunSummary } from '../file/pipeline.ts';
import { pipelineFlagsFromOptions } from '../cli/pipelineFlags.ts';
import { ChildRunner } from '../../util/process.ts';
import { buildLoopClipArgs, buildScaleClipArgs, buildStillArgs, buildTranscodeArgs } from './benchArgs.ts';
import { measurePhotos, type PhotoReport } from './photos.ts';
import { ChildCpuMeter } from './childCpu.ts';
import { median, medianFigures, perFrameFigures, ratio } from './stats.ts';
import { measureRestorer, type ThroughputFigure } from './throughput.ts';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../../bin/facerestore.mjs', import.meta.url));

/** A frame size, pixels. */
export interface FrameSize {
  width: number;
  height: number;
}

/** What to measure. */
export interface BenchOptions {
  input: string;
  /** Seconds of the clip for the overhead runs (default: all of it). */
  duration?: number;
  /** Frame sizes for the overhead runs (even numbers); the clip is scaled to each. Default: the clip's own size. */
  sizes?: FrameSize[];
  /** Pipeline and bare-ffmpeg runs per size, interleaved; medians are reported. Default 3. */
  repeats?: number;
  /** Clip lengths (seconds) for the memory-versus-length runs; empty to skip. Default [10, 60]. */
  memorySeconds?: number[];
  /** Batch sizes for the restorer throughput. Default [1, 4, 16]. */
  batches?: number[];
  /** Restorer throughput: faces per batch size measured (at least one batch). Default 16. */
  facesPerBatchSize?: number;
  /**
   * Photo throughput: these still images, or (when absent) `photoCount` frames taken from the clip as JPEGs.
   * `photoCount` 0 skips it. Default 4 frames, each timed `photoRepeats` times (default 3).
   */
  photos?: string[];
  photoCount?: number;
  photoRepeats?: number;
  /** Pipeline options: the measured child runs get every portable one as flags; the in-process restorer run uses them too. */
  pipeline: PipelineOptionsInput;
  encoder?: { codec: string; preset: string; crf: number };
  ffmpegPath?: string;
  onInfo?: (m: string) => void;
}

/** Times of one measured process tree: wall seconds from spawn to exit, CPU seconds (user + system, the whole tree; null off Linux). */
export interface ProcessFigures {
  wallSeconds: number;
  cpuSeconds: number | null;
}

/** One size's overhead measurement. Medians over the repeats; ratios are pipeline over bare ffmpeg. */
export interface SizeReport {
  size: string;
  width: number;
  height: number;
  /** Whether the clip was scaled (false: the input itself was measured). */
  scaled: boolean;
  frames: number;
  faces: number;
  /** The `restore` child: process times, the pipeline's own run time (no start-up), fps over it, peak RSS of the child (MiB). */
  pipeline: ProcessFigures & { runSeconds: number; fps: number; peakRssMB: number };
  /** A bare ffmpeg decode + encode of the same frames with the same encoder settings; fps over its wall time. */
  ffmpeg: ProcessFigures & { fps: number };
  /** Median pipeline figure over median ffmpeg figure: wall (process), run (pipeline's own time over ffmpeg's wall), cpu. */
  ratio: { wall: number; run: number; cpu: number | null };
  /** Every repeat as measured, in order, with its own ratios. */
  runs: Array<{ pipeline: ProcessFigures & { runSeconds: number }; ffmpeg: ProcessFigures; ratio: { wall: number; cpu: number | null } }>;
  /** Wall-clock milliseconds each stage spent over the run, and fps over it (stages overlap). */
  stages: Record<string, { ms: number; fps: number }>;
  /** Every per-stage figure of the run summary divided by the frame count (e.g. stageMs → ms per frame). */
  perFrame: ReturnType<typeof perFrameFigures>;
}

/** The benchmark's JSON. Times in seconds unless named otherwise; rates per second. */
export interface BenchReport {
  clip: { path: string; width: number; height: number; fps: number; frames: number; seconds: number };
  machine: { cpus: number; cpuModel: string; node: string; platform: string; loadavgBefore: number[]; loadavgAfter: number[] };
  settings: { restorer: string; detector: string; options: PortableOptions; childArgs: string[]; encoder: string; repeats: number; duration: number | null };
  sizes: SizeReport[];
  restorer: { name: string; throughput: ThroughputFigure[] };
  memory: Array<{ clipSeconds: number; frames: number; seconds: number; peakRssMB: number }> | undefined;
  /** Images/s and faces/s of restore on stills, with the restorer and with none; undefined when skipped. */
  photos: PhotoReport | undefined;
  /** Peak RSS of the longest memory run over the shortest (flat memory keeps this near 1). */
  memoryRatio: number | undefined;
}

/** Runs `facerestore restore --json` in a child process and returns its summary (isolates its peak RSS). */
async function restoreChild(input: string, output: string, args: string[]): Promise<RunSummary> {
  try {
    const { stdout } = await run(process.execPath, [CLI, 'restore', input, '-o', output, '--json', '--no-progress', ...args], { maxBuffer: 16 << 20 });
    return JSON.parse(stdout) as RunSummary;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new FaceRestoreError('E_INTERNAL', `benchmark run failed: ${err.stderr?.trim() || err.message}`);
  }
}

async function ffmpegRun(ffmpeg: string, args: string[]): Promise<void> {
  const r = await ChildRunner.start(ffmpeg, args, { missingCode: 'E_FFMPEG_MISSING' });
  const exit = await r.exited;
  if (exit.code !== 0) throw new FaceRestoreError('E_INTERNAL', `ffmpeg failed in the benchmark: ${r.stderrTail(3)}`);
}

const orNull = (v: number | undefined): number | null => (v === undefined ? null : v);
const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** Measures the pipeline on a clip; see BenchReport. */
export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const ffmpeg = o.ffmpegPath ?? 'ffmpeg';
  const info = await probeVideo(o.input);
  const enc = o.encoder ?? { codec: 'libx264', preset: 'medium', crf: 18 };
  const portable = toPortableOptions(o.pipeline);
  const childArgs = pipelineFlagsFromOptions(portable);
  const encArgs = ['--codec', enc.codec, '--preset', enc.preset, '--crf', String(enc.crf)];
  const window = o.duration !== undefined ? ['--duration', String(o.duration)] : [];
  const repeats = Math.max(1, o.repeats ?? 3);
  const sizes = o.sizes ?? [{ width: info.width, height: info.height }];
  const meter = await ChildCpuMeter.create();
  const loadavgBefore = os.loadavg().map(round3);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'facerestore-bench-'));
  try {
    const clips: Array<FrameSize & { clip: string; scaled: boolean }> = [];
    for (const s of sizes) {
      if (s.width === info.width && s.height === info.height) {
        clips.push({ ...s, clip: o.input, scaled: false });
        continue;
      }
      o.onInfo?.(`scaling the clip to ${s.width}x${s.height}`);
      const clip = path.join(tmp, `scaled-${s.width}x${s.height}.mp4`);
      await ffmpegRun(ffmpeg, buildScaleClipArgs({ input: o.input, output: clip, ...s, duration: o.duration }));
      clips.push({ ...s, clip, scaled: true });
    }

    // Interleaved (every size's pair once, then again) so a drift of the machine's load hits all alike;
    // within a pair the order alternates, so neither run always finds the file in a warmer cache.
    const measured = clips.map(() => [] as Array<{ summary: RunSummary; pipeline: ProcessFigures & { runSeconds: number }; ffmpeg: ProcessFigures }>);
    for (let k = 0; k < repeats; k++) {
      for (const [i, c] of clips.entries()) {
        o.onInfo?.(`${c.width}x${c.height} run ${k + 1}/${repeats}`);
        const pipelineRun = () => meter.measure(() => restoreChild(c.clip, path.join(tmp, 'out.mp4'), [...childArgs, ...encArgs, ...window]));
        const ffmpegOnly = () => meter.measure(() => ffmpegRun(ffmpeg, buildTranscodeArgs({ input: c.clip, output: path.join(tmp, 'baseline.mp4'), ...enc, duration: o.duration })));
        let p: Awaited<ReturnType<typeof pipelineRun>>;
        let f: Awaited<ReturnType<typeof ffmpegOnly>>;
        if (k % 2 === 0) {
          p = await pipelineRun();
          f = await ffmpegOnly();
        } else {
          f = await ffmpegOnly();
          p = await pipelineRun();
        }
        measured[i]!.push({
          summary: p.result,
          pipeline: { wallSeconds: p.wallSeconds, cpuSeconds: orNull(p.cpuSeconds), runSeconds: p.result.seconds },
          ffmpeg: { wallSeconds: f.wallSeconds, cpuSeconds: orNull(f.cpuSeconds) },
        });
      }
    }
    const sizeReports = clips.map((c, i) => sizeReport(c, measured[i]!));

    o.onInfo?.('restorer throughput');
    const restorer = await measureRestorer(o.pipeline, o.batches ?? [1, 4, 16], o.facesPerBatchSize ?? 16);

    let photos: PhotoReport | undefined;
    const stillCount = o.photos?.length ? 0 : (o.photoCount ?? 4);
    if (o.photos?.length || stillCount > 0) {
      o.onInfo?.('photo throughput');
      let files = o.photos ?? [];
      if (!o.photos?.length) {
        const span = o.duration ?? info.frameCount / info.fps;
        files = [];
        for (let i = 0; i < stillCount; i++) {
          const still = path.join(tmp, `still-${i}.jpg`);
          await ffmpegRun(ffmpeg, buildStillArgs({ input: o.input, output: still, seconds: round3((span * (i + 0.5)) / stillCount) }));
          files.push(still);
        }
      }
      photos = await measurePhotos(o.pipeline, files, tmp, Math.max(1, o.photoRepeats ?? 3), o.photos?.length ? 'given' : 'clip frames');
    }

    let memory: BenchReport['memory'];
    const lengths = o.memorySeconds ?? [10, 60];
    if (lengths.length > 0) {
      memory = [];
      for (const seconds of lengths) {
        o.onInfo?.(`memory run on a ${seconds} s clip`);
        const clip = path.join(tmp, `loop-${seconds}.mp4`);
        await ffmpegRun(ffmpeg, buildLoopClipArgs({ input: o.input, output: clip, seconds }));
        // ultrafast: the encoder is not what this run measures, and long clips should not take hours.
        const s = await restoreChild(clip, path.join(tmp, `loop-${seconds}-out.mp4`), [...childArgs, '--codec', enc.codec, '--preset', 'ultrafast', '--crf', String(enc.crf)]);
        memory.push({ clipSeconds: seconds, frames: s.frames, seconds: s.seconds, peakRssMB: s.peakRssMB });
        await rm(clip, { force: true });
      }
    }
    const first = measured[0]![0]!.summary;
    const cpus = os.cpus();
    return {
      clip: { path: o.input, width: info.width, height: info.height, fps: info.fps, frames: info.frameCount, seconds: info.frameCount / info.fps },
      machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}`, loadavgBefore, loadavgAfter: os.loadavg().map(round3) },
      settings: { restorer: first.restorer, detector: first.detector, options: portable, childArgs, encoder: `${enc.codec} ${enc.preset} crf ${enc.crf}`, repeats, duration: o.duration ?? null },
      sizes: sizeReports,
      restorer,
      memory,
      photos,
      memoryRatio: memory && memory.length > 1 ? memory[memory.length - 1]!.peakRssMB / memory[0]!.peakRssMB : undefined,
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function sizeReport(c: FrameSize & { scaled: boolean }, runs: Array<{ summary: RunSummary; pipeline: ProcessFigures & { runSeconds: number }; ffmpeg: ProcessFigures }>): SizeReport {
  const frames = runs[0]!.summary.frames;
  const med = (pick: (r: (typeof runs)[number]) => number | null) => median(runs.map((r) => pick(r) ?? undefined));
  const pWall = med((r) => r.pipeline.wallSeconds)!;
  const pRun = med((r) => r.pipeline.runSeconds)!;
  const pCpu = med((r) => r.pipeline.cpuSeconds);
  const fWall = med((r) => r.ffmpeg.wallSeconds)!;
  const fCpu = med((r) => r.ffmpeg.cpuSeconds);
  const stageMs = medianFigures(runs.map((r) => ({ ...r.summary.stageMs }))) as Record<string, number>;
  return {
    size: `${c.width}x${c.height}`,
    width: c.width,
    height: c.height,
    scaled: c.scaled,
    frames,
    faces: runs[0]!.summary.faces,
    pipeline: { wallSeconds: pWall, cpuSeconds: orNull(pCpu), runSeconds: pRun, fps: frames / pRun, peakRssMB: med((r) => r.summary.peakRssMB)! },
    ffmpeg: { wallSeconds: fWall, cpuSeconds: orNull(fCpu), fps: frames / fWall },
    ratio: { wall: pWall / fWall, run: pRun / fWall, cpu: orNull(ratio(pCpu, fCpu)) },
    runs: runs.map((r) => ({
      pipeline: r.pipeline,
      ffmpeg: r.ffmpeg,
      ratio: { wall: r.pipeline.wallSeconds / r.ffmpeg.wallSeconds, cpu: orNull(ratio(r.pipeline.cpuSeconds ?? undefined, r.ffmpeg.cpuSeconds ?? undefined)) },
    })),
    stages: Object.fromEntries(Object.entries(stageMs).map(([k, ms]) => [k, { ms, fps: frames / Math.max(ms / 1000, 1e-9) }])),
    perFrame: medianFigures(runs.map((r) => perFrameFigures(r.summary, r.summary.frames))),
  };
}
