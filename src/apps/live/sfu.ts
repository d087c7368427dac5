import { existsSync } from 'node:fs';
import path from 'node:path';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { FaceRestoreError } from '../../errors.ts';
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

/**
 * One mediasoup worker process and a router per room. The worker starts on the first room (so a server
 * that only refuses connections never spawns it) and is closed by `close()`; if it dies, every router
 * closes with it and `onDied` is called.
 */
export class Sfu {
  readonly #options: SfuOptions & { workerBin: string };
  readonly #log: LiveLogger;
  #worker: ms.Worker | undefined;
  #starting: Promise<ms.Worker> | undefined;
  readonly #routers = new Map<string, ms.Router>();
  #closed = false;
  onDied: ((error: Error) => void) | undefined;

  constructor(options: SfuOptions & { workerBin: string }) {
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
  }

  /** PID of the worker process, when it runs. */
  get workerPid(): number | undefined {
    return this.#worker && !this.#worker.closed ? this.#worker.pid : undefined;
  }

  get roomCount(): number {
    return this.#routers.size;
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
          this.#routers.clear();
          this.#worker = undefined;
          this.onDied?.(e);
        });
        this.#log.info({ pid: worker.pid, bin: o.workerBin }, 'mediasoup worker started');
        return worker;
      } catch (e) {
        throw new FaceRestoreError('E_CONFIG', `cannot start the mediasoup worker ${o.workerBin}: ${(e as Error).message}`, { cause: e });
      } finally {
        this.#starting = undefined;
      }
    })();
    this.#worker = await this.#starting;
    if (this.#closed) {
      this.#worker.close();
      throw new FaceRestoreError('E_CLOSED', 'SFU is closed');
    }
    return this.#worker;
  }

  /** The router of a room, created on first use. */
  async router(room: string): Promise<ms.Router> {
    const existing = this.#routers.get(room);
    if (existing && !existing.closed) return existing;
    const worker = await this.#ensureWorker();
    const again = this.#routers.get(room);
    if (again && !again.closed) return again;
    const router = await worker.createRouter({ mediaCodecs: ROOM_MEDIA_CODECS, appData: { room } });
    this.#routers.set(room, router);
    return router;
  }

  /** Closes a room's router (and with it its transports, producers and consumers). */
  closeRouter(room: string): void {
    const r = this.#routers.get(room);
    this.#routers.delete(room);
    r?.close();
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

  /** Closes the worker (and every router). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#starting) await this.#starting.catch(() => undefined);
    const worker = this.#worker;
    this.#worker = undefined;
    this.#routers.clear();
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
