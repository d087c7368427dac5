import { rm } from 'node:fs/promises';
import net from 'node:net';
import { FaceRestoreError, serializeError } from '../errors.ts';
import { BATCH_BUCKETS, MetricsRegistry, type Counter, type Gauge, type Histogram } from '../util/metrics.ts';
import { tokenProblem, tokensEqual } from '../util/tokens.ts';
import { BatchingRestorer, type BatchingOptions } from './batchingRestorer.ts';
import type { Restorer } from './restorer.ts';
import { DEFAULT_MAX_FACES, formatServiceAddress, writeMessage, MAX_WIRE_CROPS, MessageReader, parseServiceAddress, type ServiceAddress, type WireHeader, type WireMessage } from './restoreWire.ts';

/** Options of RestoreService.start. */
export interface RestoreServiceOptions extends BatchingOptions {
  /**
   * Where to listen: `tcp://HOST:PORT` (port 0: any free one; see `address` after start) or `unix:/path` (a
   * bare absolute path too; a stale socket file there is removed first, and on close).
   */
  listen: string;
  /** The shared secret every client's hello must carry (at least 16 characters; see util/tokens.ts). */
  token: string;
  /** The restorer it owns (closed with the service): typically one OnnxRestorer on the GPU. */
  restorer: Restorer;
  /** Most faces one request may carry (its bytes follow: faces × 768 KiB); default 32, at most 256. */
  maxFaces?: number;
  /** Requests of one client being worked on before the service stops reading from it (backpressure); default 8. */
  maxPendingPerClient?: number;
  /** A connection that has not said a valid hello after this long is closed, ms; default 10 000. */
  helloTimeoutMs?: number;
  /** Where its counters go (requests, faces, batch sizes, auth failures, protocol errors); default its own registry. */
  metrics?: MetricsRegistry;
  /** Where connection errors go (a bad client never stops the service). */
  onError?: (message: string) => void;
}

/** What the service has done so far. */
export interface RestoreServiceStats {
  /** Where it listens (the real port when it was asked for port 0). */
  address: string;
  clients: number;
  requests: number;
  faces: number;
  /** Inner restorer calls (batches); faces / batches is the batching achieved. */
  batches: number;
  authFailures: number;
  protocolErrors: number;
}

interface ServiceMetrics {
  requests: Counter;
  faces: Counter;
  batchFaces: Histogram;
  authFailures: Counter;
  protocolErrors: Counter;
  clients: Gauge;
}

function serviceMetrics(r: MetricsRegistry): ServiceMetrics {
  return {
    requests: r.counter({ name: 'facerestore_restore_service_requests_total', help: 'Restore requests received (one per frame of a stream)' }),
    faces: r.counter({ name: 'facerestore_restore_service_faces_total', help: 'Faces received for restoration' }),
    batchFaces: r.histogram({ name: 'facerestore_restore_service_batch_faces', help: 'Faces per call of the restorer (batches across streams)', buckets: BATCH_BUCKETS }),
    authFailures: r.counter({ name: 'facerestore_restore_service_auth_failures_total', help: 'Connections refused for a wrong token' }),
    protocolErrors: r.counter({ name: 'facerestore_restore_service_protocol_errors_total', help: 'Connections closed for a malformed, oversized or out-of-order message' }),
    clients: r.gauge({ name: 'facerestore_restore_service_clients', help: 'Authenticated connections' }),
  };
}

/**
 * One restorer session serving every stream of one or several live servers: clients (RemoteRestorer, in
 * restore peers) connect over TCP or a Unix socket, say the wire version and the shared token, then send each
 * frame's face crops with their w; the service merges requests that arrive within `budgetMs` into one batch
 * (BatchingRestorer: each face keeps its own w), and answers each client in the order it asked. On a GPU this
 * loads the model once instead of once per stream and fills batches across streams.
 *
 * A bad token (E_AUTH) or a malformed or oversized message (E_PROTOCOL) is answered with an `error` message
 * and ends that connection only. A restorer failure (E_UNAVAILABLE, E_MODEL_RUN…) fails the request it hit,
 * typed, and the connection stays. `close()` is idempotent: it stops accepting, ends the connections, runs
 * what is queued, and closes the restorer. No TLS: see docs/gpu.md.
 */
