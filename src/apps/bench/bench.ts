import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FaceRestoreError } from '../../errors.ts';
import { probeVideo } from '../../ingest/probe.ts';
import type { PipelineOptionsInput } from '../../engine/options.ts';
import type { RunSummary } from '../file/pipeline.ts';
import { createRestorer } from '../../restore/createRestorer.ts';
import { CROP_BYTES } from '../../restore/restorer.ts';
import { ChildRunner } from '../../util/process.ts';
import { buildLoopClipArgs, buildTranscodeArgs } from './benchArgs.ts';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../../bin/facerestore.mjs', import.meta.url));

/** What to measure. */
export interface BenchOptions {
  input: string;
  /** Seconds of the clip for the end-to-end run (default: all of it). */
  duration?: number;
  /** Clip lengths (seconds) for the memory-versus-length runs; empty to skip. Default [10, 60]. */
  memorySeconds?: number[];
  /** Batch sizes for the restorer throughput. Default [1, 4, 16]. */
  batches?: number[];
  /** Restorer throughput: faces per batch size measured (at least one batch). Default 16. */
  facesPerBatchSize?: number;
  /** Pipeline flags passed to the measured runs, as CLI arguments (e.g. ['--restorer', 'classic']). */
  pipelineArgs?: string[];
  /** Pipeline options for the in-process restorer throughput run. */
  pipeline: PipelineOptionsInput;
  encoder?: { codec: string; preset: string; crf: number };
  ffmpegPath?: string;
  onInfo?: (m: string) => void;
}

/** The benchmark's JSON. Times in seconds unless named otherwise; rates per second. */
export interface BenchReport {
  clip: { path: string; width: number; height: number; frames: number; seconds: number };
  machine: { cpus: number; cpuModel: string; node: string; platform: string };
  settings: { restorer: string; detector: string; device: string; batch: number; threads: string; encoder: string };
  endToEnd: { frames: number; faces: number; seconds: number; fps: number; peakRssMB: number };
  stages: Record<string, { ms: number; fps: number }>;
  ffmpegBaseline: { seconds: number; fps: number };
  /** End-to-end time over the bare ffmpeg transcode time of the same frames. */
  overheadRatio: number;
  restorer: { name: string; throughput: Array<{ batch: number; faces: number; seconds: number; facesPerSecond: number; secondsPerFace: number }> };
  memory: Array<{ clipSeconds: number; frames: number; peakRssMB: number }> | undefined;
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

async function timedFfmpeg(ffmpeg: string, args: string[]): Promise<number> {
  const t = performance.now();
  const r = await ChildRunner.start(ffmpeg, args, { missingCode: 'E_FFMPEG_MISSING' });
  const exit = await r.exited;
  if (exit.code !== 0) throw new FaceRestoreError('E_INTERNAL', `ffmpeg failed in the benchmark: ${r.stderrTail(3)}`);
  return (performance.now() - t) / 1000;
}

/** Measures the pipeline on a clip; see BenchReport. */
export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const ffmpeg = o.ffmpegPath ?? 'ffmpeg';
  const info = await probeVideo(o.input);
  const enc = o.encoder ?? { codec: 'libx264', preset: 'medium', crf: 18 };
  const encArgs = ['--codec', enc.codec, '--preset', enc.preset, '--crf', String(enc.crf)];
  const args = [...(o.pipelineArgs ?? []), ...encArgs, ...(o.duration !== undefined ? ['--duration', String(o.duration)] : [])];
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'facerestore-bench-'));
  try {
    o.onInfo?.('end-to-end run');
    const e2e = await restoreChild(o.input, path.join(tmp, 'e2e.mp4'), args);
    o.onInfo?.('bare ffmpeg transcode');
    const baseline = await timedFfmpeg(ffmpeg, buildTranscodeArgs({ input: o.input, output: path.join(tmp, 'baseline.mp4'), ...enc, duration: o.duration }));

    o.onInfo?.('restorer throughput');
    const restorer = await createRestorer({ kind: o.pipeline.restorer ?? (o.pipeline.model ? 'onnx' : 'classic'), model: o.pipeline.model, device: o.pipeline.device, batch: Math.max(...(o.batches ?? [1, 4, 16])), intraOpThreads: o.pipeline.threads, cacheDir: o.pipeline.cacheDir });
    const throughput: BenchReport['restorer']['throughput'] = [];
    let restorerName = 'none (passthrough)';
    if (restorer) {
      restorerName = restorer.name;
      try {
        const crop = new Uint8Array(CROP_BYTES).map((_, i) => (i * 2654435761) >>> 24);
        await restorer.restore([crop], [0.5]); // warm-up: first runs allocate
        for (const batch of o.batches ?? [1, 4, 16]) {
          const faces = Math.max(batch, o.facesPerBatchSize ?? 16);
          const t = performance.now();
          for (let done = 0; done < faces; done += batch) {
            const n = Math.min(batch, faces - done);
            await restorer.restore(Array.from({ length: n }, () => crop), Array.from({ length: n }, (_, i) => (i % 3) / 2));
          }
          const seconds = (performance.now() - t) / 1000;
          throughput.push({ batch, faces, seconds, facesPerSecond: faces / seconds, secondsPerFace: seconds / faces });
        }
      } finally {
        await restorer.close();
      }
    }

    let memory: BenchReport['memory'];
    const lengths = o.memorySeconds ?? [10, 60];
    if (lengths.length > 0) {
      memory = [];
      for (const seconds of lengths) {
        o.onInfo?.(`memory run on a ${seconds} s clip`);
        const clip = path.join(tmp, `loop-${seconds}.mp4`);
        await timedFfmpeg(ffmpeg, buildLoopClipArgs({ input: o.input, output: clip, seconds }));
        const s = await restoreChild(clip, path.join(tmp, `loop-${seconds}-out.mp4`), [...(o.pipelineArgs ?? []), '--preset', 'ultrafast']);
        memory.push({ clipSeconds: seconds, frames: s.frames, peakRssMB: s.peakRssMB });
      }
    }
    const stages = Object.fromEntries(
      Object.entries(e2e.stageMs).map(([k, ms]) => [k, { ms, fps: e2e.frames / Math.max(ms / 1000, 1e-9) }]),
    );
    const cpus = os.cpus();
    return {
      clip: { path: o.input, width: info.width, height: info.height, frames: e2e.frames, seconds: e2e.frames / info.fps },
      machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}` },
      settings: {
        restorer: e2e.restorer,
        detector: e2e.detector,
        device: o.pipeline.device ?? 'cpu',
        batch: o.pipeline.batch ?? 4,
        threads: o.pipeline.threads ? String(o.pipeline.threads) : `ORT default (${cpus.length})`,
        encoder: `${enc.codec} ${enc.preset} crf ${enc.crf}`,
      },
      endToEnd: { frames: e2e.frames, faces: e2e.faces, seconds: e2e.seconds, fps: e2e.frames / e2e.seconds, peakRssMB: e2e.peakRssMB },
      stages,
      ffmpegBaseline: { seconds: baseline, fps: e2e.frames / baseline },
      overheadRatio: e2e.seconds / baseline,
      restorer: { name: restorerName, throughput },
      memory,
      memoryRatio: memory && memory.length > 1 ? memory[memory.length - 1]!.peakRssMB / memory[0]!.peakRssMB : undefined,
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
