import type { Command } from 'commander';
import { createPipeline } from '../file/pipeline.ts';
import { NullSink } from '../../stream/nullSink.ts';
import type { CliContext } from './context.ts';
import { checkWritableTarget } from './outputFormat.ts';
import { numberIn } from './parse.ts';
import { addPipelineFlags, pipelineOptionsFromFlags } from './pipelineFlags.ts';
import { progressBar } from './progress.ts';
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
    .option('--no-progress', 'no progress bar');
  addPipelineFlags(cmd).action(async (input: string, flags: Record<string, unknown>) => {
    await checkWritableTarget(flags.json as string, 'tracks file');
    const pipeline = await createPipeline({ ...pipelineOptionsFromFlags(flags, ctx.env.cacheDir, ctx.env), restorer: 'none' }, {
      onWarning: (m) => ctx.stderr(`facerestore: warning: ${m}\n`),
    });
    const tracks = new TracksFile(flags.json as string);
    const bar = progressBar(flags.progress !== false);
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
