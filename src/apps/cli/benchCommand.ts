import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { runBench, type FrameSize } from '../bench/bench.ts';
import { FaceRestoreError } from '../../errors.ts';
import type { CliContext } from './context.ts';
import { numberIn } from './parse.ts';
import { addPipelineFlags, pipelineOptionsFromFlags } from './pipelineFlags.ts';

const DEMO_CLIP = fileURLToPath(new URL('../../../demo/group-degraded.mp4', import.meta.url));

function numberList(value: string): number[] {
  if (value === '' || value === 'none') return [];
  const list = value.split(',').map(Number);
  if (list.some((n) => !(n > 0))) throw new FaceRestoreError('E_USAGE', `Expected a comma-separated list of positive numbers but received '${value}'`);
  return list;
}

/** Commander parser for `640x360,1280x720`: even widths and heights (the baseline encodes 4:2:0). */
function sizeList(value: string): FrameSize[] {
  return value.split(',').map((item) => {
    const m = /^(\d+)x(\d+)$/.exec(item.trim());
    const [width, height] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
    if (!(width >= 16 && height >= 16 && width <= 8192 && height <= 8192 && width % 2 === 0 && height % 2 === 0)) {
      throw new FaceRestoreError('E_USAGE', `Expected a comma-separated list of even sizes WxH in [16, 8192] (e.g. 640x360,1280x720) but received '${value}'`);
    }
    return { width, height };
  });
}

/** `facerestore bench`: overhead over bare ffmpeg (wall, CPU) per frame size, per-stage figures, restorer faces/s, memory versus clip length. */
export function registerBench(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('bench')
    .description('measure the overhead over a bare ffmpeg transcode (wall and CPU) per frame size, per-stage figures, restorer faces/s, photo images/s and faces/s, and peak memory; prints JSON (live figures: node bench/live-latency.ts)')
    .argument('[input]', 'clip to measure (default: the demo clip made by set-up)')
    .option('--json', 'JSON output (the only format; accepted for scripts)')
    .option('--duration <seconds>', 'measure only this much of the clip end to end', numberIn(0.01, 1e6))
    .option('--sizes <WxH,...>', 'frame sizes for the overhead runs; the clip is scaled to each (default: its own size)', sizeList)
    .option('--repeats <n>', 'pipeline and bare-ffmpeg runs per size, interleaved; medians reported', numberIn(1, 100, true), 3)
    .option('--memory <seconds,...>', 'clip lengths for the memory-versus-length runs ("none" to skip)', numberList, [10, 60])
    .option('--batches <n,...>', 'restorer batch sizes to measure', numberList, [1, 4, 16])
    .option('--faces <n>', 'faces per batch size in the restorer measurement', numberIn(1, 1e5, true), 16)
    .option('--photos <n>', 'photo throughput on n stills taken from the clip (0 to skip)', numberIn(0, 100, true), 4)
    .option('--photo <file...>', 'photo throughput on these images instead')
    .option('--photo-repeats <n>', 'timed runs of each photo', numberIn(1, 100, true), 3)
    .option('--codec <name>', 'encoder for both the pipeline and the ffmpeg baseline', 'libx264')
    .option('--preset <name>', 'encoder preset', 'medium')
    .option('--crf <n>', 'encoder quality', numberIn(0, 63, true), 18);
  addPipelineFlags(cmd).action(async (input: string | undefined, flags: Record<string, unknown>) => {
    const clip = input ?? DEMO_CLIP;
    if (!input && !existsSync(clip)) throw new FaceRestoreError('E_INPUT_MISSING', `no input given and the demo clip ${clip} is missing: run bash scripts/setup.sh`);
    const report = await runBench({
      input: clip,
      duration: flags.duration as number | undefined,
      sizes: flags.sizes as FrameSize[] | undefined,
      repeats: flags.repeats as number,
      memorySeconds: flags.memory as number[],
      batches: flags.batches as number[],
      facesPerBatchSize: flags.faces as number,
      photos: flags.photo as string[] | undefined,
      photoCount: flags.photos as number,
      photoRepeats: flags.photoRepeats as number,
      pipeline: pipelineOptionsFromFlags(flags, ctx.env.cacheDir, ctx.env),
      encoder: { codec: flags.codec as string, preset: flags.preset as string, crf: flags.crf as number },
      ffmpegPath: ctx.env.ffmpegPath,
      onInfo: (m) => ctx.stderr(`bench: ${m}\n`),
    });
    ctx.stdout(JSON.stringify(report, null, 2) + '\n');
  });
}
