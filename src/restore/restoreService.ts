import { rm } from 'node:fs/promises';
import net from 'node:net';
import { FaceRestoreError, serializeError } from '../errors.ts';
import { BatchingRestorer, type BatchingOptions } from './batchingRestorer.ts';
import type { Restorer } from './restorer.ts';
import { encodeMessage, MessageReader, WIRE_VERSION, type WireHeader } from './restoreWire.ts';

/** Options of RestoreService.start. */
export interface RestoreServiceOptions extends BatchingOptions {
  /** Unix socket path to listen on (removed first if a stale one is there, and on close). */
  path: string;
  /** The restorer it owns (closed with the service): typically one OnnxRestorer on the GPU. */
  restorer: Restorer;
  /** Where connection errors go (a bad client never stops the service). */
  onError?: (message: string) => void;
}

/** What the service has done so far. */
export interface RestoreServiceStats {
  /** Its socket. */
  path: string;
  clients: number;
  requests: number;
  faces: number;
  /** Inner restorer calls (batches); faces / batches is the batching achieved. */
  batches: number;
}

/**
 * One restorer session serving every stream of a server: restore peers (each its own process) connect over
 * a Unix socket (RemoteRestorer) and send each frame's face crops with their w; the service merges requests
 * that arrive within `budgetMs` into one batch (BatchingRestorer: each face keeps its own w), and answers each
 * client in the order it asked. On a GPU this loads the model once instead of once per stream and fills
 * batches across streams. `close()` is idempotent: it stops accepting, ends the connections, runs what is
 * queued, and closes the restorer.
 */
export class RestoreService {
  readonly path: string;
  readonly name: string;
  readonly maxBatch: number;
  readonly #server: net.Server;
  readonly #batching: BatchingRestorer;
  readonly #sockets = new Set<net.Socket>();
  readonly #onError: (message: string) => void;
  readonly #stats = { requests: 0, faces: 0, batches: 0 };
  #closing: Promise<void> | undefined;

  private constructor(o: RestoreServiceOptions, server: net.Server) {
    this.path = o.path;
    this.#server = server;
    const inner = o.restorer;
    const counted: Restorer = {
      name: inner.name,
      maxBatch: inner.maxBatch,
      restore: (crops, weights) => {
        this.#stats.batches++;
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

  /** Listens on `path`. On a listen failure the restorer is closed and E_UNAVAILABLE thrown. */
  static async start(o: RestoreServiceOptions): Promise<RestoreService> {
    await rm(o.path, { force: true });
    const server = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(o.path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      await o.restorer.close();
      throw new FaceRestoreError('E_UNAVAILABLE', `restore service cannot listen on ${o.path}: ${(e as Error).message}`, { cause: e });
    }
    return new RestoreService(o, server);
  }

  stats(): RestoreServiceStats {
    return { path: this.path, clients: this.#sockets.size, ...this.#stats };
  }

  #accept(socket: net.Socket): void {
    if (this.#closing) return void socket.destroy();
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', (e) => this.#onError(`restore service client: ${e.message}`));
    const send = (h: WireHeader, crops?: Uint8Array[]) => {
      if (!socket.destroyed) socket.write(Buffer.concat(encodeMessage(h, crops)));
    };
    send({ v: WIRE_VERSION, type: 'hello', name: this.name, maxBatch: this.maxBatch, n: 0 });
    // Answers leave in request order per client, whatever order batches finish in.
    let answered: Promise<void> = Promise.resolve();
    const reader = new MessageReader((h, crops) => {
      if (h.type !== 'restore') throw new FaceRestoreError('E_PROTOCOL', `restore service: unexpected ${h.type} message from a client`);
      this.#stats.requests++;
      this.#stats.faces += crops.length;
      const result = this.#batching.restore(crops, h.weights).then(
        (out) => () => send({ v: WIRE_VERSION, type: 'restored', id: h.id, n: out.length }, out),
        (e: unknown) => () => send({ v: WIRE_VERSION, type: 'failed', id: h.id, n: 0, error: serializeError(e) }),
      );
      answered = answered.then(async () => (await result)());
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (e) {
        this.#onError((e as Error).message);
        socket.destroy();
      }
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const s of this.#sockets) s.destroy();
      await closed;
      await this.#batching.close();
      await rm(this.path, { force: true });
    })();
    return this.#closing;
  }
}
