import type { Command } from 'commander';
import { FaceRestoreError } from '../../errors.ts';
import { resolveModelRef } from '../../models/store.ts';
import { DEFAULT_MAX_FACES, MAX_WIRE_CROPS, parseServiceAddress } from '../../restore/restoreWire.ts';
import type { CliContext } from './context.ts';
import { addLogFlags, loggerFromFlags } from './logFlags.ts';
import { numberIn, oneOf } from './parse.ts';
import { waitForSignal } from './signals.ts';

/**
 * `facerestore restore-service --listen tcp://HOST:PORT --token-file FILE --model M --device cuda`: one restorer
 * session (the GPU's) serving the restore peers of one or several live servers (`serve --restorer-service`),
 * batching faces across all their streams. Runs until SIGINT/SIGTERM.
 */
export function registerRestoreService(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('restore-service')
    .description('serve one restorer session (e.g. the GPU) to the restore peers of one or several live servers over TCP or a Unix socket, batching across their streams')
    .requiredOption('--listen <address>', 'tcp://HOST:PORT (no TLS: a private network or a TLS tunnel) or unix:/path')
    .requiredOption('--token-file <file>', 'file holding the shared token clients must present (at least 16 characters, not readable by every user)')
    .option('--restorer <kind>', 'onnx (default with --model) | classic (CPU, for trials)', oneOf('onnx', 'classic'))
    .option('--model <file>', 'restorer model: CodeFormer-compatible ONNX, an official CodeFormer .pth (built and cached), or a registry name once pulled')
    .option('--device <device>', 'cpu | webgpu | cuda | auto (cuda, then webgpu, then cpu; says why)', oneOf('cpu', 'webgpu', 'cuda', 'auto'), 'auto')
    .option('--precision <p>', 'CodeFormer .pth graph: auto (fp16 on cuda) | fp32 | fp16', oneOf('auto', 'fp32', 'fp16'), 'auto')
    .option('--batch <n>', 'faces per restorer run (the batch filled across streams)', numberIn(1, 256, true), 8)
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)', numberIn(1, 256, true))
    .option('--batch-budget <ms>', 'longest a face waits for faces of other streams to share its batch', numberIn(0, 1000), 8)
    .option('--max-faces <n>', 'most faces one request may carry (768 KiB each; clients split larger ones)', numberIn(1, MAX_WIRE_CROPS, true), DEFAULT_MAX_FACES)
    .option('--metrics-port <n>', 'serve GET /metrics (Prometheus) and GET /healthz on this TCP port (0: any free port; off by default)', numberIn(0, 65535, true))
    .option('--metrics-host <address>', 'address of the metrics port', '127.0.0.1');
  addLogFlags(cmd, ctx).action(async (flags: Record<string, unknown>) => {
    const log = loggerFromFlags(flags, { service: 'restore-service' });
    parseServiceAddress(flags.listen as string); // E_USAGE before anything loads
    const kind = (flags.restorer as 'onnx' | 'classic' | undefined) ?? (flags.model ? 'onnx' : undefined);
    if (!kind) throw new FaceRestoreError('E_USAGE', 'restore-service needs --model <file> (or --restorer classic)');
    if (kind === 'onnx' && !flags.model) throw new FaceRestoreError('E_USAGE', '--restorer onnx needs --model <file>');
    const { readTokenFile } = await import('../../util/tokens.ts');
    const token = await readTokenFile(flags.tokenFile as string);
    const { resolveDevice } = await import('../../runtime/devices.ts');
    const { createRestorer } = await import('../../restore/createRestorer.ts');
    const { RestoreService } = await import('../../restore/restoreService.ts');
    const hooks = { onInfo: (m: string) => log.info({}, m), onWarning: (m: string) => log.warn({}, m) };
    const resolved = await resolveDevice(flags.device as 'cpu' | 'webgpu' | 'cuda' | 'auto', hooks);
    const restorer = await createRestorer({
      kind,
      model: resolveModelRef(flags.model as string | undefined, ctx.env.cacheDir),
      batch: flags.batch as number,
      cacheDir: ctx.env.cacheDir,
      precision: flags.precision as 'auto' | 'fp32' | 'fp16',
      resolved,
      device: resolved.provider,
      intraOpThreads: flags.threads as number | undefined,
      threadSpinning: false,
      ...hooks,
    });
    if (!restorer) throw new FaceRestoreError('E_INTERNAL', 'no restorer was created');
    const service = await RestoreService.start({
      listen: flags.listen as string,
      token,
      restorer,
      budgetMs: flags.batchBudget as number,
      maxFaces: flags.maxFaces as number,
      onError: (m) => log.warn({}, m),
    });
    const { startMetricsServer } = await import('../../util/metricsServer.ts');
    const metrics =
      flags.metricsPort === undefined ? undefined : await startMetricsServer({ port: flags.metricsPort as number, host: flags.metricsHost as string, metrics: service.metrics, health: () => ({ ok: true }) });
    ctx.stdout(`facerestore: restore service at ${service.address} (${service.name}; at most ${service.maxFaces} faces per request)\n`);
    if (metrics) ctx.stdout(`  metrics: ${metrics.url}/metrics\n`);
    await waitForSignal();
    ctx.stderr('facerestore: closing\n');
    await metrics?.close();
    await service.close();
    const s = service.stats();
    log.info({ requests: s.requests, faces: s.faces, batches: s.batches, authFailures: s.authFailures, protocolErrors: s.protocolErrors }, 'restore service stopped');
  });
}
