import net from 'node:net';
import { FaceRestoreError, isFaceRestoreError, reviveError } from '../errors.ts';
import { checkRestoreArgs, type Restorer } from './restorer.ts';
import { formatServiceAddress, MessageReader, parseServiceAddress, writeMessage as write, type ServiceAddress, type WireHeader } from './restoreWire.ts';

/** Options of RemoteRestorer.connect. */
export interface RemoteRestorerOptions {
  /** The service's shared token (sent in the hello). */
  token: string;
  /**
   * What a restore does while the service is unreachable, ms. 0 (live mode): it fails at once with E_UNAVAILABLE
   * and requests in flight when the connection dropped fail too, so the live restorer passes those frames through
   * (the late-frame rule) instead of queueing them behind an outage. Above 0 (file mode, default 30 000): requests
   * wait for the reconnection (those in flight are sent again, in order) and fail with E_UNAVAILABLE, naming the
   * service and the last error, when it has been gone this long; later calls fail at once until it is back.
   * `connect` itself keeps trying this long (at least once).
   */
  waitMs?: number;
  /** First and longest pause between reconnection attempts, ms (doubling in between); default 100 and 5000. */
  backoffMs?: { min: number; max: number };
  /** Name sent in the hello (the service's logs). */
  client?: string;
  /** Disconnections and reconnections (one line each). */
  onWarning?: (message: string) => void;
  onInfo?: (message: string) => void;
}

type Welcome = Extract<WireHeader, { type: 'welcome' }>;

interface Request {
  id: number;
  crops: readonly Uint8Array[];
  weights: readonly number[];
  resolve: (out: Uint8Array[]) => void;
  reject: (e: unknown) => void;
}

interface Connection {
  socket: net.Socket;
  reader: MessageReader;
  welcome: Welcome;
  /** Where each chunk read goes (the welcome's handler, then the restorer's once attached). */
  read: { onChunk: (chunk: Uint8Array) => void };
}

/**
 * Bytes of the buffer a connection reads into. One per connection, reused for every read (MessageReader copies
 * what it keeps): Node's default allocates a fresh buffer per read, 768 KiB of garbage per face received.
 */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * One connection attempt: connects, says hello (version, token), waits for the welcome. Errors: E_UNAVAILABLE
 * (nothing there, closed before the welcome), E_AUTH (token refused), E_PROTOCOL (another wire version).
 */
function open(address: ServiceAddress, token: string, client: string | undefined, onSocket?: (s: net.Socket) => void): Promise<Connection> {
  const label = formatServiceAddress(address);
  const read: Connection['read'] = { onChunk: () => undefined };
  const onread = {
    buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
    callback: (n: number, buf: Uint8Array) => {
      read.onChunk(buf.subarray(0, n));
      return true;
    },
  };
  const socket = address.kind === 'unix' ? net.createConnection({ path: address.path, onread }) : net.createConnection({ host: address.host, port: address.port, noDelay: true, onread });
  onSocket?.(socket);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: FaceRestoreError) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new FaceRestoreError('E_UNAVAILABLE', `restore service ${label} did not answer the hello within 10 s`)), 10_000);
    const reader = new MessageReader(
      (h) => {
        if (settled) return;
        if (h.type === 'error') return fail(reviveError(h.error));
        if (h.type !== 'welcome') return fail(new FaceRestoreError('E_PROTOCOL', `restore service ${label} sent ${h.type} before its welcome`));
        settled = true;
        clearTimeout(timer);
        read.onChunk = () => undefined;
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        resolve({ socket, reader, welcome: h, read });
      },
      { maxFaces: 0 },
    );
    socket.once('connect', () => write(socket, { type: 'hello', token, n: 0, ...(client ? { client } : {}) }));
    read.onChunk = (chunk) => {
      try {
        reader.push(chunk);
      } catch (e) {
        fail(isFaceRestoreError(e) ? e : new FaceRestoreError('E_PROTOCOL', (e as Error).message));
      }
    };
    socket.on('error', (e) => fail(new FaceRestoreError('E_UNAVAILABLE', `no restore service at ${label}: ${e.message}`, { cause: e })));
    socket.on('close', () => fail(new FaceRestoreError('E_UNAVAILABLE', `restore service ${label} closed the connection before its welcome`)));
    socket.once('close', () => clearTimeout(timer));
  });
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A Restorer whose work runs in a RestoreService (another process, on this machine or another, over TCP or a
 * Unix socket): what a restore peer uses when a GPU service owns the model. Requests may overlap; each gets its
 * own answer, and one client's requests are answered in the order they were made (frames of a stream stay in
 * order). Each face keeps its own w. If the connection drops it reconnects with backoff (100 ms doubling to
 * 5 s); what restores do meanwhile is `waitMs` (live: fail at once; file: wait, then fail clearly).
 */
