import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { FaceRestoreError } from '../../errors.ts';
import { parsePipelineOptions } from '../../engine/options.ts';
import { generateToken, originAllowed, tokenMatches } from './auth.ts';
import { silentLogger, type LiveLogger } from './logger.ts';
import { DEFAULT_LATENCY_BUDGET_MS, type RestorePeerConfigInput } from './peerConfig.ts';
import { PeerLauncher } from './peerLauncher.ts';
import { MAX_MESSAGE_BYTES, parseClientMessage, type ClientMessage, type JoinedData, type Role, type ServerMessage, type SignalingErrorCode } from './protocol.ts';
import { DEFAULT_RATE_LIMIT, TokenBucket, type RateLimitOptions } from './rateLimiter.ts';
import { RequestError, Room, type RoomMember } from './room.ts';
import { Sfu } from './sfu.ts';
import { ensureMediasoupClientBundle, WEB_DIR } from './webBundle.ts';

/** How restore peers come to a room. */
export type RestorePeerMode =
  /** The server starts one child process per camera stream (default). */
  | 'spawn'
  /** Restore peers run inside the server process (one worker thread each; for development). */
  | 'inline'
  /** The server starts none: peers started elsewhere (`facerestore serve --connect`) join and are assigned. */
  | 'external';

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
  maxMessageBytes?: number;
  rateLimit?: RateLimitOptions;
  /** Seconds a connection may stay without joining. Default 10. */
  joinTimeoutSeconds?: number;
  /** Most simultaneous WebSocket connections. Default 64. */
  maxConnections?: number;
  /** Most members per room. Default 16. */
  maxRoomMembers?: number;
  /** Pipeline options for restore peers this server starts. */
  pipeline?: Record<string, unknown>;
  latencyBudgetMs?: number;
  /** A frame that cannot be restored in time: `drop` (default) or `passthrough`. */
  onMiss?: 'drop' | 'passthrough';
  /** Restore peers run the face detector every this many frames (default 2). */
  detectEvery?: number;
  passthroughMarker?: boolean;
  restorePeers?: RestorePeerMode;
  /** Most restore peers this server runs at once (each is CPU-bound). Default 2. */
  maxRestorePeers?: number;
  /** mediasoup worker binary (see resolveWorkerBin). */
  workerBin: string;
  /** Address announced in ICE candidates (when `host` is 0.0.0.0). */
  announcedAddress?: string;
  rtcMinPort?: number;
  rtcMaxPort?: number;
  /** Cache directory (the page's mediasoup-client bundle). */
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
  workerPid: number | undefined;
}

const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** A closed-for-cause WebSocket close code per error. */
const CLOSE_CODES: Partial<Record<SignalingErrorCode, number>> = { E_PROTOCOL: 1008, E_AUTH: 1008, E_RATE: 1008 };

/**
 * `facerestore serve`: an HTTP(S) server for the page, a WebSocket signaling endpoint at /ws, an SFU
 * (mediasoup: a worker, a router per room) and the restore peers. Ownership: LiveServer → Sfu → routers;
 * LiveServer → rooms → members' media; LiveServer → PeerLauncher → peer processes. `close()` is
 * idempotent and leaves no child process behind.
 */