export class RestoreService {
  /** Where it listens, as text (`tcp://127.0.0.1:40123`, `unix:/run/fr.sock`). */
  readonly address: string;
  readonly name: string;
  readonly maxBatch: number;
  readonly maxFaces: number;
  /** Its counters (the CLI serves them on `--metrics-port`). */
  readonly metrics: MetricsRegistry;
  readonly #server: net.Server;
  readonly #listen: ServiceAddress;
  readonly #token: string;
  readonly #batching: BatchingRestorer;
  readonly #sockets = new Set<net.Socket>();
  readonly #authed = new Set<net.Socket>();
  readonly #onError: (message: string) => void;
  readonly #maxPending: number;
  readonly #helloTimeoutMs: number;
  readonly #m: ServiceMetrics;
  readonly #stats = { requests: 0, faces: 0, batches: 0, authFailures: 0, protocolErrors: 0 };
  #closing: Promise<void> | undefined;

  private constructor(o: RestoreServiceOptions, server: net.Server, listen: ServiceAddress, metrics: MetricsRegistry) {
    this.#server = server;
    this.#listen = listen;
    const bound = server.address();
    this.address = listen.kind === 'tcp' && bound && typeof bound === 'object' ? formatServiceAddress({ ...listen, port: bound.port }) : formatServiceAddress(listen);
    this.#token = o.token;
    this.metrics = metrics;
    this.#m = serviceMetrics(metrics);
    this.maxFaces = o.maxFaces ?? DEFAULT_MAX_FACES;
    this.#maxPending = o.maxPendingPerClient ?? 8;
    this.#helloTimeoutMs = o.helloTimeoutMs ?? 10_000;
    const inner = o.restorer;
    const counted: Restorer = {
      name: inner.name,
      maxBatch: inner.maxBatch,
      restore: (crops, weights) => {
        this.#stats.batches++;
        this.#m.batchFaces.observe(crops.length);
        return inner.restore(crops, weights);
      },
      close: () => inner.close(),
    };
    this.#batching = new BatchingRestorer(counted, o);
    this.name = this.#batching.name;
    this.maxBatch = this.#batching.maxBatch;
    this.#onError = o.onError ?? (() => undefined);
    server.on('connection', (s) => this.#accept(s));
  }

  /**
   * Listens at `listen`. Bad options throw TypeError/E_USAGE/E_CONFIG (the restorer is closed then too); a
   * listen failure closes the restorer and throws E_UNAVAILABLE naming the address.
   */
  static async start(o: RestoreServiceOptions): Promise<RestoreService> {
    let listen: ServiceAddress;
    try {
      listen = parseServiceAddress(o.listen);
      const problem = tokenProblem(o.token);
      if (problem) throw new FaceRestoreError('E_CONFIG', `restore service token ${problem}`);
      const maxFaces = o.maxFaces ?? DEFAULT_MAX_FACES;
      if (!Number.isInteger(maxFaces) || maxFaces < 1 || maxFaces > MAX_WIRE_CROPS) throw new TypeError(`Expected an integer maxFaces in [1, ${MAX_WIRE_CROPS}] but received ${maxFaces}`);
    } catch (e) {
      await o.restorer.close();
      throw e;
    }
    if (listen.kind === 'unix') await rm(listen.path, { force: true });
    const server = net.createServer({ noDelay: true });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const done = () => {
          server.off('error', reject);
          resolve();
        };
        if (listen.kind === 'unix') server.listen(listen.path, done);
        else server.listen(listen.port, listen.host, done);
      });
    } catch (e) {
      await o.restorer.close();
      throw new FaceRestoreError('E_UNAVAILABLE', `restore service cannot listen on ${formatServiceAddress(listen)}: ${(e as Error).message}`, { cause: e });
    }
    return new RestoreService(o, server, listen, o.metrics ?? new MetricsRegistry());
  }

  stats(): RestoreServiceStats {
    return { address: this.address, clients: this.#authed.size, ...this.#stats };
  }

  #accept(socket: net.Socket): void {
    if (this.#closing) return void socket.destroy();
    this.#sockets.add(socket);
    const peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix client';
    socket.on('close', () => {
      this.#sockets.delete(socket);
      if (this.#authed.delete(socket)) this.#m.clients.dec();
    });
    socket.on('error', (e) => this.#onError(`restore service client ${peer}: ${e.message}`));
    const send = (h: WireMessage, crops?: Uint8Array[]) => writeMessage(socket, h, crops);
    // A connection error: said to the client (typed), then the connection ends; the service serves on.
    let refused = false;
    const refuse = (e: FaceRestoreError) => {
      if (refused) return;
      refused = true;
      clearTimeout(helloTimer);
      if (e.code === 'E_AUTH') (this.#stats.authFailures++, this.#m.authFailures.inc());
      else (this.#stats.protocolErrors++, this.#m.protocolErrors.inc());
      this.#onError(`restore service client ${peer}: ${e.message}`);
      reader.onMessage = () => undefined;
      socket.removeAllListeners('data');
      send({ type: 'error', n: 0, error: serializeError(e) });
      socket.end();
      // A client that does not read its error must not hold the connection open.
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    const helloTimer = setTimeout(() => refuse(new FaceRestoreError('E_PROTOCOL', `no hello within ${this.#helloTimeoutMs} ms`)), this.#helloTimeoutMs);
    socket.once('close', () => clearTimeout(helloTimer));
    // Answers leave in request order per client, whatever order batches finish in.
    let answered: Promise<void> = Promise.resolve();
    let pending = 0;
    const reader = new MessageReader(
      (h) => {
        clearTimeout(helloTimer);
        if (h.type !== 'hello') throw new FaceRestoreError('E_PROTOCOL', `expected hello first, received ${h.type}`);
        if (!tokensEqual(h.token, this.#token)) throw new FaceRestoreError('E_AUTH', 'restore service token refused');
        this.#authed.add(socket);
        this.#m.clients.inc();
        reader.maxFaces = this.maxFaces;
        send({ type: 'welcome', name: this.name, maxBatch: this.maxBatch, maxFaces: this.maxFaces, n: 0 });
        reader.onMessage = (m, crops) => request(m, crops);
      },
      { maxFaces: 0 }, // nothing before the hello carries faces
    );
    const request = (h: WireHeader, crops: Uint8Array[]) => {
      if (h.type !== 'restore') throw new FaceRestoreError('E_PROTOCOL', `unexpected ${h.type} message from a client`);
      this.#stats.requests++;
      this.#stats.faces += crops.length;
      this.#m.requests.inc();
      this.#m.faces.inc(undefined, crops.length);
      if (++pending >= this.#maxPending) socket.pause();
      const result = this.#batching.restore(crops, h.weights).then(
        (out) => () => send({ type: 'restored', id: h.id, n: out.length }, out),
        (e: unknown) => () => send({ type: 'failed', id: h.id, n: 0, error: serializeError(e) }),
      );
      answered = answered.then(async () => {
        (await result)();
        if (--pending < this.#maxPending && socket.isPaused()) socket.resume();
      });
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (e) {
        refuse(e instanceof FaceRestoreError ? e : new FaceRestoreError('E_PROTOCOL', (e as Error).message));
      }
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const s of this.#sockets) s.destroy();
      await closed;
      await this.#batching.close();
      if (this.#listen.kind === 'unix') await rm(this.#listen.path, { force: true });
    })();
    return this.#closing;
  }
}
