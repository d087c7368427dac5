import type { Command, Option } from 'commander';
import { createPipeline } from '../file/pipeline.ts';
import { NullSink } from '../../stream/nullSink.ts';
import type { CliContext } from './context.ts';
import { checkWritableTarget } from './outputFormat.ts';
import { numberIn, oneOf } from './parse.ts';
import { addPipelineFlags, pipelineOptionsFromFlags } from './pipelineFlags.ts';
import { PROGRESS_MODES, progressModeFromFlags, progressReporter } from './progress.ts';
import { TracksFile } from './tracksFile.ts';

/** `facerestore track in --json tracks.json`: detection and tracking only, exported per frame. */
export function registerTrack(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('track')
    .description('detect and track faces; write per-frame track ids, boxes, raw and smoothed points, scores and w as JSON (schema: docs/tracks-schema.json)')
    .argument('<input>', 'input video')
    .requiredOption('--json <file>', 'tracks JSON output (written atomically)')
    .option('--start <seconds>', 'start time', numberIn(0, 1e7))
    .option('--duration <seconds>', 'length to process', numberIn(0.001, 1e7))
    .option('--progress <mode>', 'auto (a bar on a terminal, else plain) | bar | plain (a line every few seconds: frames, fps, ETA; for logs) | none', oneOf(...PROGRESS_MODES))
    .option('--no-progress', 'same as --progress none');
  withoutOptions(addPipelineFlags(cmd), RESTORE_ONLY).action(async (input: string, flags: Record<string, unknown>) => {
    await checkWritableTarget(flags.json as string, 'tracks file');
    const pipeline = await createPipeline({ ...pipelineOptionsFromFlags(flags, ctx.env.cacheDir, ctx.env), restorer: 'none' }, {
      onWarning: (m) => ctx.stderr(`facerestore: warning: ${m}\n`),
    });
    const tracks = new TracksFile(flags.json as string);
    const bar = progressReporter(progressModeFromFlags(flags.progress), ctx.stderr);
    try {
      const summary = await pipeline.run(input, new NullSink(), { onStart: tracks.onStart, onTracked: tracks.onTracked, onProgress: bar.update, start: flags.start as number | undefined, duration: flags.duration as number | undefined });
      await tracks.commit();
      bar.stop();
      ctx.stderr(`facerestore: wrote ${flags.json}: ${summary.frames} frames, ${summary.faces} faces (detector ${summary.detector})\n`);
    } catch (e) {
      await tracks.discard();
      throw e;
    } finally {
      bar.stop();
      await pipeline.close();
    }
  });
}

/** Pipeline flags that only matter when faces are restored: `track` does not take them (nor list them). */
const RESTORE_ONLY = ['--restorer', '--model', '--precision', '--warp', '--batch', '--upscale', '--bg-upsampler', '--face-upsample', '--colorize', '--colorize-model', '--inpaint-mask', '--inpaint-model'];

/** Removes options from a command: its help no longer lists them and the parser refuses them as unknown. */
function withoutOptions(cmd: Command, longs: readonly string[]): Command {
  const keep = cmd.options.filter((o) => !longs.includes(o.long ?? ''));
  (cmd.options as Option[]).splice(0, cmd.options.length, ...keep);
  return cmd;
}
