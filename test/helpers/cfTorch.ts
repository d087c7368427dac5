/**
 * Writes PyTorch checkpoints by hand, for tests of the checkpoint reader: a minimal pickle writer
 * (protocol 2, the opcodes torch.save emits), a store-only zip writer, and the legacy (pre-1.6) layout.
 */
import { crc32, deflateRawSync } from 'node:zlib';

/** Emits pickle opcodes. */
export class PickleWriter {
  #parts: number[] = [];

  /** Raw bytes. */
  raw(...bytes: number[]): this {
    for (const b of bytes) this.#parts.push(b);
    return this;
  }
  op(ch: string): this {
    return this.raw(ch.charCodeAt(0));
  }
  proto(v = 2): this {
    return this.raw(0x80, v);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.op('X');
    this.u32(b.length);
    return this.raw(...b);
  }
  /** SHORT_BINUNICODE (protocol 4). */
  shortStr(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.raw(0x8c, b.length, ...b);
  }
  int(v: number): this {
    if (v >= 0 && v < 256) return this.raw(0x4b, v);
    if (v >= 0 && v < 65536) return this.raw(0x4d, v & 0xff, v >> 8);
    this.op('J');
    return this.i32(v);
  }
  /** LONG1 of an arbitrary integer. */
  long(v: bigint): this {
    const bytes: number[] = [];
    let x = v;
    while (x !== 0n && x !== -1n) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
    }
    if (v >= 0n && (bytes.length === 0 || bytes[bytes.length - 1]! & 0x80)) bytes.push(0);
    return this.raw(0x8a, bytes.length, ...bytes);
  }
  global(module: string, name: string): this {
    this.op('c');
    return this.raw(...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  mark(): this {
    return this.op('(');
  }
  tuple(): this {
    return this.op('t');
  }
  emptyTuple(): this {
    return this.op(')');
  }
  emptyDict(): this {
    return this.op('}');
  }
  emptyList(): this {
    return this.op(']');
  }
  reduce(): this {
    return this.op('R');
  }
  setitem(): this {
    return this.op('s');
  }
  setitems(): this {
    return this.op('u');
  }
  appends(): this {
    return this.op('e');
  }
  none(): this {
    return this.op('N');
  }
  bool(v: boolean): this {
    return this.raw(v ? 0x88 : 0x89);
  }
  binpersid(): this {
    return this.op('Q');
  }
  stop(): this {
    return this.op('.');
  }
  u32(v: number): this {
    return this.raw(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }
  i32(v: number): this {
    return this.u32(v >>> 0);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}

/** Storage classes by element type. */
const STORAGE_CLASS = { float32: 'FloatStorage', float16: 'HalfStorage', float64: 'DoubleStorage', bfloat16: 'BFloat16Storage' } as const;
export type CfDtype = keyof typeof STORAGE_CLASS;
const ELEM_BYTES: Record<CfDtype, number> = { float32: 4, float16: 2, float64: 8, bfloat16: 2 };

/** A tensor to write: a view (shape, stride, offset) of a storage. */
export interface CfTensor {
  name: string;
  storageKey: string;
  shape: number[];
  stride?: number[];
  offset?: number;
}

/** A storage: element type and little-endian bytes. */
export interface CfStorage {
  key: string;
  dtype: CfDtype;
  bytes: Uint8Array;
}

function contiguousStride(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/**
 * The pickle of `{wrap: OrderedDict(tensors)}` (or the bare OrderedDict when wrap is null), exactly as
 * torch.save lays out a state dict: _rebuild_tensor_v2 with persistent storage ids.
 */
export function stateDictPickle(tensors: CfTensor[], storages: CfStorage[], options: { wrap?: string | null; legacy?: boolean } = {}): Uint8Array {
  const p = new PickleWriter().proto(2);
  const wrap = options.wrap === undefined ? 'params_ema' : options.wrap;
  if (wrap !== null) p.emptyDict().str(wrap);
  p.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const t of tensors) {
    const st = storages.find((s) => s.key === t.storageKey)!;
    const numel = st.bytes.length / ELEM_BYTES[st.dtype];
    p.str(t.name).global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().str('storage').global('torch', STORAGE_CLASS[st.dtype]).str(t.storageKey).str('cpu').int(numel);
    if (options.legacy) p.none();
    p.tuple().binpersid();
    p.int(t.offset ?? 0);
    p.mark();
    for (const d of t.shape) p.int(d);
    p.tuple().mark();
    for (const d of t.stride ?? contiguousStride(t.shape)) p.int(d);
    p.tuple().bool(false).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
  }
  p.setitems();
  if (wrap !== null) p.setitem();
  return p.stop().bytes();
}

/** One zip entry; `deflate` compresses it, `declaredSize` overrides the uncompressed size in its headers. */
export interface ZipEntry {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** Ready deflate bytes (raw), used instead of compressing `data`. */
  deflated?: Uint8Array;
  declaredSize?: number;
}

/** A zip archive of stored or deflated entries, sizes as declared (which may lie). */
export function zipArchive(entries: ZipEntry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const method = e.deflate || e.deflated ? 8 : 0;
    const body = e.deflated ?? (e.deflate ? deflateRawSync(e.data) : e.data);
    const size = e.declaredSize ?? e.data.length;
    const crc = crc32(e.data);
    const header = (isCentral: boolean): Buffer => {
      const b = Buffer.alloc(isCentral ? 46 : 30);
      const o = isCentral ? 2 : 0; // the central record has "version made by" before the common fields
      b.writeUInt32LE(isCentral ? 0x02014b50 : 0x04034b50, 0);
      if (isCentral) b.writeUInt16LE(20, 4);
      b.writeUInt16LE(20, 4 + o);
      b.writeUInt16LE(0, 6 + o);
      b.writeUInt16LE(method, 8 + o);
      b.writeUInt16LE(0, 10 + o);
      b.writeUInt16LE(0x21, 12 + o);
      b.writeUInt32LE(crc, 14 + o);
      b.writeUInt32LE(body.length, 18 + o);
      b.writeUInt32LE(size >>> 0, 22 + o);
      b.writeUInt16LE(name.length, 26 + o);
      if (isCentral) b.writeUInt32LE(offset, 42);
      return b;
    };
    chunks.push(header(false), name, body);
    central.push(header(true), name);
    offset += 30 + name.length + body.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...chunks, ...central, eocd]);
}

/** A store-only (uncompressed) zip archive. */
export function zipStore(files: Array<{ name: string; data: Uint8Array }>): Uint8Array {
  return zipArchive(files);
}

/** A zip-format checkpoint (`<folder>/data.pkl`, `<folder>/data/<key>`, `<folder>/version`). */
export function torchZip(pickle: Uint8Array, storages: CfStorage[], folder = 'archive'): Uint8Array {
  return zipStore([
    { name: `${folder}/data.pkl`, data: pickle },
    ...storages.map((s) => ({ name: `${folder}/data/${s.key}`, data: s.bytes })),
    { name: `${folder}/version`, data: new TextEncoder().encode('3\n') },
  ]);
}

/**
 * A legacy-format checkpoint: magic number, protocol 1001, sys info, the object (persistent ids with a
 * trailing view_metadata None), the sorted storage keys, then each storage as an 8-byte element count
 * followed by its bytes.
 */
export function torchLegacy(tensors: CfTensor[], storages: CfStorage[], options: { wrap?: string | null } = {}): Uint8Array {
  const magic = new PickleWriter().proto(2).long(0x1950a86a20f9469cfc6cn).stop().bytes();
  const protocol = new PickleWriter().proto(2).int(1001).stop().bytes();
  const sys = new PickleWriter().proto(2).emptyDict().mark()
    .str('protocol_version').int(1001)
    .str('little_endian').bool(true)
    .str('type_sizes').emptyDict().mark().str('short').int(2).str('int').int(4).str('long').int(4).setitems()
    .setitems().stop().bytes();
  const obj = stateDictPickle(tensors, storages, { wrap: options.wrap, legacy: true });
  const keys = [...storages.map((s) => s.key)].sort();
  const kp = new PickleWriter().proto(2).emptyList().mark();
  for (const k of keys) kp.str(k);
  const keyList = kp.appends().stop().bytes();
  const body: Uint8Array[] = [magic, protocol, sys, obj, keyList];
  for (const k of keys) {
    const s = storages.find((x) => x.key === k)!;
    const count = Buffer.alloc(8);
    count.writeBigUInt64LE(BigInt(s.bytes.length / ELEM_BYTES[s.dtype]));
    body.push(count, s.bytes);
  }
  return Buffer.concat(body);
}

/** Little-endian bytes of float32 values. */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  const a = Float32Array.from(values);
  return new Uint8Array(a.buffer);
}

/** One storage per tensor, contiguous: the common case of a state dict. */
export function simpleStateDict(entries: Array<{ name: string; shape: number[]; data: Float32Array }>): { tensors: CfTensor[]; storages: CfStorage[] } {
  const tensors: CfTensor[] = [];
  const storages: CfStorage[] = [];
  entries.forEach((e, i) => {
    tensors.push({ name: e.name, storageKey: String(i), shape: e.shape });
    storages.push({ key: String(i), dtype: 'float32', bytes: new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength) });
  });
  return { tensors, storages };
}
