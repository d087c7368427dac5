import type { Command } from 'commander';
import { describeDevices } from '../../runtime/devices.ts';
import type { CliContext } from './context.ts';

/** `facerestore devices`: which execution providers load here, why the others do not, and what `--device auto` picks. */
export function registerDevices(program: Command, ctx: CliContext): void {
  program
    .command('devices')
    .description('probe each execution provider (cuda, webgpu, cpu): whether it loads, why not (missing CUDA library, no Vulkan adapter), fp16; and what --device auto picks')
    .option('--json', 'JSON output')
    .action(async (flags: { json?: boolean }) => {
      const r = await describeDevices();
      if (flags.json) return void ctx.stdout(JSON.stringify(r, null, 2) + '\n');
      const lines = r.providers.map((p) =>
        p.ok ? `${p.provider}: loads${p.provider === 'cpu' ? '' : p.fp16 ? ', runs float16' : `, no float16 (${p.fp16Reason})`}` : `${p.provider}: does not load: ${p.reason}`,
      );
      lines.push(r.vulkanDrivers, `bundled providers: ${r.bundledBackends.join(', ')}`, `--device auto runs on ${r.auto.summary}`);
      ctx.stdout(lines.join('\n') + '\n');
    });
}
