import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { toPortableOptions, type PortableOptions } from '../../engine/options.ts';
import { FaceRestoreError } from '../../errors.ts';
import type { LiveLogger } from '../live/logger.ts';
import { DEFAULT_LATENCY_BUDGET_MS, DEFAULT_REFINE_EVERY, MAX_REFINE_EVERY } from '../live/peerConfig.ts';
import type { RestorePeerMode } from '../live/peerProvisioner.ts';
import type { CliContext } from './context.ts';
import { addLogFlags, loggerFromFlags } from './logFlags.ts';
import { numberIn, oneOf } from './parse.ts';
import { addPipelineFlags, pipelineOptionsFromFlags } from './pipelineFlags.ts';
import { waitForSignal } from './signals.ts';

/**
 * `facerestore serve`: live webcam restoration over WebRTC (page + signaling + SFU + restore peers).
 * `facerestore serve --connect <ws-url> --room R --peer-token T`: run only a restore peer against a server
 * started with `--restore-peers external` (how restoration scales out to other processes and machines).
 */
export function registerServe(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('serve')
    .description('live webcam restoration over WebRTC: serves the page, signaling and the media server')
    .option('--host <addr>', 'interface to bind (loopback unless told otherwise)', '127.0.0.1')
    .option('--port <n>', 'TCP port (0: any free port)', numberIn(0, 65535, true), 8080)
    .option('--token <token>', 'room token browsers must present (default: generated and printed)')
    .option('--room <name>', 'room of the printed URLs', 'default')
    .option('--cert <file>', 'PEM certificate: serve HTTPS (webcams need it on non-loopback origins)')
    .option('--key <file>', 'PEM private key for --cert')
    .option('--allow-origin <origin...>', 'extra origins allowed to open the WebSocket')
    .option('--allow-host <name...>', 'names the Host header may carry besides IP addresses, localhost and --host (DNS rebinding defence)')
    .option('--announced-address <addr>', 'address put in ICE candidates (needed with --host 0.0.0.0; default: FACERESTORE_ANNOUNCED_ADDRESS)', ctx.env.announcedAddress)
    .option('--rtc-min-port <n>', 'lowest UDP/TCP port for media (default: FACERESTORE_RTC_MIN_PORT)', numberIn(1024, 65535, true), ctx.env.rtcMinPort)
    .option('--rtc-max-port <n>', 'highest UDP/TCP port for media (default: FACERESTORE_RTC_MAX_PORT)', numberIn(1024, 65535, true), ctx.env.rtcMaxPort)
    .option('--latency-budget <ms>', 'a frame older than this is sent unrestored (marked), never later', numberIn(10, 10_000), DEFAULT_LATENCY_BUDGET_MS)
    .option('--refine-every <n>', `with landmark refinement: run the 68-point net on every n-th face detection (and on new faces), carrying each face's refinement over in between (1…${MAX_REFINE_EVERY})`, numberIn(1, MAX_REFINE_EVERY, true), DEFAULT_REFINE_EVERY)
    .option('--on-miss <policy>', 'a frame that cannot be restored within the budget: drop (unless the picture would stall) | passthrough (sent unrestored, marked)', oneOf('drop', 'passthrough'), 'drop')
    .option('--no-passthrough-marker', 'do not mark frames sent unrestored')
    .option('--restore-peers <mode>', 'spawn (a process per stream) | inline (in this process) | external (started with --connect)', oneOf('spawn', 'inline', 'external'), 'spawn')
    .option('--max-restore-peers <n>', 'most restore peers this server runs at once', numberIn(1, 64, true), 2)
    .option('--shared-restorer <mode>', 'one restorer session for every stream, batching across streams: auto (with a model on webgpu/cuda) | on | off', oneOf('auto', 'on', 'off'), 'auto')
    .option('--restorer-service <address>', 'restore peers use this restore service (`facerestore restore-service`: tcp://HOST:PORT or unix:/path) instead of loading the model')
    .option('--restorer-token-file <file>', "file holding the restore service's token (with --restorer-service)")
    .option('--peer-token <token>', 'token restore peers present (default: generated; printed with --restore-peers external)')
    .option('--connect <ws-url>', 'run only a restore peer for the server at this signaling URL (needs --peer-token and --room)')
    .option('--insecure-tls', 'with --connect: accept a self-signed server certificate');
  addLogFlags(cmd, ctx);
  addPipelineFlags(cmd).action(async (flags: Record<string, unknown>) => {
    const log = loggerFromFlags(flags, { service: flags.connect ? 'restore-peer' : 'serve' });
    // Live tracking stays causal and per shot (docs/identity.md): refuse rather than load a descriptor net nothing uses.
    if (flags.reid) throw new FaceRestoreError('E_USAGE', '--reid is for file mode (restore, track); live mode keeps ids per shot');
    // Live default: detect every 2nd frame (the tracker predicts between) unless --detect-every says otherwise.
    const detectEvery = cmd.getOptionValueSource('detectEvery') === 'default' ? 2 : (flags.detectEvery as number);
    // What restore peers run; each adds its own machine's settings (cache folder), so none travel.
    const pipeline = toPortableOptions({ ...pipelineOptionsFromFlags(flags, ctx.env.cacheDir, ctx.env), detectEvery });
    const restorerService = await restorerServiceFromFlags(flags);
    if (flags.connect) {
      await runExternalPeer(flags, pipeline, detectEvery, log, ctx, restorerService);
      return;
    }
    if ((flags.cert === undefined) !== (flags.key === undefined)) throw new FaceRestoreError('E_USAGE', '--cert and --key go together');
    const host = flags.host as string;
    const loopback = host === '127.0.0.1' || host === '::1' || host === 'localhost';
    if (!loopback && !flags.cert) ctx.stderr('facerestore: warning: serving beyond loopback without --cert/--key: browsers allow webcams only on https:// or localhost\n');
    if ((host === '0.0.0.0' || host === '::') && !flags.announcedAddress) throw new FaceRestoreError('E_USAGE', `--host ${host} needs --announced-address (the IP browsers reach for media)`);
    let tls: { cert: Buffer; key: Buffer } | undefined;
    if (flags.cert) {
      try {
        tls = { cert: readFileSync(flags.cert as string), key: readFileSync(flags.key as string) };
      } catch (e) {
        throw new FaceRestoreError('E_INPUT_MISSING', `cannot read --cert/--key: ${(e as Error).message}`);
      }
    }
    const { LiveServer } = await import('../live/server.ts');
    const { resolveWorkerBin } = await import('../live/sfu.ts');
    const server = await LiveServer.create({
      host,
      port: flags.port as number,
      token: flags.token as string | undefined,
      peerToken: flags.peerToken as string | undefined,
      tls,
      allowedOrigins: (flags.allowOrigin as string[] | undefined) ?? [],
      allowedHosts: (flags.allowHost as string[] | undefined) ?? [],
      announcedAddress: flags.announcedAddress as string | undefined,
      rtcMinPort: flags.rtcMinPort as number | undefined,
      rtcMaxPort: flags.rtcMaxPort as number | undefined,
      pipeline,
      latencyBudgetMs: flags.latencyBudget as number,
      passthroughMarker: flags.passthroughMarker !== false,
      detectEvery,
      refineEvery: flags.refineEvery as number,
      onMiss: flags.onMiss as 'drop' | 'passthrough',
      restorePeers: flags.restorePeers as RestorePeerMode,
      maxRestorePeers: flags.maxRestorePeers as number,
      sharedRestorer: flags.sharedRestorer as 'auto' | 'on' | 'off',
      restorerService,
      workerBin: resolveWorkerBin(ctx.env.mediasoupWorkerBin, ctx.env.cacheDir),
      cacheDir: ctx.env.cacheDir,
      logger: log,
    });
    const room = flags.room as string;
    ctx.stdout(`facerestore: serving ${server.url}\n`);
    ctx.stdout(`  publish: ${server.pageUrl(room, 'publisher')}\n`);
    ctx.stdout(`  watch:   ${server.pageUrl(room, 'viewer')}\n`);
    if (flags.restorePeers === 'external') {
      ctx.stdout(`  restore peers: facerestore serve --connect ${server.wsUrl} --room ${room} --peer-token ${server.peerToken}\n`);
    }
    await waitForSignal();
    ctx.stderr('facerestore: closing\n');
    await server.close();
    // Inline restore peers loaded @roamhq/wrtc here: see runExternalPeer about leaving explicitly.
    if (flags.restorePeers === 'inline') process.exit(0);
  });
}

