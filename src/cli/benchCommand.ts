import type { Command } from 'commander';
import type { CliContext } from './context.ts';

/** `facerestore bench`: per-stage throughput against a bare ffmpeg transcode (see src/bench). */
export function registerBench(program: Command, ctx: CliContext): void {
  program
    .command('bench')
    .description('measure per-stage throughput, faces/s and peak memory; prints JSON')
    .argument('[input]', 'clip to measure (default: the demo clip)')
    .option('--json', 'JSON output (the default; kept for scripts)')
    .allowUnknownOption(false)
    .action(async () => {
      ctx.stderr('bench: not yet\n');
    });
}