export class RemoteRestorer implements Restorer {
  readonly name: string;
  readonly maxBatch: number;
  readonly address: string;
  readonly #addr: ServiceAddress;
  readonly #o: RemoteRestorerOptions;
  readonly #waitMs: number;
  readonly #backoff: { min: number; max: number };
  /** Sent and not answered yet, by id (in id order: Map keeps insertion order). */
  readonly #inFlight = new Map<number, Request>();
  /** Waiting for a connection (wait mode), in call order. */
  #queue: Request[] = [];
  #conn: Connection | undefined;
  #maxFaces: number;
  #nextId = 0;
  #closed: FaceRestoreError | undefined;
  /** Set when the service has been gone longer than waitMs (or at once in live mode): calls fail with it. */
  #gone: FaceRestoreError | undefined;
  #lastError: FaceRestoreError | undefined;
  #reconnecting: Promise<void> | undefined;
  #giveUp: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  /** The socket of a reconnection attempt under way (close ends it rather than wait for its timeout). */
  #opening: net.Socket | undefined;
  /** Reconnections so far (tests and logs). */
  reconnections = 0;

  private constructor(addr: ServiceAddress, conn: Connection, o: RemoteRestorerOptions) {
    this.#addr = addr;
    this.#o = o;
    this.#waitMs = o.waitMs ?? 30_000;
    this.#backoff = o.backoffMs ?? { min: 100, max: 5000 };
    this.address = formatServiceAddress(addr);
    this.name = `service ${this.address}: ${conn.welcome.name}`;
    this.maxBatch = conn.welcome.maxBatch;
    this.#maxFaces = conn.welcome.maxFaces;
    this.#attach(conn);
  }

  /**
   * Connects to the service at `address` (`tcp://HOST:PORT`, `unix:/path` or a bare path), trying for up to
   * `waitMs` (at least once). Errors: E_USAGE (bad address), E_UNAVAILABLE (nobody there), E_AUTH (token refused)
   * and E_PROTOCOL (another wire version) at once.
   */
  static async connect(address: string, o: RemoteRestorerOptions): Promise<RemoteRestorer> {
    const addr = parseServiceAddress(address);
    const until = performance.now() + (o.waitMs ?? 30_000);
    const backoff = o.backoffMs ?? { min: 100, max: 5000 };
    for (let pause = backoff.min; ; pause = Math.min(backoff.max, pause * 2)) {
      try {
        return new RemoteRestorer(addr, await open(addr, o.token, o.client), o);
      } catch (e) {
        if (!isFaceRestoreError(e, 'E_UNAVAILABLE') || performance.now() + pause > until) throw e;
      }
      await delay(pause);
    }
  }

  /** Whether a connection is up now. */
  get connected(): boolean {
    return this.#conn !== undefined;
  }

  restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    try {
      checkRestoreArgs(crops, weights);
    } catch (e) {
      return Promise.reject(e);
    }
    if (crops.length === 0) return Promise.resolve([]);
    if (this.#closed) return Promise.reject(this.#closed);
    if (crops.length > this.#maxFaces) {
      // One message carries at most the service's maxFaces: split, keeping the order.
      const parts: Array<Promise<Uint8Array[]>> = [];
      for (let i = 0; i < crops.length; i += this.#maxFaces) parts.push(this.restore(crops.slice(i, i + this.#maxFaces), weights.slice(i, i + this.#maxFaces)));
      return Promise.all(parts).then((p) => p.flat());
    }
    if (!this.#conn && this.#gone) return Promise.reject(this.#gone);
    return new Promise((resolve, reject) => {
      const r: Request = { id: this.#nextId++, crops, weights, resolve, reject };
      if (this.#conn) this.#send(r);
      else this.#queue.push(r);
    });
  }

  #send(r: Request): void {
    this.#inFlight.set(r.id, r);
    write(this.#conn!.socket, { type: 'restore', id: r.id, n: r.crops.length, weights: [...r.weights] }, r.crops);
  }

  #attach(conn: Connection): void {
    this.#conn = conn;
    this.#maxFaces = conn.welcome.maxFaces;
    conn.reader.maxFaces = conn.welcome.maxFaces;
    conn.reader.onMessage = (h, crops) => this.#onMessage(h, crops);
    conn.read.onChunk = (chunk) => {
      try {
        conn.reader.push(chunk);
      } catch (e) {
        this.#lastError = isFaceRestoreError(e) ? e : new FaceRestoreError('E_PROTOCOL', (e as Error).message);
        this.#o.onWarning?.(`restore service ${this.address}: ${this.#lastError.message}`);
        conn.read.onChunk = () => undefined;
        conn.socket.destroy();
      }
    };
    conn.socket.on('error', (e) => (this.#lastError = new FaceRestoreError('E_UNAVAILABLE', `restore service ${this.address}: ${e.message}`, { cause: e })));
    conn.socket.once('close', () => this.#dropped(conn));
  }

  #onMessage(h: WireHeader, crops: Uint8Array[]): void {
    if (h.type === 'error') {
      // The service found our message broken: those requests fail (sending them again would fail again).
      const e = reviveError(h.error);
      this.#lastError = e;
      for (const r of this.#inFlight.values()) r.reject(e);
      this.#inFlight.clear();
      return;
    }
    if (h.type !== 'restored' && h.type !== 'failed') throw new FaceRestoreError('E_PROTOCOL', `restore service sent an unexpected ${h.type}`);
    const r = this.#inFlight.get(h.id);
    if (!r) throw new FaceRestoreError('E_PROTOCOL', `restore service answered request ${h.id}, which is not waiting`);
    this.#inFlight.delete(h.id);
    if (h.type === 'failed') r.reject(reviveError(h.error));
    else if (crops.length !== r.crops.length) r.reject(new FaceRestoreError('E_PROTOCOL', `restore service returned ${crops.length} faces for ${r.crops.length}`));
    else r.resolve(crops);
  }

  /** The connection is gone: requests in flight fail (live) or wait to be sent again (file); reconnect. */
  #dropped(conn: Connection): void {
    if (this.#conn !== conn) return;
    this.#conn = undefined;
    if (this.#closed) return;
    const why = this.#lastError?.message ?? 'connection closed';
    this.#o.onWarning?.(`restore service ${this.address} lost (${why}); reconnecting`);
    const lost = [...this.#inFlight.values()];
    this.#inFlight.clear();
    if (this.#waitMs <= 0) {
      this.#gone = new FaceRestoreError('E_UNAVAILABLE', `restore service ${this.address} is unreachable (${why}); reconnecting`);
      for (const r of lost) r.reject(this.#gone);
    } else {
      this.#queue = [...lost, ...this.#queue];
      this.#giveUp = setTimeout(() => this.#expire(), this.#waitMs);
    }
    this.#reconnecting ??= this.#reconnect().finally(() => (this.#reconnecting = undefined));
  }

  /** File mode: the service has been gone waitMs: what waits fails, and later calls fail at once until it is back. */
  #expire(): void {
    this.#gone = new FaceRestoreError('E_UNAVAILABLE', `restore service ${this.address} unreachable for ${this.#waitMs} ms (last error: ${this.#lastError?.message ?? 'connection closed'}); still reconnecting`);
    const q = this.#queue;
    this.#queue = [];
    for (const r of q) r.reject(this.#gone);
  }

  async #reconnect(): Promise<void> {
    for (let pause = this.#backoff.min; !this.#closed; pause = Math.min(this.#backoff.max, pause * 2)) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pause);
        this.#wake = () => (clearTimeout(t), resolve());
      });
      this.#wake = undefined;
      if (this.#closed) return;
      try {
        const conn = await open(this.#addr, this.#o.token, this.#o.client, (sock) => (this.#opening = sock)).finally(() => (this.#opening = undefined));
        if (this.#closed) return void conn.socket.destroy();
        clearTimeout(this.#giveUp);
        this.#gone = undefined;
        this.#lastError = undefined;
        this.reconnections++;
        this.#attach(conn);
        this.#o.onInfo?.(`restore service ${this.address} reconnected`);
        const q = this.#queue;
        this.#queue = [];
        for (const r of q) this.#send(r);
        return;
      } catch (e) {
        this.#lastError = isFaceRestoreError(e) ? e : new FaceRestoreError('E_UNAVAILABLE', (e as Error).message);
        if (isFaceRestoreError(e, 'E_AUTH') || isFaceRestoreError(e, 'E_PROTOCOL')) {
          // Retrying will not fix a refused token or another version soon: say so, fail what waits, keep trying slowly.
          this.#o.onWarning?.(`restore service ${this.address}: ${e.message}`);
          this.#gone = this.#lastError;
          const q = this.#queue;
          this.#queue = [];
          for (const r of q) r.reject(this.#gone);
          pause = this.#backoff.max;
        }
      }
    }
  }

  /** Ends the connection and stops reconnecting (the service keeps serving others). Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = new FaceRestoreError('E_CLOSED', 'remote restorer is closed');
      clearTimeout(this.#giveUp);
      this.#wake?.();
      this.#opening?.destroy();
      for (const r of [...this.#inFlight.values(), ...this.#queue]) r.reject(this.#closed);
      this.#inFlight.clear();
      this.#queue = [];
    }
    await this.#reconnecting;
    const conn = this.#conn;
    this.#conn = undefined;
    if (!conn || conn.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      conn.socket.once('close', () => resolve());
      conn.socket.end();
      setTimeout(() => conn.socket.destroy(), 1000).unref();
    });
  }
}
