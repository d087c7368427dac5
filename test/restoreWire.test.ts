import { describe, expect, it } from 'vitest';
import { seededRandom } from '../src/models/seededRandom.ts';
import { encodeMessage, MAX_HEADER_BYTES, MessageReader, type WireHeader, type WireMessage } from '../src/restore/restoreWire.ts';
import { CROP_BYTES } from '../src/restore/restorer.ts';

/** A crop of seeded bytes (each crop differs everywhere, so a byte out of place or left over shows). */
function noiseCrop(seed: number): Uint8Array {
  const next = seededRandom(seed);
  const c = new Uint8Array(CROP_BYTES);
  for (let i = 0; i < c.length; i++) c[i] = Math.floor(next() * 256);
  return c;
}

function lengthPrefix(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

describe('MessageReader', () => {
  it('reads messages split anywhere, from one reused buffer: headers and crops come out whole and unchanged', () => {
    const crops = [noiseCrop(1), noiseCrop(2), noiseCrop(3)];
    const sent: Array<[WireMessage, Uint8Array[]]> = [
      [{ type: 'restore', id: 7, n: 2, weights: [0.25, 1] }, [crops[0]!, crops[1]!]],
      [{ type: 'failed', id: 8, n: 0, error: { code: 'E_MODEL_RUN', message: 'model x failed' } }, []],
      [{ type: 'restored', id: 9, n: 1 }, [crops[2]!]],
      [{ type: 'failed', id: 10, n: 0, error: { code: 'E_UNAVAILABLE', message: 'gone' } }, []],
    ];
    const stream = Buffer.concat(sent.flatMap(([h, c]) => encodeMessage(h, c)));
    const got: Array<[WireHeader, Uint8Array[]]> = [];
    const reader = new MessageReader((h, c) => got.push([h, c]));
    // Chunks of 1 to 4 bytes at first (inside the length prefix and the JSON), then up to 200 KiB (crops spanning
    // chunks, chunks spanning messages), all through one buffer overwritten after every push, like a socket's
    // reused read buffer: what the reader keeps must be its own copy.
    const scratch = Buffer.alloc(200 * 1024);
    const size = seededRandom(42);
    for (let at = 0, k = 0; at < stream.length; k++) {
      const n = Math.min(stream.length - at, k < 40 ? 1 + Math.floor(size() * 4) : 1 + Math.floor(size() * scratch.length));
      stream.copy(scratch, 0, at, at + n);
      reader.push(scratch.subarray(0, n));
      scratch.fill(0xa5);
      at += n;
    }
    expect(got.map(([h]) => h)).toEqual(sent.map(([h]) => ({ v: 2, ...h })));
    const out = got.flatMap(([, c]) => c);
    expect(out).toHaveLength(3);
    for (const [i, c] of out.entries()) {
      expect(Buffer.compare(Buffer.from(c.buffer, c.byteOffset, c.byteLength), Buffer.from(crops[i]!)), `crop ${i}`).toBe(0);
      // A plain Uint8Array on its own storage: handing it to a restorer or a worker carries no other bytes.
      expect(Object.getPrototypeOf(c)).toBe(Uint8Array.prototype);
      expect([c.byteOffset, c.buffer.byteLength]).toEqual([0, CROP_BYTES]);
    }
  });

  it('refuses an oversized header at its length prefix, even split, and too many faces before any crop byte', () => {
    const long = new MessageReader(() => undefined);
    const prefix = lengthPrefix(MAX_HEADER_BYTES + 1);
    long.push(prefix.subarray(0, 2));
    expect(() => long.push(prefix.subarray(2))).toThrow(expect.objectContaining({ code: 'E_PROTOCOL', message: expect.stringMatching(/header of 16385 bytes/) }));

    const got: WireHeader[] = [];
    const few = new MessageReader((h) => got.push(h), { maxFaces: 2 });
    const [len, json] = encodeMessage({ type: 'restore', id: 0, n: 3, weights: [0, 0, 0] });
    expect(() => few.push(Buffer.concat([len!, json!]))).toThrow(expect.objectContaining({ code: 'E_PROTOCOL', message: expect.stringMatching(/message of 3 faces \(most 2 per request/) }));
    expect(got).toEqual([]);
  });
});
