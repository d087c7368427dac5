/**
 * (Longer than ~300 lines on purpose: both container formats end in the same tensor records and the same bounds checks; splitting the formats apart would duplicate the checks or scatter them.)
 *
 * Reads PyTorch checkpoints (`torch.save` of a state dict) without Python:
 * - the zip format (torch ≥ 1.6): `<prefix>/data.pkl` plus one record `<prefix>/data/<key>` per storage,
 *   read with yauzl by random access, one tensor at a time;
 * - the legacy format (torch < 1.6): magic number, protocol, sys info, the pickled object, the sorted
 *   storage keys, then each storage's raw bytes preceded by its 8-byte element count.
 * Pickles go through the safe subset in pickle.ts. Tensors are listed first (names, shapes, dtypes) and
 * their data is read on demand as contiguous float32 (float16/bfloat16/float64 are converted).
 * Every view is bounds-checked before anything is read (tensorBounds.ts); zip records are read with
 * bounded memory (zipRecords.ts).
 *
 * Longer than most files on purpose: both formats share the persistent-id, record and tensor checks here,
 * so one reading covers every path a checkpoint's bytes take into memory.
 */
import { createHash } from 'node:crypto';
import { open as openFile, stat, type FileHandle } from 'node:fs/promises';
import yauzl from 'yauzl';
import { FaceRestoreError } from '../errors.ts';
import { halfToFloat } from './half.ts';
import {
  DTYPE_BYTES,
  PickleDict,
  PickleTruncatedError,
  isTensorRef,
  storageDtypeOf,
  unpickle,
  type PickleValue,
  type StorageRef,
  type TensorRef,
} from './pickle.ts';
import { DEFAULT_LIMITS, checkTensorView, type CheckpointLimits } from './tensorBounds.ts';
import { readZipRecord } from './zipRecords.ts';

export { floatToHalf, halfToFloat } from './half.ts';
export { DEFAULT_LIMITS, type CheckpointLimits } from './tensorBounds.ts';

/**
 * Largest pickle (`data.pkl`, or a legacy file's header pickles) read into memory: the official
 * CodeFormer's is about 40 KB, so 64 MiB is far beyond any state dict.
 */
export const MAX_PICKLE_BYTES = 64 << 20;
/** Largest storage record: 2 GiB, the most a single read (one tensor's span) could ever ask for. */
const MAX_RECORD_BYTES = 2 ** 31;

/** One tensor of a state dict. */
export interface CheckpointTensor {
  readonly name: string;
  readonly shape: readonly number[];
  /** Elements of the tensor. */
  readonly numel: number;
  /** Elements of its storage that a read touches (≥ numel; larger for views with gaps). */
  readonly span: number;
  /** Element type as stored (data is always returned as float32). */
  readonly dtype: TensorRef['dtype'];
  readonly ref: TensorRef;
}

/** An opened checkpoint: the state dict's tensors in file order, data read on demand. */
export interface Checkpoint {
  readonly path: string;
  readonly format: 'zip' | 'legacy';
  /** Key under which the state dict was found: `params_ema`, `params`, `state_dict` or '' (top level). */
  readonly stateDictKey: string;
  readonly tensors: ReadonlyMap<string, CheckpointTensor>;
  /** Elements over all tensors (each checked against the limits before anything is read). */
  readonly totalElements: number;
  /** Contiguous float32 data of a tensor (row-major in its shape). */
  read(name: string): Promise<Float32Array>;
  close(): Promise<void>;
}

function fail(path: string, message: string, cause?: unknown): never {
  throw new FaceRestoreError('E_CHECKPOINT', `checkpoint ${path}: ${message}`, cause === undefined ? undefined : { cause });
}

/** A file-system error in words, without a stack: 'no such file', 'permission denied', … */
export function fileProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory', ENOTDIR: 'a part of the path is not a directory', ELOOP: 'too many symbolic links', ENAMETOOLONG: 'the name is too long' };
  return (code && words[code]) ?? (e as Error).message;
}

