import path from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { FaceRestoreError } from '../../errors.ts';
import { onnxForCheckpoint } from '../../restore/checkpointModel.ts';
import { buildCodeFormerOnnx, buildRandomCodeFormer, OFFICIAL_CHECKPOINT, parseKind, verifyCheckpoint } from '../../models/codeformer/index.ts';
import { buildGfpganOnnx, buildRandomGfpgan, isGfpganCheckpoint, loadOrBuildGfpganCached } from '../../models/gfpgan/index.ts';
import { buildRrdbOnnx, isRrdbCheckpoint, loadOrBuildRrdbCached } from '../../models/realesrgan/index.ts';
import { MODEL_REGISTRY, registryEntryBySha256 } from '../../models/registry.ts';
import { addModel, listModels, pullModel, requireEntry, resolveModelRef, weightsDir } from '../../models/store.ts';
import { writeFileAtomic } from '../../util/atomicFile.ts';
import type { CliContext } from './context.ts';
import { checkWritableTarget } from './outputFormat.ts';
import { numberIn, oneOf } from './parse.ts';

/** Writes a built model atomically; failures become E_OUTPUT. */
async function writeModel(target: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFileAtomic(target, bytes);
  } catch (e) {
    throw new FaceRestoreError('E_OUTPUT', `cannot write ${target}: ${(e as Error).message}`, { cause: e });
  }
}

