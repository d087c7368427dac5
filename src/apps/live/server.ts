import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { parsePortableOptions, type PortableOptionsInput } from '../../engine/options.ts';
import { TypedEmitter } from '../../util/typedEmitter.ts';
import { generateToken } from './auth.ts';
import { silentLogger, type LiveLogger } from './logger.ts';
import { DEFAULT_LATENCY_BUDGET_MS, DEFAULT_REFINE_EVERY, PEER_CONFIG_VERSION } from './peerConfig.ts';
import { PeerProvisioner, type RestorePeerMode } from './peerProvisioner.ts';
import { RemoteRestorer } from '../../restore/remoteRestorer.ts';
import type { RestoreService, RestoreServiceStats } from '../../restore/restoreService.ts';
import { startSharedRestorer, type SharedRestorerMode } from './sharedRestorer.ts';
import { MAX_MESSAGE_BYTES } from './protocol.ts';
import { DEFAULT_RATE_LIMIT, type RateLimitOptions } from './rateLimiter.ts';
import { RequestRouter } from './requestRouter.ts';
import type { Room } from './room.ts';
import { RoomRegistry, type RoomCloseReason } from './roomRegistry.ts';
import { Session } from './session.ts';
import { LiveMetrics } from './liveMetrics.ts';
import { Sfu } from './sfu.ts';
import { watchSfuDeath } from './sfuDeath.ts';
import { staticHandler } from './staticHttp.ts';
import { SIGNALING_PATH, upgradeHandler, type ConnectionLoad } from './upgrade.ts';
import { ensureMediasoupClientBundle } from './webBundle.ts';

export type { RestorePeerMode } from './peerProvisioner.ts';

/** Options of the live server. */
export interface LiveServerOptions {
  /** Interface to bind. Default 127.0.0.1 (loopback only). */
  host?: string;
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /** Room token browsers must present; generated when absent (read it back from `token`). */
  token?: string;
  /** Token restore peers present; generated when absent. */
  peerToken?: string;
  /** PEM certificate and key: serve HTTPS/WSS (needed for webcams on non-loopback origins). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Extra origins allowed to open the WebSocket (the server's own origin always is). */
  allowedOrigins?: string[];
  /** Extra names the `Host` header may carry (IP literals, localhost and `host` always may; `*`: any). Default none. */
  allowedHosts?: string[];
  /** Largest signaling message, bytes. Default MAX_MESSAGE_BYTES (64 KiB). */
  maxMessageBytes?: number;
  rateLimit?: RateLimitOptions;
  /** Seconds a connection may stay without joining. Default 10. */
  joinTimeoutSeconds?: number;
  /** Most simultaneous WebSocket connections. Default 64. */
  maxConnections?: number;
  /** Most connections that have not joined yet (they hold a slot for up to `joinTimeoutSeconds`). Default 16. */
  maxUnjoined?: number;
  /** Most connections that have not joined yet from one remote address. Default 4. */
  maxUnjoinedPerAddress?: number;
  /** Most members per room. Default 16. */
  maxRoomMembers?: number;
  /** What restore peers this server starts run (portable options: no machine-local settings). */
  pipeline?: PortableOptionsInput;
  /** Latency budget of restore peers, ms. Default DEFAULT_LATENCY_BUDGET_MS (120). */
  latencyBudgetMs?: number;
  /** A frame that cannot be restored in time: `drop` (default) or `passthrough`. */
  onMiss?: 'drop' | 'passthrough';
  /** Restore peers run the face detector every this many frames (default 2). */
  detectEvery?: number;
  /** Restore peers refine landmarks on every this many detections (default DEFAULT_REFINE_EVERY, see LiveDetector). */
  refineEvery?: number;
  /** Mark frames sent unrestored. Default true. */
  passthroughMarker?: boolean;
  /** Default `spawn`. */
  restorePeers?: RestorePeerMode;
  /**
   * One restorer session for every stream (a restore service its spawned and inline peers use, with batches across
   * streams): `auto` (default) when the restorer is an ONNX model on WebGPU or CUDA, `on` on any device, `off` never.
   */
  sharedRestorer?: SharedRestorerMode;
  /**
   * A restore service run apart (`facerestore restore-service`, e.g. one GPU machine for several servers): the
   * spawned and inline restore peers send their faces there instead of loading the model; no shared restorer
   * starts here. `address` is `tcp://HOST:PORT` or `unix:/path`; `token` its shared secret.
   */
  restorerService?: { address: string; token: string };
  /** Longest a stream's faces wait for other streams' faces to share a batch in the shared restorer, ms. Default 8. */
  sharedRestorerBudgetMs?: number;
  /** Most restore peers this server runs at once (each is CPU-bound). Default 2. */
  maxRestorePeers?: number;
  /** mediasoup worker binary (see resolveWorkerBin). */
  workerBin: string;
  /** Address announced in ICE candidates (when `host` is 0.0.0.0). */
  announcedAddress?: string;
  rtcMinPort?: number;
  rtcMaxPort?: number;
  /** Cache directory (the page's mediasoup-client bundle; built models of inline restore peers). */
  cacheDir: string;
  logger?: LiveLogger;
}

