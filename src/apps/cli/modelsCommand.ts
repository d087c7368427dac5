import path from 'node:path';
import type { Command } from 'commander';
import { FaceRestoreError } from '../../errors.ts';
import { onnxForCheckpoint } from '../../restore/checkpointModel.ts';
import { buildCodeFormerOnnx, buildRandomCodeFormer, OFFICIAL_CHECKPOINT, parseKind, verifyCheckpoint } from '../../models/codeformer/index.ts';
import { buildRrdbOnnx, isRrdbCheckpoint, loadOrBuildRrdbCached } from '../../models/realesrgan/index.ts';
import { writeFileAtomic } from '../../util/atomicFile.ts';
import type { CliContext } from './context.ts';
import { checkWritableTarget } from './outputFormat.ts';
import { numberIn } from './parse.ts';

/** Writes a built model atomically; failures become E_OUTPUT. */
async function writeModel(target: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFileAtomic(target, bytes);
  } catch (e) {
    throw new FaceRestoreError('E_OUTPUT', `cannot write ${target}: ${(e as Error).message}`, { cause: e });
  }
}

/** `facerestore models build|verify|random`: CodeFormer checkpoints to ONNX graphs. */
export function registerModels(program: Command, ctx: CliContext): void {
  const models = program.command('models').description('CodeFormer checkpoints: build ONNX graphs, verify files, make random full-size models');

  models
    .command('build')
    .description('build a batched ONNX graph from a CodeFormer .pth (inputs x [N,3,512,512], w [N]; output out) or a Real-ESRGAN RRDBNet .pth (x [N,3,H,W] in [0,1] → out [N,3,sH,sW])')
    .argument('<checkpoint>', 'official codeformer.pth or a compatible checkpoint')
    .option('-o, --output <file>', 'where to write the graph (default: the model cache, keyed by the checkpoint sha256)')
    .option('--fp16', 'float16 weights and activations (for CUDA)')
    .option('--model-kind <kind>', 'auto (from the shapes) | restoration | inpainting (w=1, no AdaIN; input x only) | colorization (w=0; input x only)', 'auto')
    .action(async (checkpoint: string, flags: { output?: string; fp16?: boolean; modelKind?: string }) => {
      const started = performance.now();
      const kind = parseKind(flags.modelKind);
      if (flags.output) await checkWritableTarget(flags.output, 'model');
      if (await isRrdbCheckpoint(checkpoint)) {
        // Real-ESRGAN RRDBNet (x [N,3,H,W] in [0,1] → out [N,3,sH,sW]), the --bg-upsampler model.
        const target = flags.output ?? (await loadOrBuildRrdbCached(checkpoint, path.join(ctx.env.cacheDir, 'models')));
        if (flags.output) await writeModel(flags.output, (await buildRrdbOnnx(checkpoint)).bytes);
        ctx.stdout(`${target}\n`);
        ctx.stderr(`facerestore: built ${path.basename(target)} (RRDBNet) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
        return;
      }
      let target: string;
      if (flags.output) {
        await writeModel(flags.output, await buildCodeFormerOnnx(checkpoint, { fp16: !!flags.fp16, kind }));
        target = flags.output;
      } else {
        target = await onnxForCheckpoint(checkpoint, { cacheDir: ctx.env.cacheDir, fp16: !!flags.fp16, kind, onInfo: (m) => ctx.stderr(`facerestore: ${m}\n`) });
      }
      ctx.stdout(`${target}\n`);
      ctx.stderr(`facerestore: built ${path.basename(target)} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    });

  models
    .command('verify')
    .description("print a checkpoint's sha256 and size, and whether it is the official CodeFormer release (v0.1.0)")
    .argument('<file>', 'checkpoint file')
    .option('--json', 'JSON output')
    .action(async (file: string, flags: { json?: boolean }) => {
      const v = await verifyCheckpoint(file);
      if (flags.json) ctx.stdout(JSON.stringify({ file, ...v }, null, 2) + '\n');
      else {
        ctx.stdout(`${file}\n  sha256 ${v.sha256}\n  bytes  ${v.bytes}\n  ${v.official ? 'official codeformer.pth (v0.1.0)' : `not the official release (expected sha256 ${OFFICIAL_CHECKPOINT.sha256}, ${OFFICIAL_CHECKPOINT.bytes} bytes)`}\n`);
      }
    });

  models
    .command('random')
    .description('build a CodeFormer ONNX graph with seeded random weights (for speed measurements without the real weights)')
    .requiredOption('-o, --output <file>', 'where to write the graph')
    .option('--official-shape', 'official sizes (nf 64, ch_mult 1,2,2,4,4,8, dim 512, 9 layers, 1024 codes); the default', true)
    .option('--seed <n>', 'random seed', numberIn(0, 2 ** 31, true), 0)
    .option('--fp16', 'float16 weights and activations (for CUDA)')
    .action(async (flags: { output: string; seed: number; fp16?: boolean }) => {
      await checkWritableTarget(flags.output, 'model');
      await writeModel(flags.output, buildRandomCodeFormer({ officialShape: true, seed: flags.seed, fp16: !!flags.fp16 }));
      ctx.stdout(`${flags.output}\n`);
    });
}
