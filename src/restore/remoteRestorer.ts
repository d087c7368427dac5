import net from 'node:net';
import { FaceRestoreError, reviveError } from '../errors.ts';
import { checkRestoreArgs, type Restorer } from './restorer.ts';
import { encodeMessage, MAX_WIRE_CROPS, MessageReader, WIRE_VERSION, type WireHeader } from './restoreWire.ts';

interface Waiting {
  resolve: (out: Uint8Array[]) => void;
  reject: (e: unknown) => void;
}

/**
 * A Restorer whose work runs in a RestoreService (another process on this machine, over its Unix socket):
 * what a restore peer uses when its server owns the GPU session. Requests may overlap; each gets its own
 * answer. If the service goes away, waiting and later calls fail with E_UNAVAILABLE.
 */
export class RemoteRestorer implements Restorer {
  readonly name: string;
  readonly maxBatch: number;
  readonly #socket: net.Socket;
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 0;
  #gone: FaceRestoreError | undefined;

  private constructor(socket: net.Socket, hello: Extract<WireHeader, { type: 'hello' }>, reader: MessageReader, path: string) {
    this.#socket = socket;
    this.name = `service ${path}: ${hello.name}`;
    this.maxBatch = hello.maxBatch;
    reader.onMessage = (h, crops) => this.#onMessage(h, crops);
    socket.on('close', () => this.#fail(new FaceRestoreError('E_UNAVAILABLE', `restore service ${path} closed the connection`)));
  }

  /** Connects to the service at `path` and waits for its hello. Errors: E_UNAVAILABLE (no service there), E_PROTOCOL. */
  static async connect(path: string): Promise<RemoteRestorer> {
    const socket = net.createConnection(path);
    return new Promise((resolve, reject) => {
      let settled = false;
      const reader = new MessageReader((h) => {
        if (settled) return;
        settled = true;
        if (h.type !== 'hello') return reject(new FaceRestoreError('E_PROTOCOL', `restore service ${path} sent ${h.type} before hello`));
        resolve(new RemoteRestorer(socket, h, reader, path));
      });
      socket.on('data', (chunk: Buffer) => {
        try {
          reader.push(chunk);
        } catch (e) {
          socket.destroy();
          if (!settled) (settled = true), reject(e);
        }
      });
      socket.once('error', (e) => {
        if (!settled) (settled = true), reject(new FaceRestoreError('E_UNAVAILABLE', `no restore service at ${path}: ${e.message}`, { cause: e }));
      });
      socket.once('close', () => {
        if (!settled) (settled = true), reject(new FaceRestoreError('E_UNAVAILABLE', `restore service ${path} closed before its hello`));
      });
    });
  }

  restore(crops: readonly Uint8Array[], weights: readonly number[]): Promise<Uint8Array[]> {
    try {
      checkRestoreArgs(crops, weights);
    } catch (e) {
      return Promise.reject(e);
    }
    if (crops.length === 0) return Promise.resolve([]);
    if (this.#gone) return Promise.reject(this.#gone);
    if (crops.length > MAX_WIRE_CROPS) {
      // One message carries at most MAX_WIRE_CROPS faces: split, keeping the order.
      const parts: Array<Promise<Uint8Array[]>> = [];
      for (let i = 0; i < crops.length; i += MAX_WIRE_CROPS) parts.push(this.restore(crops.slice(i, i + MAX_WIRE_CROPS), weights.slice(i, i + MAX_WIRE_CROPS)));
      return Promise.all(parts).then((p) => p.flat());
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#socket.write(Buffer.concat(encodeMessage({ v: WIRE_VERSION, type: 'restore', id, n: crops.length, weights: [...weights] }, crops)));
    });
  }

  #onMessage(h: WireHeader, crops: Uint8Array[]): void {
    if (h.type !== 'restored' && h.type !== 'failed') throw new FaceRestoreError('E_PROTOCOL', `restore service sent an unexpected ${h.type}`);
    const w = this.#waiting.get(h.id);
    if (!w) throw new FaceRestoreError('E_PROTOCOL', `restore service answered request ${h.id}, which is not waiting`);
    this.#waiting.delete(h.id);
    if (h.type === 'failed') w.reject(reviveError(h.error));
    else w.resolve(crops);
  }

  #fail(e: FaceRestoreError): void {
    this.#gone ??= e;
    for (const w of this.#waiting.values()) w.reject(this.#gone);
    this.#waiting.clear();
  }

  /** Ends the connection (the service keeps serving others). Idempotent. */
  async close(): Promise<void> {
    this.#fail(new FaceRestoreError('E_CLOSED', 'remote restorer is closed'));
    if (this.#socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.end();
    });
  }
}