/** Snapshot for tests and monitoring. */
export interface LiveServerStats {
  connections: number;
  rooms: number;
  members: number;
  transports: number;
  producers: number;
  consumers: number;
  jobs: number;
  restorePeerPids: number[];
  inlinePeers: number;
  /** The shared restorer's counters (requests, faces, batches), when the server runs one. */
  sharedRestorer: RestoreServiceStats | undefined;
  workerPid: number | undefined;
}

/** Events of `LiveServer.observer` (monitoring). */
export type LiveServerObserverEvents = {
  newroom: [room: Room];
  roomclose: [room: Room, reason: RoomCloseReason];
  /** The mediasoup worker died; its rooms are closed and every connection was told and closed. */
  sfudied: [error: Error];
};

/**
 * `facerestore serve`: an HTTP(S) server for the page, a WebSocket signaling endpoint at /ws, an SFU
 * (one mediasoup worker) and the restore peers. This class only wires the parts together.
 * Ownership: LiveServer → sessions (connections); LiveServer → RoomRegistry → rooms → each room's router →
 * transports → producers/consumers; LiveServer → Sfu → worker; LiveServer → PeerProvisioner → peer
 * processes. `close()` is idempotent and leaves no child process behind.
 */
export class LiveServer {
  readonly token: string;
  readonly peerToken: string;
  /** Token of the restore service its peers use (generated for the server's own shared restorer), when there is one. */
  readonly restoreServiceToken: string | undefined;
  readonly observer: TypedEmitter<LiveServerObserverEvents>;
  /** This server's metrics (its own registry), served at `/metrics`. */
  readonly metrics: LiveMetrics;
  #sfuDied = false;
  readonly #o: LiveServerOptions;
  readonly #log: LiveLogger;
  readonly #http: http.Server | https.Server;
  readonly #wss: WebSocketServer;
  readonly #sfu: Sfu;
  readonly #rooms: RoomRegistry;
  readonly #router: RequestRouter;
  readonly #peers: PeerProvisioner;
  readonly #sessions = new Set<Session>();
  readonly #service: RestoreService | undefined;
  #vendorPath = '';
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(o: LiveServerOptions, pipeline: PortableOptionsInput, service: RestoreService | undefined, remote: { address: string; token: string } | undefined) {
    this.#o = o;
    this.#service = service;
    const log = (this.#log = o.logger ?? silentLogger);
    this.observer = new TypedEmitter((event, e) => log.error({ event, err: (e as Error)?.message }, 'live server observer failed'));
    this.token = o.token ?? generateToken();
    this.peerToken = o.peerToken ?? generateToken();
    this.restoreServiceToken = remote?.token;
    this.#sfu = new Sfu({ workerBin: o.workerBin, listenIp: listenIpFor(o.host ?? '127.0.0.1'), announcedAddress: o.announcedAddress, rtcMinPort: o.rtcMinPort, rtcMaxPort: o.rtcMaxPort, logger: log });
    this.#rooms = new RoomRegistry(this.#sfu, { logger: log });
    this.#router = new RequestRouter(this.#rooms, { token: this.token, peerToken: this.peerToken, maxRoomMembers: o.maxRoomMembers, logger: log });
    this.#peers = new PeerProvisioner({
      mode: o.restorePeers ?? 'spawn',
      maxPeers: o.maxRestorePeers ?? 2,
      local: { cacheDir: o.cacheDir },
      logger: log,
      signalingUrl: () => this.wsUrl,
      config: {
        v: PEER_CONFIG_VERSION,
        peerToken: this.peerToken,
        insecureTls: !!o.tls,
        pipeline,
        latencyBudgetMs: o.latencyBudgetMs ?? DEFAULT_LATENCY_BUDGET_MS,
        passthroughMarker: o.passthroughMarker ?? true,
        detectEvery: o.detectEvery ?? 2,
        refineEvery: o.refineEvery ?? DEFAULT_REFINE_EVERY,
        onMiss: o.onMiss ?? 'drop',
        exitWhenIdle: true,
        ...(remote && (o.restorePeers ?? 'spawn') !== 'external' ? { restoreService: remote.address, restoreServiceToken: remote.token } : {}),
      },
    });
    this.metrics = new LiveMetrics(() => {
      const s = this.stats();
      return { ...s, restorePeers: s.restorePeerPids.length + s.inlinePeers, workerAlive: !this.#sfuDown() };
    });
    this.#rooms.observer.on('newroom', (room) => {
      room.on('needrestorer', (producerId) => this.#peers.provide(room.name, producerId));
      room.observer.on('restorestats', (producerId, stats) => this.metrics.restoreStats(`${room.name}\n${producerId}`, stats));
      this.observer.safeEmit('newroom', room);
    });
    this.#rooms.observer.on('roomclose', (room, reason) => this.observer.safeEmit('roomclose', room, reason));
    watchSfuDeath(this.#sfu, () => this.#sessions, log);
    this.#sfu.on('died', (e) => {
      this.#sfuDied = true;
      this.metrics.workerDied();
      this.observer.safeEmit('sfudied', e);
    });

    this.#http = o.tls ? https.createServer({ cert: o.tls.cert, key: o.tls.key }) : http.createServer();
    this.#http.on('request', staticHandler(() => this.#vendorPath, log, { health: () => this.health(), metrics: () => this.metrics.registry.expose() }));
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: o.maxMessageBytes ?? MAX_MESSAGE_BYTES, perMessageDeflate: false });
    const upgradeOptions = { secure: !!o.tls, allowedOrigins: o.allowedOrigins ?? [], bindHost: o.host ?? '127.0.0.1', allowedHosts: o.allowedHosts ?? [], maxConnections: o.maxConnections ?? 64, maxUnjoined: o.maxUnjoined ?? 16, maxUnjoinedPerAddress: o.maxUnjoinedPerAddress ?? 4 };
    this.#http.on('upgrade', upgradeHandler(this.#wss, upgradeOptions, (remote) => this.#load(remote), (ws, req) => this.#accept(ws, req), log));
  }

  /** Validates the restore options (E_CONFIG), bundles the page's mediasoup-client once, and listens. */
  static async create(options: LiveServerOptions): Promise<LiveServer> {
    // Bad restore options fail here, not later in every restore peer.
    const pipeline = parsePortableOptions(options.pipeline ?? {});
    const log = options.logger ?? silentLogger;
    if (options.restorerService) {
      // A wrong address or token fails here, once (E_UNAVAILABLE, E_AUTH), not in every restore peer.
      const probe = await RemoteRestorer.connect(options.restorerService.address, { token: options.restorerService.token, waitMs: 0 });
      log.info({ service: options.restorerService.address }, `restorer: ${probe.name}`);
      await probe.close();
    }
    const shared = await startSharedRestorer(pipeline, {
      mode: options.restorePeers === 'external' || options.restorerService ? 'off' : (options.sharedRestorer ?? 'auto'),
      cacheDir: options.cacheDir,
      budgetMs: options.sharedRestorerBudgetMs,
      onInfo: (m) => log.info({}, m),
      onWarning: (m) => log.warn({}, m),
    });
    const remote = options.restorerService ?? (shared.service ? { address: shared.service.address, token: shared.token! } : undefined);
    log.info({ shared: !!shared.service }, `restorer: ${options.restorerService ? `restore service at ${options.restorerService.address}` : shared.reason}`);
    let server: LiveServer;
    try {
      server = new LiveServer(options, pipeline, shared.service, remote);
    } catch (e) {
      await shared.service?.close();
      throw e;
    }
    try {
      server.#vendorPath = await ensureMediasoupClientBundle(options.cacheDir);
      await new Promise<void>((resolve, reject) => {
        server.#http.once('error', reject);
        server.#http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
          server.#http.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      await shared.service?.close();
      throw e;
    }
    return server;
  }

  get port(): number {
    return (this.#http.address() as AddressInfo).port;
  }

  /** Base URL of the page (loopback form when bound to every interface). */
  get url(): string {
    const host = this.#o.host ?? '127.0.0.1';
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    return `${this.#o.tls ? 'https' : 'http'}://${shown}:${this.port}`;
  }

  /** Signaling URL. */
  get wsUrl(): string {
    return this.url.replace(/^http/, 'ws') + SIGNALING_PATH;
  }

  /** A page URL that joins `room` (the token rides in the fragment, which is never sent to the server). */
  pageUrl(room = 'default', role: 'publisher' | 'viewer' = 'publisher'): string {
    return `${this.url}/#room=${encodeURIComponent(room)}&token=${encodeURIComponent(this.token)}&role=${role}`;
  }

  stats(): LiveServerStats {
    const s = { connections: this.#sessions.size, rooms: this.#rooms.size, members: 0, transports: 0, producers: 0, consumers: 0, jobs: 0 };
    for (const r of this.#rooms.rooms()) {
      const c = r.counts();
      s.members += c.members;
      s.transports += c.transports;
      s.producers += c.producers;
      s.consumers += c.consumers;
      s.jobs += c.jobs;
    }
    return { ...s, restorePeerPids: this.#peers.pids(), inlinePeers: this.#peers.inlineCount, workerPid: this.#sfu.workerPid, sharedRestorer: this.#service?.stats() };
  }

  /**
   * `/healthz`: not ok while closing, or after the mediasoup worker died and before a new one started
   * (the next room starts one). Models load in the restore peers, which report their own failures.
   */
  health(): { ok: true } | { ok: false; reason: string } {
    if (this.#closed) return { ok: false, reason: 'server closing' };
    if (this.#sfuDown()) return { ok: false, reason: 'mediasoup worker died' };
    return { ok: true };
  }

  #sfuDown(): boolean {
    return this.#sfuDied && this.#sfu.workerPid === undefined;
  }

  /** Closes connections, restore peers, rooms and the mediasoup worker. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      for (const s of this.#sessions) s.close(1001, 'server closing');
      await this.#peers.close();
      await this.#service?.close();
      this.#rooms.closeAll();
      await this.#sfu.close();
      this.#wss.close();
      this.#http.closeAllConnections?.();
      await new Promise<void>((resolve) => this.#http.close(() => resolve()));
    })();
    return this.#closing;
  }

  #load(remote: string): ConnectionLoad {
    let unjoined = 0;
    let unjoinedFromAddress = 0;
    for (const s of this.#sessions) {
      if (s.joined) continue;
      unjoined++;
      if (s.remote === remote) unjoinedFromAddress++;
    }
    return { connections: this.#sessions.size, unjoined, unjoinedFromAddress };
  }

  #accept(ws: WebSocket, req: http.IncomingMessage): void {
    if (this.#closed) {
      ws.close(1001, 'server closing');
      return;
    }
    const session = new Session(ws, this.#router, {
      rate: this.#o.rateLimit ?? DEFAULT_RATE_LIMIT,
      maxBytes: this.#o.maxMessageBytes ?? MAX_MESSAGE_BYTES,
      remote: req.socket.remoteAddress ?? '?',
      log: this.#log,
    });
    this.#sessions.add(session);
    const joinTimer = setTimeout(() => {
      if (!session.joined) session.fail('E_PROTOCOL', 'join timeout');
    }, (this.#o.joinTimeoutSeconds ?? 10) * 1000);
    joinTimer.unref();
    ws.once('close', () => {
      clearTimeout(joinTimer);
      this.#sessions.delete(session);
      session.leave();
    });
  }
}

/** The IP mediasoup listens on for a given HTTP bind address. */
function listenIpFor(host: string): string {
  if (host === 'localhost') return '127.0.0.1';
  return host;
}
