/**
 * The restore service's wire format (RestoreService ⇄ RemoteRestorer), over a local stream socket. Each
 * message is a 4-byte big-endian header length, a JSON header (zod-validated on both sides, versioned by
 * `v`), then the header's `n` crops of CROP_BYTES each (RGB24 512×512). Errors cross as SerializedError.
 */
import { z } from 'zod';
import { FaceRestoreError } from '../errors.ts';
import { CROP_BYTES } from './restorer.ts';

export const WIRE_VERSION = 1;
/** Largest header, bytes, and most crops in one message (both far above any real request). */
const MAX_HEADER = 64 * 1024;
export const MAX_WIRE_CROPS = 256;

const errorSchema = z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() });
export const wireHeaderSchema = z.discriminatedUnion('type', [
  /** Service → client, once on connect: what serves it. */
  z.strictObject({ v: z.literal(WIRE_VERSION), type: z.literal('hello'), name: z.string(), maxBatch: z.number().int().min(1), n: z.literal(0) }),
  /** Client → service: restore `n` crops with these weights. */
  z.strictObject({ v: z.literal(WIRE_VERSION), type: z.literal('restore'), id: z.number().int().min(0), n: z.number().int().min(1).max(MAX_WIRE_CROPS), weights: z.array(z.number().min(0).max(1)) }),
  /** Service → client: the restored crops of request `id`, in its order. */
  z.strictObject({ v: z.literal(WIRE_VERSION), type: z.literal('restored'), id: z.number().int().min(0), n: z.number().int().min(1).max(MAX_WIRE_CROPS) }),
  /** Service → client: request `id` failed. */
  z.strictObject({ v: z.literal(WIRE_VERSION), type: z.literal('failed'), id: z.number().int().min(0), n: z.literal(0), error: errorSchema }),
]);
export type WireHeader = z.infer<typeof wireHeaderSchema>;

/** One message as bytes (header and crops in one buffer list, for a single socket write). */
export function encodeMessage(header: WireHeader, crops: readonly Uint8Array[] = []): Buffer[] {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  return [len, json, ...crops.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))];
}


/**
 * Splits a byte stream into messages. `push` each chunk; complete messages go to `onMessage`. A header that
 * is too long, not JSON, or not a valid message throws E_PROTOCOL (the connection is then closed).
 */
export class MessageReader {
  /** Receives each complete message (replaceable: a client hands the reader on after the hello). */
  onMessage: (header: WireHeader, crops: Uint8Array[]) => void;
  #chunks: Buffer[] = [];
  #have = 0;
  #header: WireHeader | undefined;

  constructor(onMessage: (header: WireHeader, crops: Uint8Array[]) => void) {
    this.onMessage = onMessage;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#have += chunk.length;
    for (;;) {
      if (!this.#header) {
        if (this.#have < 4) return;
        const len = this.#peek(4).readUInt32BE(0);
        if (len > MAX_HEADER) throw new FaceRestoreError('E_PROTOCOL', `restore service message header of ${len} bytes (most ${MAX_HEADER})`);
        if (this.#have < 4 + len) return;
        this.#take(4);
        let parsed: unknown;
        try {
          parsed = JSON.parse(this.#take(len).toString('utf8'));
        } catch {
          throw new FaceRestoreError('E_PROTOCOL', 'restore service message header is not JSON');
        }
        const r = wireHeaderSchema.safeParse(parsed);
        if (!r.success) throw new FaceRestoreError('E_PROTOCOL', `restore service message: ${r.error.issues.map((i) => `${i.path.join('.') || 'header'}: ${i.message}`).join('; ')}`);
        this.#header = r.data;
      }
      const h = this.#header;
      if (this.#have < h.n * CROP_BYTES) return;
      const crops: Uint8Array[] = [];
      for (let i = 0; i < h.n; i++) crops.push(new Uint8Array(this.#take(CROP_BYTES)));
      this.#header = undefined;
      this.onMessage(h, crops);
    }
  }

  /** The first n buffered bytes, without consuming them. */
  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length >= n) return this.#chunks[0]!;
    const all = Buffer.concat(this.#chunks);
    this.#chunks = [all];
    return all;
  }

  /** Consumes n buffered bytes (a copy when they span chunks). */
  #take(n: number): Buffer {
    const first = this.#peek(n);
    const out = first.subarray(0, n);
    const rest = first.subarray(n);
    this.#chunks[0] = rest;
    if (rest.length === 0) this.#chunks.shift();
    this.#have -= n;
    return out;
  }
}
