import { existsSync } from 'node:fs';
import path from 'node:path';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { FaceRestoreError } from '../../errors.ts';
import { TypedEmitter } from '../../util/typedEmitter.ts';
import { silentLogger, type LiveLogger } from './logger.ts';

/** Codecs every room's router offers: VP8 only (Chromium and @roamhq/wrtc both encode it in software). */
export const ROOM_MEDIA_CODECS: ms.RouterRtpCodecCapability[] = [
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1500 } },
];

/** Options of the SFU. */
export interface SfuOptions {
  /**
   * mediasoup worker binary. mediasoup itself reads MEDIASOUP_WORKER_BIN when it is imported; this
   * module passes the path explicitly (`createWorker({ workerBin })`), so the environment is read only by
   * src/config/env.ts. Default: resolveWorkerBin().
   */
  workerBin?: string;
  /** IP the WebRTC transports listen on. Default 127.0.0.1. */
  listenIp?: string;
  /** Address announced in ICE candidates (a public IP or name, when listening on 0.0.0.0). */
  announcedAddress?: string;
  rtcMinPort?: number;
  rtcMaxPort?: number;
  logger?: LiveLogger;
}

/** Revision of our worker source patches; equal to PATCH_REVISION in scripts/mediasoup-worker-path.sh. */
export const WORKER_PATCH_REVISION = 2;

/**
 * Finds the mediasoup worker binary: the explicit path, else the one set-up builds into the cache
 * (`<cacheDir>/mediasoup-worker/<version>-fr<revision>/mediasoup-worker`), else mediasoup's default (its prebuilt
 * or locally built worker). Throws E_CONFIG naming what was tried when none exists.
 */
export function resolveWorkerBin(explicit: string | undefined, cacheDir: string): string {
  const tried: string[] = [];
  if (explicit) {
    if (existsSync(explicit)) return explicit;
    throw new FaceRestoreError('E_CONFIG', `mediasoup worker binary not found at ${explicit} (MEDIASOUP_WORKER_BIN); run bash scripts/setup.sh`);
  }
  const cached = path.join(cacheDir, 'mediasoup-worker', `${mediasoup.version}-fr${WORKER_PATCH_REVISION}`, 'mediasoup-worker');
  tried.push(cached);
  if (existsSync(cached)) return cached;
  const bundled = mediasoup.workerBin;
  tried.push(bundled);
  if (existsSync(bundled)) return bundled;
  throw new FaceRestoreError('E_CONFIG', `no mediasoup worker binary (tried ${tried.join(', ')}); run bash scripts/setup.sh, which builds it`);
}

/** Events of the SFU. */
export type SfuEvents = {
  /** The worker process died; every router had already closed with it (their `workerclose`). */
  died: [error: Error];
};

/**
 * One mediasoup worker process, shared by the rooms. The worker starts with the first router (so a
 * server that only refuses connections never spawns it) and is closed by `close()`. Routers belong to
 * whoever creates them (a Room); mediasoup closes every router when the worker closes or dies (the
 * router emits `workerclose`), and a death is then announced with `died`. The next `createRouter` after a
 * death starts a fresh worker.
 */
export class Sfu extends TypedEmitter<SfuEvents> {
  readonly #options: SfuOptions & { workerBin: string };
  readonly #log: LiveLogger;
  #worker: ms.Worker | undefined;
  #starting: Promise<ms.Worker> | undefined;
  #closed = false;

  constructor(options: SfuOptions & { workerBin: string }) {
    const log = options.logger ?? silentLogger;
    super((event, e) => log.error({ event, err: (e as Error)?.message }, 'SFU listener failed'));
    this.#options = options;
    this.#log = log;
  }

  /** PID of the worker process, when it runs. */
  get workerPid(): number | undefined {
    return this.#worker && !this.#worker.closed ? this.#worker.pid : undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async #ensureWorker(): Promise<ms.Worker> {
    if (this.#closed) throw new FaceRestoreError('E_CLOSED', 'SFU is closed');
    if (this.#worker && !this.#worker.closed) return this.#worker;
    this.#starting ??= (async () => {
      const o = this.#options;
      try {
        const worker = await mediasoup.createWorker({
          workerBin: o.workerBin,
          logLevel: 'warn',
          rtcMinPort: o.rtcMinPort,
          rtcMaxPort: o.rtcMaxPort,
        });
        worker.on('died', (e) => {
          const hint = /SIGSEGV/.test(e.message)
            ? ' (a worker built against a system OpenSSL with kernel TLS, e.g. Debian 12, crashes on its first DTLS handshake unless built with the BIO-callback fix: see docs/live.md)'
            : '';
          this.#log.error({ err: e.message }, `mediasoup worker died${hint}`);
          if (this.#worker === worker) this.#worker = undefined;
          this.safeEmit('died', e);
        });
        this.#log.info({ pid: worker.pid, bin: o.workerBin }, 'mediasoup worker started');
        return worker;
      } catch (e) {
        throw new FaceRestoreError('E_CONFIG', `cannot start the mediasoup worker ${o.workerBin}: ${(e as Error).message}`, { cause: e });
      } finally {
        this.#starting = undefined;
      }
    })();
    const worker = await this.#starting;
    this.#worker = worker;
    if (this.#closed) {
      worker.close();
      throw new FaceRestoreError('E_CLOSED', 'SFU is closed');
    }
    return worker;
  }

  /** A new router with the rooms' codecs; the caller owns it (closes it). */
  async createRouter(appData: Record<string, unknown>): Promise<ms.Router> {
    const worker = await this.#ensureWorker();
    return worker.createRouter({ mediaCodecs: ROOM_MEDIA_CODECS, appData });
  }

  /** Creates a WebRTC transport on a router with the server's listen settings. */
  async createWebRtcTransport(router: ms.Router, appData: Record<string, unknown>): Promise<ms.WebRtcTransport> {
    const o = this.#options;
    const ip = o.listenIp ?? '127.0.0.1';
    const transport = await router.createWebRtcTransport({
      listenInfos: [
        { protocol: 'udp', ip, announcedAddress: o.announcedAddress },
        { protocol: 'tcp', ip, announcedAddress: o.announcedAddress },
      ],
      preferUdp: true,
      // 720p VP8 needs ~2.5 Mbit/s; starting low makes the first seconds blurry.
      initialAvailableOutgoingBitrate: 2_500_000,
      appData,
    });
    await transport.setMaxIncomingBitrate(8_000_000).catch(() => undefined);
    return transport;
  }

  /** Closes the worker (mediasoup closes every router with it). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#starting) await this.#starting.catch(() => undefined);
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker && !worker.closed) {
      const exited = new Promise<void>((resolve) => worker.observer.once('close', () => resolve()));
      worker.close();
      await exited;
      await waitForExit(worker.pid, 3000);
    }
  }
}

/** Waits until a process is gone (mediasoup's close() does not wait for the worker to exit). */
async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