/** Reads raw bytes of storage records. */
interface StorageSource {
  /** `byteLength` bytes of record `key` from `byteStart`. */
  read(key: string, byteStart: number, byteLength: number): Promise<Uint8Array>;
  /** Size in bytes of record `key`, or undefined when there is no such record. */
  size(key: string): number | undefined;
  /** True when record `key` is compressed (its declared size is then not backed by bytes in the file). */
  compressed(key: string): boolean;
  close(): Promise<void>;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const ZIP_EMPTY_MAGIC = [0x50, 0x4b, 0x05, 0x06];
/** The legacy magic number 0x1950a86a20f9469cfc6c as Python's LONG1 pickle bytes. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** Options for {@link openCheckpoint}. */
export interface OpenCheckpointOptions {
  /** Element limits per tensor and in total. Default {@link DEFAULT_LIMITS}. */
  limits?: Partial<CheckpointLimits>;
}

/**
 * Opens a checkpoint and lists its state dict; no tensor data is read yet. Errors are E_CHECKPOINT (empty,
 * truncated, not a checkpoint, disallowed pickle content, a view that is broadcast, overlapping, outside its
 * storage or over the element limits — naming the tensor —, no state dict found) or E_MODEL_MISSING.
 */
export async function openCheckpoint(path: string, options: OpenCheckpointOptions = {}): Promise<Checkpoint> {
  const limits: CheckpointLimits = { ...DEFAULT_LIMITS, ...options.limits };
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw new FaceRestoreError('E_MODEL_MISSING', `checkpoint ${path}: ${fileProblem(e)}`, { cause: e });
  }
  if (info.isDirectory()) fail(path, 'is a directory, not a checkpoint file');
  if (!info.isFile()) fail(path, 'is not a regular file');
  if (info.size === 0) fail(path, 'is an empty file (0 bytes), not a PyTorch checkpoint');
  let fh: FileHandle;
  try {
    fh = await openFile(path, 'r');
  } catch (e) {
    fail(path, `cannot be read: ${fileProblem(e)}`, e);
  }
  try {
    const head = new Uint8Array(16);
    await fh.read(head, 0, Math.min(16, info.size), 0);
    const isZip = ZIP_MAGIC.every((b, i) => head[i] === b) || ZIP_EMPTY_MAGIC.every((b, i) => head[i] === b);
    if (isZip) {
      await fh.close();
      return await openZip(path, limits);
    }
    if (head[0] === 0x80) return await openLegacy(path, fh, info.size, limits);
    fail(path, `is neither a zip-format nor a legacy PyTorch checkpoint (starts with bytes ${[...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`);
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

// ---------------------------------------------------------------- zip format

async function openZip(path: string, limits: CheckpointLimits): Promise<Checkpoint> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, { autoClose: false, lazyEntries: true, validateEntrySizes: true });
  } catch (e) {
    fail(path, `is not a readable zip archive (truncated or damaged?): ${(e as Error).message}`, e);
  }
  const entries = new Map<string, yauzl.Entry>();
  try {
    for await (const entry of zip.eachEntry()) entries.set(entry.fileName, entry);
  } catch (e) {
    zip.close();
    fail(path, `has a damaged zip directory: ${(e as Error).message}`, e);
  }
  const pkl = [...entries.keys()].filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (pkl.length !== 1) {
    zip.close();
    fail(path, pkl.length === 0 ? 'is a zip archive without a data.pkl record: not a PyTorch checkpoint' : `has ${pkl.length} data.pkl records`);
  }
  const prefix = pkl[0]!.slice(0, -'data.pkl'.length);
  // A deflated record is inflated once, whole (its declared size is capped against what its tensors read),
  // and kept while its tensors are read: many views of one storage would otherwise inflate it once each.
  let inflated: { key: string; data: Promise<Uint8Array> } | undefined;
  const source: StorageSource = {
    size: (key) => entries.get(`${prefix}data/${key}`)?.uncompressedSize,
    compressed: (key) => entries.get(`${prefix}data/${key}`)?.compressionMethod !== 0,
    read: async (key, byteStart, byteLength) => {
      const entry = entries.get(`${prefix}data/${key}`);
      if (!entry) fail(path, `storage record data/${key} is missing`);
      if (byteStart + byteLength > entry.uncompressedSize) fail(path, `storage record data/${key} is shorter than its tensors need`);
      if (entry.compressionMethod === 0) return readZipRecord(zip, entry, path, MAX_RECORD_BYTES, byteStart, byteStart + byteLength);
      if (inflated?.key !== key) inflated = { key, data: readZipRecord(zip, entry, path, MAX_RECORD_BYTES) };
      return (await inflated.data).slice(byteStart, byteStart + byteLength);
    },
    close: async () => {
      inflated = undefined;
      zip.close();
    },
  };
  try {
    const byteorder = entries.get(`${prefix}byteorder`);
    if (byteorder && new TextDecoder().decode(await readZipRecord(zip, byteorder, path, 64)).trim() === 'big') {
      fail(path, 'stores big-endian tensors, which this reader does not support');
    }
    const pickleBytes = await readZipRecord(zip, entries.get(pkl[0]!)!, path, MAX_PICKLE_BYTES);
    const persistentLoad = makePersistentLoad(path, undefined);
    const { value } = unpickle(pickleBytes, 0, { persistentLoad, source: `checkpoint ${path} (${pkl[0]})` });
    return makeCheckpoint(path, 'zip', value, source, limits);
  } catch (e) {
    zip.close();
    if (e instanceof PickleTruncatedError) fail(path, `${pkl[0]} is truncated or damaged: ${e.detail}`, e);
    throw e;
  }
}

