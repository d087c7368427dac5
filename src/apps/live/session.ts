import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { LiveLogger } from './logger.ts';
import { parseClientMessage, type ClientMessage, type Role, type ServerMessage, type SignalingErrorCode } from './protocol.ts';
import { TokenBucket, type RateLimitOptions } from './rateLimiter.ts';
import { AuthError, RequestError } from './requestError.ts';
import type { RequestRouter } from './requestRouter.ts';
import type { Room } from './room.ts';

/** A closed-for-cause WebSocket close code per error. */
const CLOSE_CODES: Partial<Record<SignalingErrorCode, number>> = { E_PROTOCOL: 1008, E_AUTH: 1008, E_RATE: 1008 };

/** Settings of a session. */
export interface SessionOptions {
  rate: RateLimitOptions;
  /** Largest accepted message, bytes. */
  maxBytes: number;
  /** Remote address, for logs. */
  remote: string;
  log: LiveLogger;
}

/**
 * One WebSocket connection: rate-limits, parses and answers its requests one at a time, in order. A
 * malformed or over-limit message closes this connection only. On close it leaves its room.
 */
export class Session {
  readonly peerId = randomUUID();
  role: Role = 'viewer';
  room: Room | undefined;
  readonly #ws: WebSocket;
  readonly #router: RequestRouter;
  readonly #bucket: TokenBucket;
  readonly #o: SessionOptions;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #joining = false;
  /** The session's logger: its peer id and remote address (and room, once joined) on every line. */
  #log: LiveLogger;

  constructor(ws: WebSocket, router: RequestRouter, o: SessionOptions) {
    this.#ws = ws;
    this.#router = router;
    this.#bucket = new TokenBucket(o.rate);
    this.#o = o;
    this.#log = o.log.child({ peer: this.peerId, remote: o.remote });
    ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    ws.on('error', (e) => {
      // ws reports oversized frames (1009) and protocol violations here, then closes the socket.
      this.#log.warn({ err: e.message }, 'WebSocket error');
    });
  }

  /** Remote address of the socket. */
  get remote(): string {
    return this.#o.remote;
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

  /** Leaves the room (the socket closed). */
  leave(): void {
    this.#closed = true;
    const room = this.room;
    this.room = undefined;
    if (room) this.#router.left(this, room);
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    const log = this.#log;
    if (!this.#bucket.take()) {
      log.warn({}, 'rate limit exceeded; closing');
      this.fail('E_RATE', 'too many messages');
      return;
    }
    if (isBinary) {
      this.fail('E_PROTOCOL', 'binary messages are not accepted');
      return;
    }
    const parsed = parseClientMessage(data, this.#o.maxBytes);
    if (!parsed.ok) {
      log.warn({ reason: parsed.reason }, 'malformed message; closing');
      this.fail('E_PROTOCOL', parsed.reason);
      return;
    }
    const msg = parsed.message;
    this.#queue = this.#queue.then(() => this.#run(msg));
  }

  async #run(msg: ClientMessage): Promise<void> {
    if (this.#closed) return;
    try {
      const data = msg.type === 'join' ? await this.#join(msg) : await this.#router.handle(this, msg);
      if (data === undefined) return;
      this.send({ type: 'response', id: msg.id, ok: true, data });
    } catch (e) {
      if (e instanceof AuthError) {
        this.#log.warn({ request: msg.id, role: msg.type === 'join' ? msg.role : undefined }, 'join refused: wrong token');
        this.send({ type: 'response', id: msg.id, ok: false, error: { code: 'E_AUTH', message: e.message } });
        this.close(1008, 'unauthorized');
        return;
      }
      if (e instanceof RequestError) {
        this.send({ type: 'response', id: msg.id, ok: false, error: { code: e.code, message: e.message } });
        return;
      }
      this.#log.error({ request: msg.id, type: msg.type, err: (e as Error)?.message }, 'request failed');
      this.send({ type: 'response', id: msg.id, ok: false, error: { code: 'E_INTERNAL', message: 'internal error' } });
    }
  }

  /** Joins; undefined when the connection closed meanwhile (nothing to answer). */
  async #join(msg: Extract<ClientMessage, { type: 'join' }>): Promise<unknown> {
    if (this.room || this.#joining) throw new RequestError('E_STATE', 'already joined');
    this.#joining = true;
    this.role = msg.role;
    try {
      const r = await this.#router.join(this, msg);
      if (this.#closed) {
        this.#router.left(this, r.room);
        return undefined;
      }
      this.room = r.room;
      this.#log = this.#o.log.child({ peer: this.peerId, remote: this.#o.remote, room: r.room.name, role: this.role });
      return r.data;
    } finally {
      this.#joining = false;
    }
  }
}
