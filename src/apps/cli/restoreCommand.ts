import path from 'node:path';
import type { Command } from 'commander';
import { FaceRestoreError } from '../../errors.ts';
import { createPipeline } from '../file/pipeline.ts';
import { TracksFile } from './tracksFile.ts';
import type { CliContext } from './context.ts';
import { listVideoEncoders } from '../../stream/encoderList.ts';
import { checkVideoOutput, checkWritableTarget } from './outputFormat.ts';
import { numberIn, oneOf } from './parse.ts';
import { isImageOutputPath, isImagePath, runImage, type FaceSelection, type ImageRunOptions } from '../file/runImage.ts';
import { runFolder } from '../file/runFolder.ts';
import { stat } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { addPipelineFlags, pipelineOptionsFromFlags } from './pipelineFlags.ts';
import { PROGRESS_MODES, progressModeFromFlags, progressReporter } from './progress.ts';
import { sha256File } from '../../models/checkpoint.ts';
import { VERSION } from './version.ts';
import { DEFAULT_REFERENCE_THRESHOLD, type ReferenceFace } from '../../engine/faceChoice.ts';
import { loadReference } from '../file/reference.ts';
import type { Pipeline } from '../file/pipeline.ts';

/** `facerestore restore in -o out`: the offline file job. */
export function registerRestore(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('restore')
    .description('restore the faces of a video, an image or a folder of both into a new file or folder (videos: same frames, timing and audio)')
    .argument('<input>', 'input video, image (JPEG, PNG, WebP, TIFF) or folder')
    .requiredOption('-o, --output <file>', 'output video or image (format by extension; written atomically), or a folder for a folder input')
    .option('--codec <name>', 'ffmpeg video encoder', 'libx264')
    .option('--crf <n>', 'encoder quality (lower is better)', numberIn(0, 63, true), 18)
    .option('--preset <name>', 'encoder preset', 'medium')
    .option('--deterministic', 'bit-identical output for identical input (single-threaded encoder)')
    .option('--start <seconds>', 'start time', numberIn(0, 1e7))
    .option('--duration <seconds>', 'length to process', numberIn(0.001, 1e7))
    .option('--tracks-json <file>', 'also write the per-frame tracks (ids, boxes, raw and smoothed points, score, w) as JSON')
    .option('--json', 'print a JSON summary on stdout')
    .option('--progress <mode>', 'auto (a bar on a terminal, else plain) | bar | plain (a line every few seconds: frames, fps, ETA; for logs) | none', oneOf(...PROGRESS_MODES))
    .option('--no-progress', 'same as --progress none')
    .option('--recursive', 'folder input: also the folders inside it')
    .option('--overwrite', 'folder input: redo outputs that already exist (default: skip them)')
    .option('--faces <which>', 'which faces to restore: all | largest | center | N (the N largest); on video chosen per track', parseFaces, 'all')
    .option('--min-face <px>', 'leave faces smaller than this (box side, pixels) alone', numberIn(0, 1e5), 0)
    .option('--reference <photo>', 'restore only faces that look like the largest face of this photo (needs --reference-model)')
    .option('--reference-model <onnx>', 'face-embedding ONNX model for --reference (ArcFace-style: float32 [N,3,112,112] RGB in [-1,1] → a vector)')
    .option('--reference-threshold <t>', 'cosine similarity from which a face counts as the reference person', numberIn(-1, 1), DEFAULT_REFERENCE_THRESHOLD)
    .option('--draw-boxes', 'images: draw each detection (box, track id, w; green restored, red not) into the output')
    .option('--has-aligned', 'images: the input is a 512×512 aligned face crop; no detection, the whole crop is restored')
    .option('--restorer-service <address>', 'restore the faces in a restore service (`facerestore restore-service`: tcp://HOST:PORT or unix:/path); waits up to 30 s for it when it is away')
    .option('--restorer-token-file <file>', "file holding the restore service's token (with --restorer-service)");
  addPipelineFlags(cmd).action(async (input: string, flags: Record<string, unknown>) => {
    const output = flags.output as string;
    if (path.resolve(output) === path.resolve(input)) throw new FaceRestoreError('E_USAGE', 'the output must not be the input file');
    const imageFlags: ImageRunOptions = { faces: flags.faces as FaceSelection, minFace: flags.minFace as number, drawBoxes: !!flags.drawBoxes, hasAligned: !!flags.hasAligned, onInfo: (m) => ctx.stderr(`facerestore: ${m}\n`) };
    if (!!flags.reference !== !!flags.referenceModel) {
      throw new FaceRestoreError('E_USAGE', flags.reference ? '--reference needs --reference-model <onnx> (a face-embedding model; none ships with facerestore)' : '--reference-model needs --reference <photo>');
    }
    if (flags.reference && flags.hasAligned) throw new FaceRestoreError('E_USAGE', '--reference does not apply to --has-aligned crops (no detection)');
    const isFolder = (await stat(input).catch(() => undefined))?.isDirectory() ?? false;
    if (isFolder || isImagePath(input)) {
      if (!isFolder && !isImageOutputPath(output)) {
        throw new FaceRestoreError('E_USAGE', `an image input needs an image output (.jpg, .png, .webp, .tif); got ${output}`);
      }
      const pipeline = await createPipeline({ ...pipelineOptionsFromFlags(flags, ctx.env.cacheDir, ctx.env), ...(await restorerServiceSettings(flags)) }, {
        onWarning: (m) => ctx.stderr(`facerestore: warning: ${m}\n`),
        onInfo: (m) => ctx.stderr(`facerestore: ${m}\n`),
      });
      let reference: ReferenceFace | undefined;
      try {
        const photoDetector = pipeline.components.photoDetector;
        const detectorNames = photoDetector === pipeline.detector ? pipeline.detector.name : `${photoDetector.name} (photos), ${pipeline.detector.name} (videos)`;
        ctx.stderr(`facerestore: restorer: ${pipeline.restorerName}; detector: ${detectorNames}\n`);
        reference = await referenceFromFlags(pipeline, flags, ctx);
        imageFlags.reference = reference;
        if (!isFolder) {
          const summary = await runImage(pipeline.components, input, output, imageFlags);
          if (flags.json) ctx.stdout(JSON.stringify(summary, null, 2) + '\n');
          else ctx.stderr(`facerestore: wrote ${output}: ${summary.restored} of ${summary.detected} faces restored, ${summary.width}×${summary.height}, ${summary.seconds.toFixed(2)} s\n`);
          return;
        }
        if (flags.drawBoxes || flags.hasAligned) {
          ctx.stderr('facerestore: warning: --draw-boxes and --has-aligned apply to the folder\'s images only\n');
        }
        const summary = await runFolder(pipeline, input, output, {
          recursive: !!flags.recursive,
          overwrite: !!flags.overwrite,
          image: imageFlags,
          video: { faceChoice: { faces: imageFlags.faces, minFace: imageFlags.minFace, reference } },
          encode: { codec: flags.codec as string, crf: flags.crf as number, preset: flags.preset as string, deterministic: !!flags.deterministic },
          onFile: (r) => ctx.stderr(`facerestore: ${r.status === 'failed' ? 'FAILED' : r.status} ${path.relative(input, r.input)}${r.error ? `: ${r.error.code}: ${r.error.message}` : r.status === 'done' ? ` (${r.faces} faces)` : ''}\n`),
        });
        if (flags.json) ctx.stdout(JSON.stringify(summary, null, 2) + '\n');
        ctx.stderr(`facerestore: ${summary.done} done, ${summary.skipped} skipped (exist; --overwrite redoes them), ${summary.failed} failed\n`);
        if (summary.failed > 0) throw new FaceRestoreError('E_SOME_FAILED', `${summary.failed} of ${summary.files.length} files failed`);
        return;
      } finally {
        await reference?.embedder.close();
        await pipeline.close();
      }
    }
    if (isImageOutputPath(output)) throw new FaceRestoreError('E_USAGE', `cannot write an image (${output}) from a video input (${input}); give a video output such as out.mp4`);
    for (const f of ['drawBoxes', 'hasAligned'] as const) if (flags[f]) throw new FaceRestoreError('E_USAGE', `--${f === 'drawBoxes' ? 'draw-boxes' : 'has-aligned'} works on images only so far`);
    flags.codec = await checkVideoOutput(output, {
      codec: flags.codec as string,
      codecIsDefault: cmd.getOptionValueSource('codec') === 'default',
      encoders: await listVideoEncoders(ctx.env.ffmpegPath),
    });
    if (flags.tracksJson) await checkWritableTarget(flags.tracksJson as string, 'tracks file');
    const pipeline = await createPipeline({ ...pipelineOptionsFromFlags(flags, ctx.env.cacheDir, ctx.env), ...(await restorerServiceSettings(flags)) }, {
      onWarning: (m) => ctx.stderr(`facerestore: warning: ${m}\n`),
      onInfo: (m) => ctx.stderr(`facerestore: ${m}\n`),
    });
    const mode = progressModeFromFlags(flags.progress);
    const bar = progressReporter(flags.json && mode === 'auto' ? 'none' : mode, ctx.stderr);
    let reference: ReferenceFace | undefined;
    try {
      ctx.stderr(`facerestore: restorer: ${pipeline.restorerName}; detector: ${pipeline.detector.name}\n`);
      reference = await referenceFromFlags(pipeline, flags, ctx);
      const choosing = flags.faces !== 'all' || (flags.minFace as number) > 0 || !!reference;
      const faceChoice = choosing ? { faces: flags.faces as FaceSelection, minFace: flags.minFace as number, reference } : undefined;
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
          { onProgress: bar.update, signal: controller.signal, start: flags.start as number | undefined, duration: flags.duration as number | undefined, onStart: tracks?.onStart, onTracked: tracks?.onTracked, faceChoice },
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
        if (flags.json) {
          const { cacheDir: _cache, ffmpegPath: _ff, ffprobePath: _fp, ...settings } = pipeline.options;
          // sha256 of the model file the run used (null if it cannot be read, e.g. a name that is no file)
          const m = pipeline.options.model;
          const model = m ? { path: path.resolve(m), sha256: await sha256File(m).then((r) => r.sha256, () => null) } : null;
          ctx.stdout(JSON.stringify({ version: VERSION, ...summary, settings, device: pipeline.device, restorer: pipeline.restorerName, model }, null, 2) + '\n');
        } else {
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
      await reference?.embedder.close();
      await pipeline.close();
    }
  });
}

/** The reference face of `--reference` / `--reference-model`, or undefined without them. */
async function referenceFromFlags(pipeline: Pipeline, flags: Record<string, unknown>, ctx: CliContext): Promise<ReferenceFace | undefined> {
  if (!flags.reference) return undefined;
  return loadReference(pipeline.components.photoDetector, {
    photo: flags.reference as string,
    model: flags.referenceModel as string,
    threshold: flags.referenceThreshold as number,
    device: pipeline.options.device,
    intraOpThreads: pipeline.options.threads,
    onInfo: (m) => ctx.stderr(`facerestore: ${m}\n`),
    onWarning: (m) => ctx.stderr(`facerestore: warning: ${m}\n`),
  });
}

/** `--faces all|largest|center|N`. */
function parseFaces(v: string): FaceSelection {
  if (v === 'all' || v === 'largest' || v === 'center') return v;
  const n = Number(v);
  if (/^\d+$/.test(v) && n >= 1) return n;
  throw new InvalidArgumentError(`Expected all, largest, center or a count N ≥ 1 but received '${v}'.`);
}

/** `--restorer-service` with its `--restorer-token-file` as the pipeline's machine-local settings (both or neither). */
async function restorerServiceSettings(flags: Record<string, unknown>): Promise<{ restoreService?: string; restoreServiceToken?: string }> {
  if (flags.restorerService === undefined && flags.restorerTokenFile === undefined) return {};
  if (flags.restorerService === undefined) throw new FaceRestoreError('E_USAGE', '--restorer-token-file goes with --restorer-service');
  if (flags.restorerTokenFile === undefined) throw new FaceRestoreError('E_USAGE', '--restorer-service needs --restorer-token-file <file> (the token of the restore service)');
  const { parseServiceAddress } = await import('../../restore/restoreWire.ts');
  const { readTokenFile } = await import('../../util/tokens.ts');
  parseServiceAddress(flags.restorerService as string);
  return { restoreService: flags.restorerService as string, restoreServiceToken: await readTokenFile(flags.restorerTokenFile as string) };
}