/** A byte progress bar on stderr when it is a terminal; silent otherwise. */
function downloadBar(enabled: boolean): { update: (received: number, total: number | undefined) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '{bar} {percentage}% | {mb}/{totalMb} MB | ETA {eta_formatted}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return {
    update(received, total) {
      const t = total ?? Math.max(received, 1);
      if (!started) {
        bar.start(t, received, { mb: mb(received), totalMb: total === undefined ? '?' : mb(total) });
        started = true;
      }
      bar.setTotal(Math.max(t, received));
      bar.update(received, { mb: mb(received), totalMb: total === undefined ? '?' : mb(total) });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** `facerestore models build|verify|list|pull|add|random`: the model registry and cache, checkpoints to ONNX graphs. */
export function registerModels(program: Command, ctx: CliContext): void {
  const models = program.command('models').description('models: list, pull and add the official releases; build ONNX graphs; verify files; make random full-size models');

  models
    .command('build')
    .description('build a batched ONNX graph from a CodeFormer or GFPGAN (v1.3 / v1.4) .pth (inputs x [N,3,512,512], w [N]; output out) or a Real-ESRGAN RRDBNet .pth (x [N,3,H,W] in [0,1] → out [N,3,sH,sW])')
    .argument('<checkpoint>', 'official codeformer.pth, GFPGANv1.3.pth / GFPGANv1.4.pth or a compatible checkpoint, or a pulled registry name')
    .option('-o, --output <file>', 'where to write the graph (default: the model cache, keyed by the checkpoint sha256)')
    .option('--fp16', 'float16 weights and activations (for CUDA)')
    .option('--model-kind <kind>', 'auto (from the shapes) | restoration | inpainting (w=1, no AdaIN; input x only) | colorization (w=0; input x only)', 'auto')
    .action(async (checkpointArg: string, flags: { output?: string; fp16?: boolean; modelKind?: string }) => {
      const checkpoint = resolveModelRef(checkpointArg, ctx.env.cacheDir) ?? checkpointArg;
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
      if (await isGfpganCheckpoint(checkpoint)) {
        // GFPGANv1Clean (x [N,3,512,512], w [N] → out; w blends with the input: docs/gfpgan.md).
        if (kind) throw new FaceRestoreError('E_CONFIG', `--model-kind ${flags.modelKind} applies to CodeFormer checkpoints; ${checkpoint} is a GFPGAN checkpoint`);
        if (flags.fp16) throw new FaceRestoreError('E_CONFIG', `--fp16 is not available for GFPGAN checkpoints (their graphs are built in float32): ${checkpoint}`);
        const target = flags.output ?? (await loadOrBuildGfpganCached(checkpoint, path.join(ctx.env.cacheDir, 'models')));
        if (flags.output) await writeModel(flags.output, (await buildGfpganOnnx(checkpoint)).bytes);
        ctx.stdout(`${target}\n`);
        ctx.stderr(`facerestore: built ${path.basename(target)} (GFPGAN) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
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
    .description('print a file\'s sha256 and size, and which official release it is (recognised by its sha256 among `models list`)')
    .argument('<file>', 'checkpoint file')
    .option('--json', 'JSON output')
    .action(async (file: string, flags: { json?: boolean }) => {
      const v = await verifyCheckpoint(file); // typed errors for a missing, unreadable or non-file path
      const entry = registryEntryBySha256(v.sha256);
      const release = entry ? { name: entry.name, file: entry.file, licence: entry.licence } : undefined;
      if (flags.json) ctx.stdout(JSON.stringify({ file, ...v, release: release ?? null }, null, 2) + '\n');
      else {
        const what = entry
          ? `official ${entry.file} (registry name ${entry.name}; licence: ${entry.licence})`
          : `not a known release (official codeformer.pth: sha256 ${OFFICIAL_CHECKPOINT.sha256}, ${OFFICIAL_CHECKPOINT.bytes} bytes; \`facerestore models list\` names the others)`;
        ctx.stdout(`${file}\n  sha256 ${v.sha256}\n  bytes  ${v.bytes}\n  ${what}\n`);
      }
    });

  models
    .command('list')
    .description('every known official release: name, file, size, licence, and whether it is cached and verified')
    .option('--json', 'JSON output')
    .action(async (flags: { json?: boolean }) => {
      const rows = await listModels(ctx.env.cacheDir);
      if (flags.json) {
        const out = rows.map(({ entry, stored }) => ({ ...entry, cached: !!stored, verification: stored?.verification ?? null, path: stored?.path ?? null, cachedSha256: stored?.sha256 ?? null }));
        ctx.stdout(JSON.stringify(out, null, 2) + '\n');
        return;
      }
      for (const { entry, stored } of rows) {
        const size = entry.bytes === undefined ? 'size unpublished' : `${(entry.bytes / 1e6).toFixed(1)} MB`;
        const state = !stored ? 'not cached' : stored.verification === 'published' ? 'cached, verified (published sha256)' : stored.verification === 'recorded' ? 'cached, hash recorded (no published sha256 to check)' : 'cached, DIFFERS from the published sha256';
        ctx.stdout(
          `${entry.name}\n  file     ${entry.file} (${size})\n  arch     ${entry.architecture}\n  sha256   ${entry.sha256 ?? 'not published (recorded at download)'}\n` +
            `  licence  ${entry.licence}\n  needs    ${entry.needs}\n  status   ${state}${stored ? ` at ${stored.path}` : ''}\n`,
        );
      }
    });

  models
    .command('pull')
    .description('download a known model into the cache (resumes an interrupted download; checks size and sha256)')
    .argument('<name>', `registry name: ${MODEL_REGISTRY.map((e) => e.name).join(' | ')}`)
    .option('--no-progress', 'no progress bar')
    .action(async (name: string, flags: { progress?: boolean }) => {
      const entry = requireEntry(name);
      if (entry.licence.includes('non-commercial')) ctx.stderr(`facerestore: ${entry.name} is licensed under the ${entry.licence}\n`);
      ctx.stderr(`facerestore: pulling ${entry.file}${entry.bytes === undefined ? '' : ` (${(entry.bytes / 1e6).toFixed(1)} MB)`} into ${weightsDir(ctx.env.cacheDir)}\n`);
      const bar = downloadBar(flags.progress !== false);
      let r;
      try {
        r = await pullModel(entry, { cacheDir: ctx.env.cacheDir, baseUrl: ctx.env.modelBaseUrl, onProgress: bar.update });
      } finally {
        bar.stop();
      }
      if (r.verification === 'published') ctx.stderr(`facerestore: ${entry.file}: sha256 matches the published value${r.resumed ? ' (resumed download)' : ''}\n`);
      else ctx.stderr(`facerestore: warning: ${entry.file}: no published sha256 to check the download against; recorded sha256 ${r.sha256} (${r.bytes} bytes)\n`);
      ctx.stdout(`${r.path}\n`);
    });

  models
    .command('add')
    .description('register a local copy of a known model (air-gapped sites): hashed, recognised by its sha256 or --name, copied into the cache')
    .argument('<file>', 'the model file')
    .option('--name <name>', 'registry name, for a file whose sha256 is not published')
    .option('--force', 'add it even when its sha256 differs from the published one')
    .action(async (file: string, flags: { name?: string; force?: boolean }) => {
      const r = await addModel(file, { cacheDir: ctx.env.cacheDir, name: flags.name, force: !!flags.force });
      const how = r.verification === 'published' ? 'sha256 matches the published value' : r.verification === 'recorded' ? `no published sha256; recorded ${r.sha256}` : `sha256 ${r.sha256} DIFFERS from the published value (added with --force)`;
      ctx.stderr(`facerestore: added ${r.name}: ${how}\n`);
      ctx.stdout(`${r.path}\n`);
    });

  models
    .command('random')
    .description('build a CodeFormer or GFPGAN ONNX graph of the official size with seeded random weights (for speed measurements without the real weights)')
    .requiredOption('-o, --output <file>', 'where to write the graph')
    .option('--arch <arch>', 'codeformer | gfpgan (GFPGANv1Clean as v1.3 / v1.4)', oneOf('codeformer', 'gfpgan'), 'codeformer')
    .option('--official-shape', 'official sizes (CodeFormer: nf 64, ch_mult 1,2,2,4,4,8, dim 512, 9 layers, 1024 codes; GFPGAN: style 512, channel multiplier 2); the default', true)
    .option('--seed <n>', 'random seed', numberIn(0, 2 ** 31, true), 0)
    .option('--fp16', 'float16 weights and activations (for CUDA; CodeFormer only)')
    .action(async (flags: { output: string; arch: 'codeformer' | 'gfpgan'; seed: number; fp16?: boolean }) => {
      if (flags.arch === 'gfpgan' && flags.fp16) throw new FaceRestoreError('E_CONFIG', '--fp16 is not available for GFPGAN graphs (built in float32)');
      await checkWritableTarget(flags.output, 'model');
      await writeModel(flags.output, flags.arch === 'gfpgan' ? buildRandomGfpgan({ seed: flags.seed }).bytes : buildRandomCodeFormer({ officialShape: true, seed: flags.seed, fp16: !!flags.fp16 }));
      ctx.stdout(`${flags.output}\n`);
    });
}
