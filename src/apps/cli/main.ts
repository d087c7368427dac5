import { Command, CommanderError } from 'commander';
import { readEnvironment } from '../../config/env.ts';
import { FaceRestoreError } from '../../errors.ts';
import { registerBench } from './benchCommand.ts';
import { registerDevices } from './devicesCommand.ts';
import { registerJobs } from './jobsCommand.ts';
import { registerModels } from './modelsCommand.ts';
import { registerRestore } from './restoreCommand.ts';
import { registerRestoreService } from './restoreServiceCommand.ts';
import { registerServe } from './serveCommand.ts';
import { registerTrack } from './trackCommand.ts';
import type { CliContext } from './context.ts';
import { addConfigOption, applyConfigFile } from './configFile.ts';
import { VERSION } from './version.ts';

/** Command modules add themselves here; each gets the program and the shared context. */
const COMMANDS: Array<(program: Command, ctx: CliContext) => void> = [registerRestore, registerTrack, registerModels, registerBench, registerJobs, registerServe, registerRestoreService, registerDevices];

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
    .version(VERSION, '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeErr: ctx.stderr, writeOut: ctx.stdout });
  for (const register of COMMANDS) register(program, ctx);
  addConfigOption(program);
  // A usage error prints commander's one line plus where to look, not the whole help.
  const hint = (c: Command, name: string): void => {
    c.showHelpAfterError(`(see facerestore ${name} --help)`);
    for (const sub of c.commands) hint(sub, `${name} ${sub.name()}`.trim());
  };
  hint(program, '');
  program.showHelpAfterError('(see facerestore --help)');
  let ran = ''; // the running command's full name, for the usage hint
  program.hook('preAction', (_p, action) => {
    const names: string[] = [];
    for (let c: Command | null = action; c && c !== program; c = c.parent) names.unshift(c.name());
    ran = names.join(' ');
  });
  program.hook('preAction', (_program, action) => applyConfigFile(program, action));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof FaceRestoreError) {
      ctx.stderr(`facerestore: error [${e.code}]: ${e.message}\n`);
      if (e.code === 'E_USAGE' && ran) ctx.stderr(`(see facerestore ${ran} --help)\n`);
      return e.exitCode;
    }
    ctx.stderr(`facerestore: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