/** Persistent ids `('storage', StorageClass, key, location, numel[, view_metadata])` → StorageRef. */
function makePersistentLoad(path: string, seen: Map<string, StorageRef> | undefined): (pid: PickleValue) => PickleValue {
  const cache = seen ?? new Map<string, StorageRef>();
  return (pid) => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) fail(path, 'the pickle has a persistent id that is not a storage reference');
    const dtype = storageDtypeOf(pid[1]!);
    if (!dtype) fail(path, 'a storage reference names a storage type this reader does not support');
    const key = typeof pid[2] === 'number' ? String(pid[2]) : pid[2];
    const numel = pid[4];
    if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) fail(path, `a storage key is not a plain name: ${String(key)}`);
    if (typeof numel !== 'number' || !Number.isInteger(numel) || numel < 0) fail(path, `storage ${key} has an invalid element count`);
    const location = typeof pid[3] === 'string' ? pid[3] : 'cpu';
    let ref: StorageRef = { kind: 'storage', key, dtype, numel, recordNumel: numel, elementOffset: 0, location };
    const prev = cache.get(key);
    if (prev && prev.dtype !== dtype) fail(path, `storage ${key} is used with two element types (${prev.dtype}, ${dtype})`);
    if (!prev) cache.set(key, ref);
    const view = pid[5];
    if (Array.isArray(view) && view.length === 3) {
      // Legacy view storage: (view_key, offset, size) inside the root storage `key`.
      const [, offset, size] = view;
      if (typeof offset !== 'number' || typeof size !== 'number' || !Number.isInteger(offset) || !Number.isInteger(size) || offset < 0 || size < 0 || offset + size > numel) {
        fail(path, `view of storage ${key} lies outside it`);
      }
      ref = { ...ref, elementOffset: offset, numel: size };
    }
    return ref;
  };
}

// ---------------------------------------------------------------- legacy format

async function openLegacy(path: string, fh: FileHandle, fileSize: number, limits: CheckpointLimits): Promise<Checkpoint> {
  // The header pickles are small next to the storages; read a prefix and grow it until they all decode,
  // up to MAX_PICKLE_BYTES (a forged length must not make the reader load the whole file).
  const most = Math.min(fileSize, MAX_PICKLE_BYTES);
  let window = Math.min(most, 1 << 20);
  for (;;) {
    const buf = new Uint8Array(window);
    const { bytesRead } = await fh.read(buf, 0, window, 0);
    try {
      return await parseLegacy(path, fh, fileSize, buf.subarray(0, bytesRead), limits);
    } catch (e) {
      if (e instanceof PickleTruncatedError && window < most) {
        window = Math.min(most, window * 4);
        continue;
      }
      if (e instanceof PickleTruncatedError && most < fileSize) fail(path, `the legacy checkpoint's pickled header is larger than ${MAX_PICKLE_BYTES} bytes or damaged: ${e.detail}`, e);
      if (e instanceof PickleTruncatedError) fail(path, `the legacy checkpoint ends inside its pickled header (truncated file?): ${e.detail}`, e);
      throw e;
    }
  }
}