export class LiveServer {
  readonly token: string;
  readonly peerToken: string;
  readonly #o: LiveServerOptions;
  readonly #log: LiveLogger;
  readonly #http: http.Server | https.Server;
  readonly #wss: WebSocketServer;
  readonly #sfu: Sfu;
  readonly #launcher: PeerLauncher;
  readonly #rooms = new Map<string, Room>();
  readonly #roomCreating = new Map<string, Promise<Room>>();
  readonly #sessions = new Set<Session>();
  readonly #inlinePeers = new Set<{ close(): Promise<void> }>();
  /** Spawn attempts per camera producer (a crashing peer is not restarted forever). */
  readonly #spawnAttempts = new Map<string, number>();
  #vendorPath = '';
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(o: LiveServerOptions) {
    this.#o = o;
    this.#log = o.logger ?? silentLogger;
    this.token = o.token ?? generateToken();
    this.peerToken = o.peerToken ?? generateToken();
    this.#sfu = new Sfu({ workerBin: o.workerBin, listenIp: listenIpFor(o.host ?? '127.0.0.1'), announcedAddress: o.announcedAddress, rtcMinPort: o.rtcMinPort, rtcMaxPort: o.rtcMaxPort, logger: this.#log });
    this.#sfu.onDied = () => {
      for (const r of this.#rooms.values()) r.close();
      this.#rooms.clear();
      for (const s of this.#sessions) s.fail('E_INTERNAL', 'the media server (mediasoup worker) crashed; see the server log');
    };
    this.#launcher = new PeerLauncher(this.#log);
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.#serveHttp(req, res);
    this.#http = o.tls ? https.createServer({ cert: o.tls.cert, key: o.tls.key }, handler) : http.createServer(handler);
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: o.maxMessageBytes ?? MAX_MESSAGE_BYTES, perMessageDeflate: false });
    this.#http.on('upgrade', (req, socket, head) => {
      const reject = (status: number, text: string) => {
        socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      };
      socket.on('error', () => undefined);
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/ws') return reject(404, 'Not Found');
      if (!originAllowed(req.headers.origin, req.headers.host, !!o.tls, o.allowedOrigins ?? [])) {
        this.#log.warn({ origin: req.headers.origin }, 'WebSocket refused: origin not allowed');
        return reject(403, 'Forbidden');
      }
      if (this.#sessions.size >= (o.maxConnections ?? 64)) return reject(503, 'Service Unavailable');
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
    });
  }

  /** Starts listening (and bundles the page's mediasoup-client once). */
  static async create(options: LiveServerOptions): Promise<LiveServer> {
    // Bad restore options fail here (E_CONFIG), not later in every restore peer.
    parsePipelineOptions(options.pipeline ?? {});
    const server = new LiveServer(options);
    server.#vendorPath = await ensureMediasoupClientBundle(options.cacheDir);
    await new Promise<void>((resolve, reject) => {
      server.#http.once('error', reject);
      server.#http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.#http.off('error', reject);
        resolve();
      });
    });
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
    return this.url.replace(/^http/, 'ws') + '/ws';
  }

  /** A page URL that joins `room` (the token rides in the fragment, which is never sent to the server). */
  pageUrl(room = 'default', role: 'publisher' | 'viewer' = 'publisher'): string {
    return `${this.url}/#room=${encodeURIComponent(room)}&token=${encodeURIComponent(this.token)}&role=${role}`;
  }

  stats(): LiveServerStats {
    const s = { connections: this.#sessions.size, rooms: this.#rooms.size, members: 0, transports: 0, producers: 0, consumers: 0, jobs: 0 };
    for (const r of this.#rooms.values()) {
      const c = r.counts();
      s.members += c.members;
      s.transports += c.transports;
      s.producers += c.producers;
      s.consumers += c.consumers;
      s.jobs += c.jobs;
    }
    return { ...s, restorePeerPids: this.#launcher.pids(), inlinePeers: this.#inlinePeers.size, workerPid: this.#sfu.workerPid };
  }

  /** Closes connections, restore peers, rooms and the mediasoup worker. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      for (const s of this.#sessions) s.close(1001, 'server closing');
      await Promise.all([...this.#inlinePeers].map((p) => p.close().catch(() => undefined)));
      await this.#launcher.closeAll();
      for (const r of this.#rooms.values()) r.close();
      this.#rooms.clear();
      await this.#sfu.close();
      this.#wss.close();
      this.#http.closeAllConnections?.();
      await new Promise<void>((resolve) => this.#http.close(() => resolve()));
    })();
    return this.#closing;
  }

  async #serveHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const headers = {
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      'Cache-Control': 'no-store',
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, headers).end();
        return;
      }
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      if (pathname === '/favicon.ico') {
        res.writeHead(204, headers).end();
        return;
      }
      if (pathname === '/healthz') {
        res.writeHead(200, { ...headers, 'Content-Type': 'text/plain' }).end('ok\n');
        return;
      }
      const file = pathname === '/vendor/mediasoup-client.js' ? { path: this.#vendorPath, type: 'text/javascript; charset=utf-8' } : STATIC_FILES[pathname] && { path: path.join(WEB_DIR, STATIC_FILES[pathname]!.file), type: STATIC_FILES[pathname]!.type };
      if (!file) {
        res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      const body = await readFile(file.path);
      res.writeHead(200, { ...headers, 'Content-Type': file.type, 'Content-Length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      this.#log.error({ err: (e as Error).message }, 'HTTP error');
      if (!res.headersSent) res.writeHead(500, headers);
      res.end();
    }
  }

  #accept(ws: WebSocket, req: http.IncomingMessage): void {
    if (this.#closed) {
      ws.close(1001, 'server closing');
      return;
    }
    const session = new Session(ws, this, this.#o.rateLimit ?? DEFAULT_RATE_LIMIT, this.#o.maxMessageBytes ?? MAX_MESSAGE_BYTES, this.#log, req.socket.remoteAddress ?? '?');
    this.#sessions.add(session);
    ws.once('close', () => {
      this.#sessions.delete(session);
      session.leave();
    });
    const joinTimer = setTimeout(() => {
      if (!session.joined) session.fail('E_PROTOCOL', 'join timeout');
    }, (this.#o.joinTimeoutSeconds ?? 10) * 1000);
    joinTimer.unref();
    ws.once('close', () => clearTimeout(joinTimer));
  }

  /** Handles `join`: checks the token for the role, creates the room on first use. */
  async join(session: Session, msg: Extract<ClientMessage, { type: 'join' }>): Promise<{ room: Room; data: JoinedData }> {
    const expected = msg.role === 'restorer' ? this.peerToken : this.token;
    if (!tokenMatches(msg.token, expected)) throw new AuthError('wrong token');
    const room = await this.#room(msg.room);
    if (room.memberCount >= (this.#o.maxRoomMembers ?? 16)) throw new RequestError('E_STATE', 'room is full');
    const joined = room.addMember(session);
    this.#log.info({ room: msg.room, peer: session.peerId, role: msg.role, name: msg.name }, 'joined');
    return { room, data: { peerId: session.peerId, role: msg.role, routerRtpCapabilities: joined.routerRtpCapabilities, producers: joined.producers } };
  }

  /** A member left: an empty room is closed (its router too). */
  left(room: Room): void {
    if (room.memberCount === 0 && this.#rooms.get(room.name) === room) {
      this.#rooms.delete(room.name);
      room.close();
      this.#sfu.closeRouter(room.name);
      this.#log.info({ room: room.name }, 'room closed');
    }
  }

  async #room(name: string): Promise<Room> {
    const existing = this.#rooms.get(name);
    if (existing && !existing.closed) return existing;
    let creating = this.#roomCreating.get(name);
    if (!creating) {
      if (this.#rooms.size >= 32) throw new RequestError('E_STATE', 'too many rooms');
      creating = (async () => {
        const router = await this.#sfu.router(name);
        // A spawned restore peer exits by itself when its job ends (exitWhenIdle); a waiting stream then
        // gets a new one through needRestorer.
        const room = new Room(name, router, this.#sfu, { needRestorer: (r, id) => this.#needRestorer(r, id) }, this.#log);
        this.#rooms.set(name, room);
        return room;
      })().finally(() => this.#roomCreating.delete(name));
      this.#roomCreating.set(name, creating);
    }
    return creating;
  }

  #needRestorer(room: Room, producerId: string): void {
    const mode = this.#o.restorePeers ?? 'spawn';
    if (this.#closed || mode === 'external') return;
    const attempts = this.#spawnAttempts.get(producerId) ?? 0;
    if (attempts >= 2) {
      this.#log.error({ room: room.name, producerId }, 'restore peer failed twice for this stream; not restarting it');
      return;
    }
    const running = this.#launcher.count + this.#inlinePeers.size;
    if (running >= (this.#o.maxRestorePeers ?? 2)) {
      this.#log.warn({ room: room.name, producerId, running }, 'no restore peer free; the stream waits');
      return;
    }
    this.#spawnAttempts.set(producerId, attempts + 1);
    const config: RestorePeerConfigInput = {
      url: this.wsUrl,
      room: room.name,
      peerToken: this.peerToken,
      insecureTls: !!this.#o.tls,
      pipeline: this.#o.pipeline ?? {},
      latencyBudgetMs: this.#o.latencyBudgetMs ?? DEFAULT_LATENCY_BUDGET_MS,
      passthroughMarker: this.#o.passthroughMarker ?? true,
      detectEvery: this.#o.detectEvery ?? 2,
      onMiss: this.#o.onMiss ?? 'drop',
      exitWhenIdle: true,
    };
    if (mode === 'spawn') {
      this.#launcher.launch(config);
      return;
    }
    void (async () => {
      const { RestorePeer } = await import('./restorePeer.ts');
      const peer = await RestorePeer.start({ ...config, name: `inline-${randomUUID().slice(0, 8)}` }, this.#log);
      this.#inlinePeers.add(peer);
      await peer.done;
      this.#inlinePeers.delete(peer);
    })().catch((e: Error) => this.#log.error({ err: e.message }, 'inline restore peer failed'));
  }

  /** Called by sessions to route a request. */
  handle(session: Session, msg: ClientMessage): Promise<unknown> | unknown {
    const room = session.room;
    if (msg.type === 'ping') return { t: msg.t, serverTime: Date.now() };
    if (!room) throw new RequestError('E_STATE', 'join first');
    const id = session.peerId;
    switch (msg.type) {
      case 'join':
        throw new RequestError('E_STATE', 'already joined');
      case 'createTransport':
        return room.createTransport(id, msg.direction);
      case 'connectTransport':
        return room.connectTransport(id, msg).then(() => ({}));
      case 'produce':
        return room.produce(id, msg);
      case 'consume':
        return room.consume(id, msg);
      case 'resumeConsumer':
        return room.resumeConsumer(id, msg.consumerId).then(() => ({}));
      case 'closeProducer':
        room.closeProducer(id, msg.producerId);
        return {};
      case 'setFidelity':
        room.setFidelity(id, msg);
        return {};
      case 'restoreStats':
        if (session.role !== 'restorer') throw new RequestError('E_AUTH', 'only restorers report stats');
        room.restoreStats(id, msg.producerId, msg.stats, msg.faces);
        return {};
    }
  }
}

/** A wrong token: answered, then the connection is closed. */
class AuthError extends Error {}

/** One WebSocket connection: parses, rate-limits and serialises its requests. */
class Session implements RoomMember {
  readonly peerId = randomUUID();
  role: Role = 'viewer';
  room: Room | undefined;
  readonly #ws: WebSocket;
  readonly #server: LiveServer;
  readonly #bucket: TokenBucket;
  readonly #log: LiveLogger;
  readonly #remote: string;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #joining = false;

  constructor(ws: WebSocket, server: LiveServer, rate: RateLimitOptions, maxBytes: number, log: LiveLogger, remote: string) {
    this.#ws = ws;
    this.#server = server;
    this.#bucket = new TokenBucket(rate);
    this.#log = log;
    this.#remote = remote;
    ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary, maxBytes));
    ws.on('error', (e) => {
      // ws reports oversized frames (1009) and protocol violations here, then closes the socket.
      this.#log.warn({ remote: this.#remote, err: e.message }, 'WebSocket error');
    });
  }

  get joined(): boolean {
    return this.room !== undefined;
  }

  send(message: ServerMessage): void {
    if (this.#closed || this.#ws.readyState !== this.#ws.OPEN) return;
    this.#ws.send(JSON.stringify(message));
  }

  /** Sends an `error` event and closes the connection. */
  fail(code: SignalingErrorCode, message: string): void {
    if (this.#closed) return;
    this.send({ type: 'error', code, message });
    this.close(CLOSE_CODES[code] ?? 1011, message.slice(0, 120));
  }

  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ws.close(code, reason);
    // A peer that does not complete the closing handshake is cut off.
    setTimeout(() => this.#ws.terminate(), 2000).unref();
  }

  /** Leaves the room (on close). */
  leave(): void {
    this.#closed = true;
    const room = this.room;
    this.room = undefined;
    if (room) {
      room.removeMember(this.peerId);
      this.#server.left(room);
    }
  }

  #onMessage(data: Buffer, isBinary: boolean, maxBytes: number): void {
    if (this.#closed) return;
    if (!this.#bucket.take()) {
      this.#log.warn({ remote: this.#remote, peer: this.peerId }, 'rate limit exceeded; closing');
      this.fail('E_RATE', 'too many messages');
      return;
    }
    if (isBinary) {
      this.fail('E_PROTOCOL', 'binary messages are not accepted');
      return;
    }
    const parsed = parseClientMessage(data, maxBytes);
    if (!parsed.ok) {
      this.#log.warn({ remote: this.#remote, reason: parsed.reason }, 'malformed message; closing');
      this.fail('E_PROTOCOL', parsed.reason);
      return;
    }
    const msg = parsed.message;
    this.#queue = this.#queue.then(() => this.#run(msg));
  }

  async #run(msg: ClientMessage): Promise<void> {
    if (this.#closed) return;
    try {
      let data: unknown;
      if (msg.type === 'join') {
        if (this.room || this.#joining) throw new RequestError('E_STATE', 'already joined');
        this.#joining = true;
        this.role = msg.role;
        try {
          const r = await this.#server.join(this, msg);
          if (this.#closed) {
            r.room.removeMember(this.peerId);
            this.#server.left(r.room);
            return;
          }
          this.room = r.room;
          data = r.data;
        } finally {
          this.#joining = false;
        }
      } else {
        data = await this.#server.handle(this, msg);
      }
      this.send({ type: 'response', id: msg.id, ok: true, data: data ?? {} });
    } catch (e) {
      if (e instanceof AuthError) {
        this.#log.warn({ remote: this.#remote, role: msg.type === 'join' ? msg.role : undefined }, 'join refused: wrong token');
        this.send({ type: 'response', id: msg.id, ok: false, error: { code: 'E_AUTH', message: e.message } });
        this.close(1008, 'unauthorized');
        return;
      }
      if (e instanceof RequestError) {
        this.send({ type: 'response', id: msg.id, ok: false, error: { code: e.code, message: e.message } });
        return;
      }
      const err = e instanceof FaceRestoreError ? e : (e as Error);
      this.#log.error({ peer: this.peerId, type: msg.type, err: err.message }, 'request failed');
      this.send({ type: 'response', id: msg.id, ok: false, error: { code: 'E_INTERNAL', message: 'internal error' } });
    }
  }
}

/** The IP mediasoup listens on for a given HTTP bind address. */
function listenIpFor(host: string): string {
  if (host === 'localhost') return '127.0.0.1';
  return host;
}