/** `--restorer-service` with its `--restorer-token-file` (both or neither; E_USAGE, E_CONFIG for a bad token file). */
async function restorerServiceFromFlags(flags: Record<string, unknown>): Promise<{ address: string; token: string } | undefined> {
  if (flags.restorerService === undefined && flags.restorerTokenFile === undefined) return undefined;
  if (flags.restorerService === undefined) throw new FaceRestoreError('E_USAGE', '--restorer-token-file goes with --restorer-service');
  if (flags.restorerTokenFile === undefined) throw new FaceRestoreError('E_USAGE', '--restorer-service needs --restorer-token-file <file> (the token of the restore service)');
  const { formatServiceAddress, parseServiceAddress } = await import('../../restore/restoreWire.ts');
  const { readTokenFile } = await import('../../util/tokens.ts');
  const address = formatServiceAddress(parseServiceAddress(flags.restorerService as string));
  return { address, token: await readTokenFile(flags.restorerTokenFile as string) };
}

async function runExternalPeer(flags: Record<string, unknown>, pipeline: PortableOptions, detectEvery: number, log: LiveLogger, ctx: CliContext, service: { address: string; token: string } | undefined): Promise<void> {
  if (!flags.peerToken) throw new FaceRestoreError('E_USAGE', '--connect needs --peer-token (printed by the server started with --restore-peers external)');
  const { RestorePeer } = await import('../live/restorePeer.ts');
  const peer = await RestorePeer.start(
    {
      url: flags.connect as string,
      room: flags.room as string,
      peerToken: flags.peerToken as string,
      insecureTls: !!flags.insecureTls,
      pipeline,
      latencyBudgetMs: flags.latencyBudget as number,
      passthroughMarker: flags.passthroughMarker !== false,
      detectEvery,
      refineEvery: flags.refineEvery as number,
      onMiss: flags.onMiss as 'drop' | 'passthrough',
      exitWhenIdle: false,
      ...(service ? { restoreService: service.address, restoreServiceToken: service.token } : {}),
    },
    { cacheDir: ctx.env.cacheDir, ffmpegPath: ctx.env.ffmpegPath, ffprobePath: ctx.env.ffprobePath },
    log,
  ).catch((e: Error) => {
    throw e instanceof FaceRestoreError ? e : new FaceRestoreError('E_PROTOCOL', `restore peer: ${e.message}`, { cause: e });
  });
  ctx.stderr(`facerestore: restore peer joined room ${flags.room as string} at ${flags.connect as string}\n`);
  await Promise.race([peer.done, waitForSignal()]);
  await peer.close();
  // @roamhq/wrtc's native teardown can crash (SIGSEGV) when Node exits by draining its event loop after
  // peer connections were used; leaving explicitly, after everything is closed, avoids it.
  process.exit(0);
}