async function parseLegacy(path: string, fh: FileHandle, fileSize: number, head: Uint8Array, limits: CheckpointLimits): Promise<Checkpoint> {
  const src = `checkpoint ${path}`;
  const magic = unpickle(head, 0, { source: src });
  if (magic.value !== LEGACY_MAGIC) fail(path, 'starts with a pickle but not with the legacy torch.save magic number: not a PyTorch checkpoint');
  const protocol = unpickle(head, magic.end, { source: src });
  if (protocol.value !== 1001) fail(path, `has legacy protocol version ${String(protocol.value)}, expected 1001`);
  const sysInfo = unpickle(head, protocol.end, { source: src });
  if (sysInfo.value instanceof PickleDict && sysInfo.value.get('little_endian') === false) fail(path, 'was saved on a big-endian machine, which this reader does not support');
  const storages = new Map<string, StorageRef>();
  const obj = unpickle(head, sysInfo.end, { source: src, persistentLoad: makePersistentLoad(path, storages) });
  const keysList = unpickle(head, obj.end, { source: src });
  if (!Array.isArray(keysList.value)) fail(path, 'the legacy storage key list is not a list');
  // Walk the storages: 8-byte little-endian element count, then the raw elements.
  const records = new Map<string, { start: number; bytes: number }>();
  let pos = keysList.end;
  const countBuf = new Uint8Array(8);
  for (const k of keysList.value) {
    const key = String(k);
    const storage = storages.get(key);
    if (!storage) fail(path, `the legacy storage list names storage ${key}, which no tensor uses`);
    const { bytesRead } = await fh.read(countBuf, 0, 8, pos);
    if (bytesRead < 8) fail(path, `the legacy checkpoint is truncated: storage ${key} is missing`);
    const count = new DataView(countBuf.buffer).getBigUint64(0, true);
    if (count > BigInt(fileSize)) fail(path, `the legacy checkpoint declares ${count} elements for storage ${key}, more than the file's ${fileSize} bytes`);
    const bytes = Number(count) * DTYPE_BYTES[storage.dtype];
    if (pos + 8 + bytes > fileSize) fail(path, `the legacy checkpoint is truncated: storage ${key} needs ${bytes} bytes at ${pos + 8}, the file has ${fileSize}`);
    records.set(key, { start: pos + 8, bytes });
    pos += 8 + bytes;
  }
  const source: StorageSource = {
    size: (key) => records.get(key)?.bytes,
    compressed: () => false,
    read: async (key, byteStart, byteLength) => {
      const rec = records.get(key);
      if (!rec) fail(path, `storage ${key} has no data in the legacy checkpoint`);
      if (byteStart + byteLength > rec.bytes) fail(path, `storage ${key} is shorter than its tensors need`);
      const out = new Uint8Array(byteLength);
      const { bytesRead } = await fh.read(out, 0, byteLength, rec.start + byteStart);
      if (bytesRead !== byteLength) fail(path, `storage ${key} is truncated`);
      return out;
    },
    close: () => fh.close(),
  };
  return makeCheckpoint(path, 'legacy', obj.value, source, limits);
}

// ---------------------------------------------------------------- common

function findStateDict(path: string, root: PickleValue): { key: string; dict: PickleDict } {
  if (!(root instanceof PickleDict)) fail(path, 'does not hold a dict (expected a state dict or {params_ema: state dict})');
  for (const key of ['params_ema', 'params', 'state_dict']) {
    const v = root.get(key);
    if (v instanceof PickleDict) return { key, dict: v };
  }
  if ([...root.values()].some((v) => isTensorRef(v))) return { key: '', dict: root };
  fail(path, `holds no state dict (top-level keys: ${[...root.keys()].slice(0, 10).map(String).join(', ') || 'none'})`);
}

