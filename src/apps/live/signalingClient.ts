import WebSocket from 'ws';
import { FaceRestoreError } from '../../errors.ts';
import { TypedEmitter } from '../../util/typedEmitter.ts';
import { parseServerMessage, type AnyClientRequest, type ServerMessage } from './protocol.ts';

/** Options of a Node signaling client. */
export interface SignalingClientOptions {
  /** Origin header to send (browsers always send one; Node clients usually none). */
  origin?: string;
  /** Accept a self-signed certificate (loopback connections to the server's own TLS port). */
  insecureTls?: boolean;
  /** Milliseconds a request may take. Default 15000. */
  requestTimeoutMs?: number;
  /** Where an event listener's exception goes (default the console); it never reaches the socket. */
  onListenerError?: (event: string, error: unknown) => void;
}

/** Server events (everything but responses). */
export type ServerEvent = Exclude<ServerMessage, { type: 'response' }>;

/** Events of a signaling client. */
export type SignalingClientEvents = {
  /** Every server event, in arrival order. */
  event: [event: ServerEvent];
  /** The socket closed (pending requests have been rejected). */
  close: [code: number, reason: string];
};

/**
 * A typed request/response client for the signaling protocol (restore peers, tests, the bench).
 * `request` resolves with the response's data or rejects with E_PROTOCOL carrying the server's code;
 * server events arrive as `event`, and any number of listeners may watch them.
 */
export class SignalingClient extends TypedEmitter<SignalingClientEvents> {
  readonly ws: WebSocket;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly #timeoutMs: number;
  #nextId = 1;
  /** Resolves when the socket has closed, with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket, options: SignalingClientOptions) {
    super(options.onListenerError);
    this.ws = ws;
    this.#timeoutMs = options.requestTimeoutMs ?? 15_000;
    ws.on('message', (data) => this.#onMessage(data as Buffer));
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        const err = new FaceRestoreError('E_PROTOCOL', `signaling connection closed (${code} ${reason.toString()})`);
        for (const p of this.#pending.values()) {
          clearTimeout(p.timer);
          p.reject(err);
        }
        this.#pending.clear();
        resolve({ code, reason: reason.toString() });
        this.safeEmit('close', code, reason.toString());
      });
    });
    ws.on('error', () => undefined);
  }

  /** Connects; rejects when the upgrade is refused (e.g. 403 for a foreign Origin). */
  static connect(url: string, options: SignalingClientOptions = {}): Promise<SignalingClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: options.origin ? { Origin: options.origin } : {},
        rejectUnauthorized: !options.insecureTls,
        perMessageDeflate: false,
      });
      const client = new SignalingClient(ws, options);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        reject(new FaceRestoreError('E_PROTOCOL', `signaling upgrade refused: HTTP ${res.statusCode}`));
        ws.terminate();
      });
      ws.once('error', (e) => reject(new FaceRestoreError('E_PROTOCOL', `cannot connect to ${url}: ${e.message}`, { cause: e })));
    });
  }

  /** Sends a request and waits for its response's data. */
  request<T = unknown>(message: AnyClientRequest): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.ws.readyState !== WebSocket.OPEN) {
        reject(new FaceRestoreError('E_PROTOCOL', 'signaling connection is not open'));
        return;
      }
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new FaceRestoreError('E_PROTOCOL', `request ${message.type} timed out`));
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.ws.send(JSON.stringify({ ...message, id }));
    });
  }

  /** Sends raw text (tests of malformed input). */
  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000, 'bye');
    return this.closed;
  }

  #onMessage(data: Buffer): void {
    const parsed = parseServerMessage(data);
    if (!parsed.ok) return;
    const msg = parsed.message;
    if (msg.type === 'response') {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.data);
      else p.reject(new FaceRestoreError('E_PROTOCOL', `${msg.error.code}: ${msg.error.message}`, { details: { code: msg.error.code } }));
      return;
    }
    this.safeEmit('event', msg);
  }
}
