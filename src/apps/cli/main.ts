import { Command, CommanderError } from 'commander';
import { readEnvironment } from '../../config/env.ts';
import { FaceRestoreError } from '../../errors.ts';
import { registerBench } from './benchCommand.ts';
import { registerJobs } from './jobsCommand.ts';
import { registerModels } from './modelsCommand.ts';
import { registerRestore } from './restoreCommand.ts';
import { registerServe } from './serveCommand.ts';
import { registerTrack } from './trackCommand.ts';
import type { CliContext } from './context.ts';

/** Command modules add themselves here; each gets the program and the shared context. */
const COMMANDS: Array<(program: Command, ctx: CliContext) => void> = [registerRestore, registerTrack, registerModels, registerBench, registerJobs, registerServe];

/** Runs the CLI with `argv` (without node and script); resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const ctx: CliContext = {
    env: readEnvironment(),
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    exitCode: 0,
  };
  const program = new Command('facerestore')
    .description('Video face restoration: detection, tracking, CodeFormer on ONNX Runtime, seamless paste-back.')
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeErr: ctx.stderr, writeOut: ctx.stdout });
  for (const register of COMMANDS) register(program, ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof FaceRestoreError) {
      ctx.stderr(`facerestore: error [${e.code}]: ${e.message}\n`);
      return e.exitCode;
    }
    ctx.stderr(`facerestore: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