function makeCheckpoint(path: string, format: 'zip' | 'legacy', root: PickleValue, source: StorageSource, limits: CheckpointLimits): Checkpoint {
  const { key, dict } = findStateDict(path, root);
  const tensors = new Map<string, CheckpointTensor>();
  let totalElements = 0;
  const used = new Map<string, number>(); // record key → last byte any tensor reads, + 1
  for (const [name, v] of dict) {
    if (!isTensorRef(v)) continue;
    const n = String(name);
    const recordBytes = source.size(v.storage.key);
    if (recordBytes === undefined) fail(path, `tensor ${n}: storage record ${v.storage.key} is missing`);
    const { numel, span } = checkTensorView(path, n, v, recordBytes, limits);
    totalElements += numel;
    if (totalElements > limits.maxTotalElements) fail(path, `tensor ${n} brings the state dict past ${limits.maxTotalElements} elements, the limit over all tensors`);
    tensors.set(n, { name: n, shape: v.shape, numel, span, dtype: v.dtype, ref: v });
    const end = numel === 0 ? 0 : (v.storage.elementOffset + v.storageOffset + span) * DTYPE_BYTES[v.dtype];
    used.set(v.storage.key, Math.max(used.get(v.storage.key) ?? 0, end));
  }
  if (tensors.size === 0) fail(path, 'has a state dict without tensors');
  // A compressed record's declared size is not backed by the file: it may be no larger than its tensors read.
  for (const [key, end] of used) {
    const declared = source.size(key)!;
    if (source.compressed(key) && declared > end) fail(path, `storage record ${key} is compressed and declares ${declared} bytes, but its tensors read only ${end}`);
  }
  return {
    path,
    format,
    stateDictKey: key,
    tensors,
    totalElements,
    read: async (name) => {
      const t = tensors.get(name);
      if (!t) fail(path, `has no tensor ${name}`);
      return readTensor(path, t, source);
    },
    close: () => source.close(),
  };
}

async function readTensor(path: string, t: CheckpointTensor, source: StorageSource): Promise<Float32Array> {
  const { ref, numel, span } = t;
  const out = new Float32Array(numel);
  if (numel === 0) return out;
  const esize = DTYPE_BYTES[ref.dtype];
  const first = ref.storage.elementOffset + ref.storageOffset;
  const raw = await source.read(ref.storage.key, first * esize, span * esize);
  const values = decode(path, t, raw, span);
  // Contiguous row-major fast path, else a strided gather.
  let contiguous = true;
  for (let i = ref.shape.length - 1, expect = 1; i >= 0; i--) {
    if (ref.shape[i] !== 1 && ref.stride[i] !== expect) contiguous = false;
    expect *= ref.shape[i]!;
  }
  if (contiguous) {
    out.set(values.subarray(0, numel));
    return out;
  }
  const dims = ref.shape.length;
  const idx = new Array<number>(dims).fill(0);
  for (let n = 0; n < numel; n++) {
    let off = 0;
    for (let i = 0; i < dims; i++) off += idx[i]! * ref.stride[i]!;
    out[n] = values[off]!;
    for (let i = dims - 1; i >= 0; i--) {
      if (++idx[i]! < ref.shape[i]!) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** Raw little-endian storage bytes → float32 values. */
function decode(path: string, t: CheckpointTensor, raw: Uint8Array, count: number): Float32Array {
  const aligned = raw.byteOffset % 8 === 0 ? raw : new Uint8Array(raw); // a copy at offset 0 (Buffer#slice would not copy)
  const buf = aligned.buffer;
  const off = aligned.byteOffset;
  switch (t.dtype) {
    case 'float32':
      return new Float32Array(buf, off, count);
    case 'float16':
      return halfToFloat(new Uint16Array(buf, off, count));
    case 'bfloat16': {
      const src = new Uint16Array(buf, off, count);
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = src[i]! << 16;
      return new Float32Array(bits.buffer);
    }
    case 'float64':
      return Float32Array.from(new Float64Array(buf, off, count));
    default:
      fail(path, `tensor ${t.name} has element type ${t.dtype}; CodeFormer weights are floating point`);
  }
}

/** sha256 and size of a file, streamed. */
export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const fh = await openFile(path, 'r');
  try {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(4 << 20);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    return { sha256: hash.digest('hex'), bytes };
  } finally {
    await fh.close();
  }
}
