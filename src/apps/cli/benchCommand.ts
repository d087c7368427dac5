import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { runBench } from '../bench/bench.ts';
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

/** `facerestore bench`: per-stage throughput, restorer faces/s, ffmpeg baseline, memory versus clip length. */
export function registerBench(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('bench')
    .description('measure per-stage throughput, restorer faces/s, overhead over a bare ffmpeg transcode and peak memory; prints JSON')
    .argument('[input]', 'clip to measure (default: the demo clip made by set-up)')
    .option('--json', 'JSON output (the only format; accepted for scripts)')
    .option('--duration <seconds>', 'measure only this much of the clip end to end', numberIn(0.01, 1e6))
    .option('--memory <seconds,...>', 'clip lengths for the memory-versus-length runs ("none" to skip)', numberList, [10, 60])
    .option('--batches <n,...>', 'restorer batch sizes to measure', numberList, [1, 4, 16])
    .option('--faces <n>', 'faces per batch size in the restorer measurement', numberIn(1, 1e5, true), 16)
    .option('--codec <name>', 'encoder for both the pipeline and the ffmpeg baseline', 'libx264')
    .option('--preset <name>', 'encoder preset', 'medium')
    .option('--crf <n>', 'encoder quality', numberIn(0, 63, true), 18);
  addPipelineFlags(cmd).action(async (input: string | undefined, flags: Record<string, unknown>) => {
    const clip = input ?? DEMO_CLIP;
    if (!input && !existsSync(clip)) throw new FaceRestoreError('E_INPUT_MISSING', `no input given and the demo clip ${clip} is missing: run bash scripts/setup.sh`);
    const passthrough: string[] = [];
    for (const [flag, key] of [['--fidelity', 'fidelity'], ['--restorer', 'restorer'], ['--model', 'model'], ['--detector', 'detector'], ['--detector-model', 'detectorModel'], ['--detector-threshold', 'detectorThreshold'], ['--device', 'device'], ['--batch', 'batch'], ['--threads', 'threads']] as const) {
      if (flags[key] !== undefined) passthrough.push(flag, String(flags[key]));
    }
    const report = await runBench({
      input: clip,
      duration: flags.duration as number | undefined,
      memorySeconds: flags.memory as number[],
      batches: flags.batches as number[],
      facesPerBatchSize: flags.faces as number,
      pipelineArgs: passthrough,
      pipeline: pipelineOptionsFromFlags(flags, ctx.env.cacheDir, ctx.env),
      encoder: { codec: flags.codec as string, preset: flags.preset as string, crf: flags.crf as number },
      ffmpegPath: ctx.env.ffmpegPath,
      onInfo: (m) => ctx.stderr(`bench: ${m}\n`),
    });
    ctx.stdout(JSON.stringify(report, null, 2) + '\n');
  });
}
