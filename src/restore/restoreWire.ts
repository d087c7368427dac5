/**
 * The restore service's wire format (RestoreService ⇄ RemoteRestorer), over a stream socket (TCP or Unix).
 * Each message is a 4-byte big-endian header length, a JSON header (zod-validated on both sides, versioned by
 * `v`), then the header's `n` crops of CROP_BYTES each (RGB24 512×512). Errors cross as SerializedError.
 *
 * Version 2: the client speaks first (`hello`: version and token); the service answers `welcome` (what serves
 * it and its limits) or a connection `error` (E_AUTH, E_PROTOCOL) and closes. Every message is bounded: its
 * header (MAX_HEADER_BYTES), its faces (the service's `maxFaces`) and so its bytes.
 */
import type { Socket } from 'node:net';
import { z } from 'zod';
import { FaceRestoreError } from '../errors.ts';
import { CROP_BYTES } from './restorer.ts';

export const WIRE_VERSION = 2;
/** Largest JSON header, bytes (a restore header for 256 faces is under 4 KiB). */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Most faces one message may carry on any service (each side may set a lower limit). */
export const MAX_WIRE_CROPS = 256;
/** Default most faces per request a service accepts: 32 faces = 24 MiB (a client splits larger requests). */
export const DEFAULT_MAX_FACES = 32;

/** Bytes of a message carrying `faces` crops with a header of `headerBytes`. */
export function messageBytes(faces: number, headerBytes: number): number {
  return 4 + headerBytes + faces * CROP_BYTES;
}

const errorSchema = z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() });
const version = z.number().int();
const faces = z.number().int().min(1).max(MAX_WIRE_CROPS);
export const wireHeaderSchema = z.discriminatedUnion('type', [
  /** Client → service, first: the version it speaks and the shared token. */
  z.strictObject({ v: version, type: z.literal('hello'), token: z.string().max(1024), client: z.string().max(128).optional(), n: z.literal(0) }),
  /** Service → client, after a good hello: what serves it and the most faces per request. */
  z.strictObject({ v: version, type: z.literal('welcome'), name: z.string(), maxBatch: z.number().int().min(1), maxFaces: faces, n: z.literal(0) }),
  /** Client → service: restore `n` crops with these weights (one per crop). */
  z.strictObject({ v: version, type: z.literal('restore'), id: z.number().int().min(0), n: faces, weights: z.array(z.number().min(0).max(1)).max(MAX_WIRE_CROPS) }).refine((h) => h.weights.length === h.n, { message: 'one weight per face', path: ['weights'] }),
  /** Service → client: the restored crops of request `id`, in its order. */
  z.strictObject({ v: version, type: z.literal('restored'), id: z.number().int().min(0), n: faces }),
  /** Service → client: request `id` failed (the connection stays). */
  z.strictObject({ v: version, type: z.literal('failed'), id: z.number().int().min(0), n: z.literal(0), error: errorSchema }),
  /** Service → client: the connection is refused or broken (E_AUTH, E_PROTOCOL); the service closes it next. */
  z.strictObject({ v: version, type: z.literal('error'), n: z.literal(0), error: errorSchema }),
]);
export type WireHeader = z.infer<typeof wireHeaderSchema>;
/** A header without its version (encodeMessage adds it). */
export type WireMessage = WireHeader extends infer H ? (H extends WireHeader ? Omit<H, 'v'> : never) : never;

/** One message as bytes (header and crops in one buffer list, for a single socket write). */
export function encodeMessage(header: WireMessage, crops: readonly Uint8Array[] = []): Buffer[] {
  const json = Buffer.from(JSON.stringify({ v: WIRE_VERSION, ...header }));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  return [len, json, ...crops.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))];
}

/**
 * Writes one message to a socket as one vectored write, without joining its buffers (a crop is 768 KiB: copying
 * each into one buffer per message cost a copy of every face on both sides).
 */
export function writeMessage(socket: Socket, header: WireMessage, crops?: readonly Uint8Array[]): void {
  if (socket.destroyed) return;
  socket.cork();
  for (const b of encodeMessage(header, crops)) socket.write(b);
  socket.uncork();
}

/** Where a restore service listens or is reached. */
export type ServiceAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/**
 * Parses `tcp://HOST:PORT` (IPv6 in brackets: `tcp://[::1]:7000`; port 0 = any free one, to listen) or
 * `unix:/path` (a bare absolute path is a Unix socket too). Anything else is E_USAGE naming the forms.
 */
export function parseServiceAddress(text: string): ServiceAddress {
  const tcp = /^tcp:\/\/(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]]+)):(\d{1,5})$/.exec(text);
  if (tcp) {
    const port = Number(tcp[3]);
    if (port <= 65535) return { kind: 'tcp', host: tcp[1] ?? tcp[2]!, port };
  }
  const unix = /^unix:(.+)$/.exec(text);
  if (unix) return { kind: 'unix', path: unix[1]! };
  if (text.startsWith('/')) return { kind: 'unix', path: text };
  throw new FaceRestoreError('E_USAGE', `Expected a restore service address tcp://HOST:PORT or unix:/path but received ${JSON.stringify(text)}`);
}

