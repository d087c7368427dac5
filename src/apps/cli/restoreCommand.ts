import path from 'node:path';
import type { Command } from 'commander';
import { FaceRestoreError } from '../../errors.ts';
import { createPipeline } from '../file/pipeline.ts';
import { TracksFile } from './tracksFile.ts';
import type { CliContext } from './context.ts';
import { checkVideoOutput, checkWritableTarget } from './outputFormat.ts';
import { numberIn } from './parse.ts';
import { addPipelineFlags, pipelineOptionsFromFlags } from './pipelineFlags.ts';
import { progressBar } from './progress.ts';

/** `facerestore restore in -o out`: the offline file job. */
export function registerRestore(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('restore')
    .description('restore the faces of a video file into a new file (same frames, timing and audio)')
    .argument('<input>', 'input video')
    .requiredOption('-o, --output <file>', 'output video (written atomically)')
    .option('--codec <name>', 'ffmpeg video encoder', 'libx264')
    .option('--crf <n>', 'encoder quality (lower is better)', numberIn(0, 63, true), 18)
    .option('--preset <name>', 'encoder preset', 'medium')
    .option('--deterministic', 'bit-identical output for identical input (single-threaded encoder)')
    .option('--start <seconds>', 'start time', numberIn(0, 1e7))
    .option('--duration <seconds>', 'length to process', numberIn(0.001, 1e7))
    .option('--tracks-json <file>', 'also write the per-frame tracks (ids, boxes, raw and smoothed points, score, w) as JSON')
    .option('--json', 'print a JSON summary on stdout')
    .option('--no-progress', 'no progress bar');
  addPipelineFlags(cmd).action(async (input: string, flags: Record<string, unknown>) => {
    const output = flags.output as string;
    if (path.resolve(output) === path.resolve(input)) throw new FaceRestoreError('E_USAGE', 'the output must not be the input file');
    flags.codec = await checkVideoOutput(output, { codec: flags.codec as string, codecIsDefault: cmd.getOptionValueSource('codec') === 'default' });
    if (flags.tracksJson) await checkWritableTarget(flags.tracksJson as string, 'tracks file');
    const pipeline = await createPipeline(pipelineOptionsFromFlags(flags, ctx.env.cacheDir, ctx.env), {
      onWarning: (m) => ctx.stderr(`facerestore: warning: ${m}\n`),
      onInfo: (m) => ctx.stderr(`facerestore: ${m}\n`),
    });
    const bar = progressBar(flags.progress !== false && !flags.json);
    try {
      ctx.stderr(`facerestore: restorer: ${pipeline.restorerName}; detector: ${pipeline.detector.name}\n`);
      const controller = new AbortController();
      const onSignal = () => controller.abort(new FaceRestoreError('E_CLOSED', 'interrupted'));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const tracks = flags.tracksJson ? new TracksFile(flags.tracksJson as string) : undefined;
      try {
        const summary = await pipeline.restoreFile(
          input,
          output,
          { codec: flags.codec as string, crf: flags.crf as number, preset: flags.preset as string, deterministic: !!flags.deterministic },
          { onProgress: bar.update, signal: controller.signal, start: flags.start as number | undefined, duration: flags.duration as number | undefined, onStart: tracks?.onStart, onTracked: tracks?.onTracked },
        ).catch(async (e) => {
          await tracks?.discard();
          throw e;
        });
        await tracks?.commit();
        bar.stop();
        const rs = summary.resampled;
        if (rs && (rs.dropped > 0 || rs.duplicated > 0)) {
          ctx.stderr(
            `facerestore: warning: variable frame rate: ${rs.sourceFrames} source frames resampled to ${rs.outputFrames} at ${rs.rate} fps ` +
              `(${rs.dropped} dropped, ${rs.duplicated} duplicated), so the video keeps its duration and audio sync\n`,
          );
        }
        if (flags.json) ctx.stdout(JSON.stringify(summary, null, 2) + '\n');
        else {
          ctx.stderr(
            `facerestore: wrote ${output}: ${summary.frames} frames, ${summary.faces} faces in ${summary.framesWithFaces} frames, ` +
              `${summary.seconds.toFixed(1)} s (${(summary.frames / summary.seconds).toFixed(2)} fps)\n`,
          );
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    } finally {
      bar.stop();
      await pipeline.close();
    }
  });
}