/** The address as text (what parseServiceAddress reads). */
export function formatServiceAddress(a: ServiceAddress): string {
  return a.kind === 'unix' ? `unix:${a.path}` : `tcp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Limits a MessageReader enforces. */
export interface ReaderLimits {
  /** Most faces one message may carry; default MAX_WIRE_CROPS. */
  maxFaces?: number;
}

/**
 * A crop's storage: its own ArrayBuffer (never Buffer's shared pool), seen as a plain Uint8Array like any other
 * crop. Not zeroed: MessageReader writes every byte before the crop leaves it.
 */
function newCrop(): Uint8Array {
  const b = Buffer.allocUnsafeSlow(CROP_BYTES);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Splits a byte stream into messages. `push` each chunk; complete messages go to `onMessage`. A header that
 * is too long, not JSON, of another version, not a valid message, or with more faces than allowed throws
 * E_PROTOCOL before its crops are buffered (the connection is then closed), so a peer cannot make this side
 * hold more than one bounded message.
 *
 * `push` copies what it keeps and holds no reference to the chunk, so a caller may read every chunk into one
 * reused buffer (RemoteRestorer does). Each crop's bytes are copied once, straight into the crop handed out:
 * joining chunks first and then copying each crop out allocated and copied every face twice more, and on a
 * heap above V8's 8 MiB incremental-marking threshold (any real service or peer process) that churn of 768 KiB
 * buffers set off a mark-compact every few faces (docs/gpu.md, the wire's cost).
 */
export class MessageReader {
  /** Receives each complete message (replaceable: a client hands the reader on after the welcome). */
  onMessage: (header: WireHeader, crops: Uint8Array[]) => void;
  /** Most faces per message (lowered by a client once the service says its limit). */
  maxFaces: number;
  /** The 4-byte length prefix, then the JSON header (grown up to MAX_HEADER_BYTES as headers need). */
  #head = Buffer.allocUnsafe(512);
  #headHave = 0;
  /** The JSON header's length once the prefix is read, else -1. */
  #headLen = -1;
  #header: WireHeader | undefined;
  /** Finished crops of the current message, the one being filled, and its bytes so far. */
  #crops: Uint8Array[] = [];
  #crop: Uint8Array | undefined;
  #cropHave = 0;

  constructor(onMessage: (header: WireHeader, crops: Uint8Array[]) => void, limits: ReaderLimits = {}) {
    this.onMessage = onMessage;
    this.maxFaces = limits.maxFaces ?? MAX_WIRE_CROPS;
  }

  push(chunk: Uint8Array): void {
    let at = 0;
    for (;;) {
      if (!this.#header) {
        if (this.#headLen < 0) {
          at += this.#fillHead(chunk, at, 4);
          if (this.#headHave < 4) return;
          const len = this.#head.readUInt32BE(0);
          if (len > MAX_HEADER_BYTES) throw new FaceRestoreError('E_PROTOCOL', `restore service message header of ${len} bytes (most ${MAX_HEADER_BYTES})`);
          this.#headLen = len;
          this.#headHave = 0;
          if (this.#head.length < len) this.#head = Buffer.allocUnsafe(len);
        }
        at += this.#fillHead(chunk, at, this.#headLen);
        if (this.#headHave < this.#headLen) return;
        const text = this.#head.toString('utf8', 0, this.#headLen);
        this.#headLen = -1;
        this.#headHave = 0;
        this.#header = this.#parse(text);
      }
      const h = this.#header;
      while (this.#crops.length < h.n) {
        if (at === chunk.length) return;
        this.#crop ??= newCrop();
        const k = Math.min(CROP_BYTES - this.#cropHave, chunk.length - at);
        this.#crop.set(chunk.subarray(at, at + k), this.#cropHave);
        at += k;
        this.#cropHave += k;
        if (this.#cropHave === CROP_BYTES) {
          this.#crops.push(this.#crop);
          this.#crop = undefined;
          this.#cropHave = 0;
        }
      }
      const crops = this.#crops;
      this.#crops = [];
      this.#header = undefined;
      this.onMessage(h, crops);
      if (at === chunk.length) return;
    }
  }

  /** Copies chunk bytes from `at` into the header buffer until it holds `want`; returns how many it took. */
  #fillHead(chunk: Uint8Array, at: number, want: number): number {
    const k = Math.min(want - this.#headHave, chunk.length - at);
    this.#head.set(chunk.subarray(at, at + k), this.#headHave);
    this.#headHave += k;
    return k;
  }

  /** A whole JSON header checked: version, then the face limit (before any crop is buffered), then its schema. */
  #parse(text: string): WireHeader {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new FaceRestoreError('E_PROTOCOL', 'restore service message header is not JSON');
    }
    const v = (parsed as { v?: unknown } | null)?.v;
    if (v !== WIRE_VERSION) throw new FaceRestoreError('E_PROTOCOL', `restore service wire version ${JSON.stringify(v)}; this side speaks version ${WIRE_VERSION} (upgrade both ends together)`);
    const n = (parsed as { n?: unknown }).n;
    if (typeof n === 'number' && n > 0 && this.maxFaces === 0) throw new FaceRestoreError('E_PROTOCOL', 'restore service message with faces before the hello and welcome');
    if (typeof n === 'number' && n > this.maxFaces) throw new FaceRestoreError('E_PROTOCOL', `restore service message of ${n} faces (most ${this.maxFaces} per request, ${messageBytes(this.maxFaces, MAX_HEADER_BYTES)} bytes)`);
    const r = wireHeaderSchema.safeParse(parsed);
    if (!r.success) throw new FaceRestoreError('E_PROTOCOL', `restore service message: ${r.error.issues.map((i) => `${i.path.join('.') || 'header'}: ${i.message}`).join('; ')}`);
    return r.data;
  }
}
