/**
 * (Longer than ~300 lines on purpose: the opcode scanner, the allow-list and the bounded interpreter share one set of invariants — nothing runs before every global is checked, every length and count is capped — that are safest kept in one file.)
 *
 * A safe subset of Python's pickle: enough to read a PyTorch state dict, nothing that can run code.
 *
 * The bytes are first decoded into a list of opcodes without executing anything; every `GLOBAL` is checked
 * against an allow-list during that scan, so a pickle that names e.g. `os.system` is refused before a
 * single opcode runs. `STACK_GLOBAL` (protocol 4), whose names come from the stack, is checked the moment
 * it executes, before anything could call it. The allow-listed globals are data builders written here in
 * TypeScript (tensor references, ordered dicts, dtype markers): no Python semantics are reproduced.
 * Size and nesting are bounded too (opcode count, integer widths, memo indices, flat keys), so a pickle
 * can neither run code nor exhaust memory or the stack.
 *
 * Longer than most files on purpose: the opcode decoder, the stack machine and the allow-list are the
 * whole attack surface of a checkpoint's pickle, and an audit has to read them together.
 */
import { FaceRestoreError } from '../errors.ts';

/** Element types of torch storages this reader understands. */
export type StorageDtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** Bytes per element of each storage dtype. */
export const DTYPE_BYTES: Readonly<Record<StorageDtype, number>> = {
  float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

/** Allow-listed torch storage classes and their element types. */
const STORAGE_TYPES: Readonly<Record<string, StorageDtype>> = {
  'torch.FloatStorage': 'float32',
  'torch.HalfStorage': 'float16',
  'torch.BFloat16Storage': 'bfloat16',
  'torch.DoubleStorage': 'float64',
  'torch.LongStorage': 'int64',
  'torch.IntStorage': 'int32',
  'torch.ShortStorage': 'int16',
  'torch.CharStorage': 'int8',
  'torch.ByteStorage': 'uint8',
  'torch.BoolStorage': 'bool',
};

/** torch dtype objects (pickled as globals, e.g. by `_rebuild_tensor_v3`). */
const DTYPE_GLOBALS: Readonly<Record<string, StorageDtype>> = {
  'torch.float32': 'float32', 'torch.float': 'float32', 'torch.float16': 'float16', 'torch.half': 'float16',
  'torch.bfloat16': 'bfloat16', 'torch.float64': 'float64', 'torch.double': 'float64', 'torch.int64': 'int64',
  'torch.long': 'int64', 'torch.int32': 'int32', 'torch.int': 'int32', 'torch.int16': 'int16', 'torch.int8': 'int8',
  'torch.uint8': 'uint8', 'torch.bool': 'bool',
};

/** Callables and classes a state dict legitimately needs. Everything else is refused. */
const CALLABLE_GLOBALS = [
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor_v3',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._tensor._rebuild_from_type_v2',
] as const;

/** Classes that only appear as markers (never called): tensor types for `_rebuild_from_type_v2`. */
const MARKER_GLOBALS = ['torch._tensor.Tensor', 'torch.Tensor', 'torch.nn.parameter.Parameter'] as const;

/** Every global name the reader accepts, for error messages and tests. */
export const ALLOWED_GLOBALS: readonly string[] = [
  ...CALLABLE_GLOBALS, ...MARKER_GLOBALS, ...Object.keys(STORAGE_TYPES), ...Object.keys(DTYPE_GLOBALS),
];

/** A reference to a storage record, as given by the persistent id `('storage', type, key, location, numel)`. */
export interface StorageRef {
  readonly kind: 'storage';
  /** Key of the storage record (file `data/<key>` in zip checkpoints). */
  readonly key: string;
  readonly dtype: StorageDtype;
  /** Elements in the storage as declared (in this view, for legacy view storages). */
  readonly numel: number;
  /** Elements of the whole record as declared by the persistent id (equals `numel` except for legacy views). */
  readonly recordNumel: number;
  /** First element of this view within the record (legacy view storages); 0 otherwise. */
  readonly elementOffset: number;
  readonly location: string;
}

/** A tensor described by a state dict: a strided view of a storage. Data is read later, on demand. */
export interface TensorRef {
  readonly kind: 'tensor';
  readonly storage: StorageRef;
  /** Offset of element [0,…,0] within the storage, in elements. */
  readonly storageOffset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
  readonly dtype: StorageDtype;
}

/** A Python dict or OrderedDict; insertion order is kept. */
export class PickleDict extends Map<PickleKey, PickleValue> {
  /** Attributes set by BUILD (e.g. a state dict's `_metadata`); ignored by readers. */
  attrs: PickleValue = null;
}

/** A Python tuple (kept apart from lists only for clarity in debugging). */
export class PickleTuple extends Array<PickleValue> {}

export type PickleKey = string | number | bigint | boolean | null;
export type PickleValue =
  | PickleKey
  | Uint8Array
  | PickleValue[]
  | PickleDict
  | TensorRef
  | StorageRef
  | GlobalRef;

/** An allow-listed global as a value on the stack. */
export interface GlobalRef {
  readonly kind: 'global';
  readonly name: string;
}

/** Turns a persistent id tuple into an object (a StorageRef for torch checkpoints). */
export type PersistentLoader = (pid: PickleValue) => PickleValue;

/** Options for {@link unpickle}. */
export interface UnpickleOptions {
  /** Resolves BINPERSID/PERSID; absent means persistent ids are refused. */
  persistentLoad?: PersistentLoader;
  /** Name of the source for error messages (e.g. `codeformer.pth: archive/data.pkl`). */
  source?: string;
  /**
   * Most opcodes one pickle may hold. Default {@link MAX_PICKLE_OPS}. Decoded opcodes are kept in memory
   * (tens of bytes each) before anything runs, so this bounds what a pickle can make the reader allocate.
   */
  maxOps?: number;
}

/**
 * Default opcode limit: the official CodeFormer state dict's pickle has about 15,000 opcodes (515 tensors),
 * so one million leaves room for any real state dict and keeps the decoded list under about 100 MB.
 */
export const MAX_PICKLE_OPS = 1_000_000;
/** Longest integer a state dict pickle needs, in bytes (LONG1/LONG4) or digits (INT/LONG): the legacy magic is 10 bytes. */
const MAX_INT_BYTES = 64;
/** Memo indices are 32-bit in every protocol that writes them in binary. */
const MAX_MEMO_INDEX = 0xffff_ffff;

/** Result of {@link unpickle}: the object and where the pickle's STOP was (for back-to-back pickles). */
export interface UnpickleResult {
  value: PickleValue;
  /** Byte offset just after STOP. */
  end: number;
}

/** Thrown when the bytes end before STOP; legacy readers use it to fetch more of the file and retry. */
export class PickleTruncatedError extends FaceRestoreError {
  /** What ran past the end, without the source name. */
  readonly detail: string;
  constructor(source: string, what?: string) {
    const detail = what ?? 'the pickle ends before its STOP opcode (file truncated?)';
    super('E_CHECKPOINT', `${source}: ${detail}`);
    this.detail = detail;
  }
}

interface Op {
  code: number;
  arg: unknown;
  pos: number;
}

const MARK = Symbol('mark');
type StackItem = PickleValue | typeof MARK;

/**
 * Decodes one pickle starting at `start`. Refuses disallowed globals (naming them) before running anything,
 * and refuses opcodes a state dict never needs (INST, OBJ, EXT*, NEWOBJ_EX…). Errors are E_CHECKPOINT.
 */
export function unpickle(bytes: Uint8Array, start = 0, options: UnpickleOptions = {}): UnpickleResult {
  const source = options.source ?? 'pickle';
  try {
    const { ops, end } = scan(bytes, start, source, options.maxOps ?? MAX_PICKLE_OPS);
    return { value: execute(ops, source, options), end };
  } catch (e) {
    // A backstop: whatever shape a hostile pickle finds that still exhausts the engine's stack or array
    // limits is a bad checkpoint, not an internal error.
    if (e instanceof RangeError) fail(source, `the pickle is too large or too deeply nested to be a state dict (${e.message})`);
    throw e;
  }
}

function fail(source: string, message: string): never {
  throw new FaceRestoreError('E_CHECKPOINT', `${source}: ${message}`);
}

function checkGlobal(source: string, module: string, name: string): string {
  const full = `${module}.${name}`;
  if (!ALLOWED_GLOBALS.includes(full)) {
    fail(
      source,
      `the pickle refers to the Python global '${full}', which a PyTorch state dict never needs; refusing to load it ` +
        `(allowed: collections.OrderedDict, torch._utils._rebuild_*, torch.*Storage and torch dtypes)`,
    );
  }
  return full;
}

/** First pass: opcodes and their arguments, with every GLOBAL checked. Nothing is executed. */
function scan(bytes: Uint8Array, start: number, source: string, maxOps: number): { ops: Op[]; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  const ops: Op[] = [];
  let p = start;
  const need = (n: number): void => {
    if (p + n > bytes.length) {
      // A length far past the end is a forged field, not a short read; say so (legacy readers still retry).
      throw new PickleTruncatedError(source, n > 64 ? `a ${n}-byte field at byte ${p} runs past the end of the pickle (${bytes.length - start} bytes)` : undefined);
    }
  };
  const u8 = (): number => (need(1), bytes[p++]!);
  const u16 = (): number => (need(2), (p += 2), view.getUint16(p - 2, true));
  const u32 = (): number => (need(4), (p += 4), view.getUint32(p - 4, true));
  const i32 = (): number => (need(4), (p += 4), view.getInt32(p - 4, true));
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(source, `length ${v} at byte ${p - 8} is too large`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    p += n;
    return bytes.subarray(p - n, p);
  };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, p);
    if (nl < 0) throw new PickleTruncatedError(source);
    const s = latin1.decode(bytes.subarray(p, nl));
    p = nl + 1;
    return s;
  };
  const longFrom = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    if (b.length > MAX_INT_BYTES) fail(source, `a ${b.length}-byte integer at byte ${p - b.length}; a state dict never needs more than ${MAX_INT_BYTES} bytes`);
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  for (;;) {
    const pos = p;
    const code = u8();
    let arg: unknown = undefined;
    switch (code) {
      case 0x80: arg = u8(); break; // PROTO
      case 0x95: u64(); continue; // FRAME: framing is transparent to a reader that has all the bytes
      case 0x2e: ops.push({ code, arg, pos }); return { ops, end: p }; // STOP
      case 0x28: case 0x7d: case 0x5d: case 0x29: case 0x74: case 0x85: case 0x86: case 0x87: // ( } ] ) t TUPLE1-3
      case 0x6c: case 0x64: case 0x61: case 0x65: case 0x73: case 0x75: // l d a e s u
      case 0x94: case 0x4e: case 0x88: case 0x89: // MEMOIZE NONE NEWTRUE NEWFALSE
      case 0x93: case 0x52: case 0x62: case 0x81: case 0x51: // STACK_GLOBAL REDUCE BUILD NEWOBJ BINPERSID
      case 0x30: case 0x31: case 0x32: // POP POP_MARK DUP
      case 0x8f: case 0x90: // EMPTY_SET ADDITEMS
        break;
      case 0x71: case 0x68: arg = u8(); break; // BINPUT BINGET
      case 0x72: case 0x6a: arg = u32(); break; // LONG_BINPUT LONG_BINGET
      case 0x70: case 0x67: arg = memoIndex(source, line(), pos); break; // PUT GET
      case 0x4a: arg = i32(); break; // BININT
      case 0x4b: arg = u8(); break; // BININT1
      case 0x4d: arg = u16(); break; // BININT2
      case 0x49: { // INT (protocol 0; "00"/"01" are False/True)
        const s = line();
        arg = s === '00' ? false : s === '01' ? true : parseIntText(source, s);
        break;
      }
      case 0x4c: arg = parseIntText(source, line().replace(/L$/, '')); break; // LONG (text)
      case 0x8a: arg = longFrom(take(u8())); break; // LONG1
      case 0x8b: { // LONG4: the length is checked before the bytes are taken
        const n = u32();
        if (n > MAX_INT_BYTES) fail(source, `a ${n}-byte integer at byte ${pos}; a state dict never needs more than ${MAX_INT_BYTES} bytes`);
        arg = longFrom(take(n));
        break;
      }
      case 0x58: arg = utf8.decode(take(u32())); break; // BINUNICODE
      case 0x8c: arg = utf8.decode(take(u8())); break; // SHORT_BINUNICODE
      case 0x8d: arg = utf8.decode(take(u64())); break; // BINUNICODE8
      case 0x56: arg = line(); break; // UNICODE (raw-unicode-escape; ASCII in practice)
      case 0x54: arg = latin1.decode(take(u32())); break; // BINSTRING (Python 2 str)
      case 0x55: arg = latin1.decode(take(u8())); break; // SHORT_BINSTRING
      case 0x53: arg = parseQuoted(source, line()); break; // STRING
      case 0x42: arg = take(u32()).slice(); break; // BINBYTES
      case 0x43: arg = take(u8()).slice(); break; // SHORT_BINBYTES
      case 0x8e: arg = take(u64()).slice(); break; // BINBYTES8
      case 0x47: need(8); arg = view.getFloat64(p, false); p += 8; break; // BINFLOAT (big-endian)
      case 0x46: arg = Number.parseFloat(line()); break; // FLOAT
      case 0x63: { // GLOBAL: checked now, before anything runs
        const module = line();
        const name = line();
        arg = checkGlobal(source, module, name);
        break;
      }
      case 0x69: { // INST: names a class to instantiate; refused, naming the class when it is not allow-listed
        const module = line();
        const name = line();
        checkGlobal(source, module, name);
        fail(source, `unsupported pickle opcode INST (${module}.${name}) at byte ${pos}; a state dict never needs it`);
      }
      case 0x50: arg = line(); break; // PERSID
      default:
        fail(source, `unsupported pickle opcode 0x${code.toString(16).padStart(2, '0')} ('${String.fromCharCode(code)}') at byte ${pos}; a state dict never needs it`);
    }
    if (ops.length >= maxOps) fail(source, `the pickle has more than ${maxOps} opcodes; a state dict needs far fewer`);
    ops.push({ code, arg, pos });
  }
}

function memoIndex(source: string, text: string, pos: number): number {
  const s = text.trim();
  if (!/^\d{1,10}$/.test(s) || Number(s) > MAX_MEMO_INDEX) fail(source, `invalid memo index '${s.slice(0, 40)}' at byte ${pos}`);
  return Number(s);
}

function parseIntText(source: string, s: string): number | bigint {
  if (s.length > MAX_INT_BYTES) fail(source, `a ${s.length}-character integer; a state dict never needs more than ${MAX_INT_BYTES} digits`);
  if (!/^[+-]?\d+$/.test(s.trim())) fail(source, `malformed integer '${s}'`);
  const v = BigInt(s.trim());
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseQuoted(source: string, s: string): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s[s.length - 1] !== q) fail(source, `malformed STRING argument ${s}`);
  return s.slice(1, -1).replace(/\\x([0-9a-fA-F]{2})|\\(['"\\])|\\n/g, (m, hex: string, ch: string) => (hex ? String.fromCharCode(parseInt(hex, 16)) : ch ?? '\n'));
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function asIntList(source: string, v: PickleValue, what: string): number[] {
  if (!Array.isArray(v) || !v.every(isInt)) fail(source, `${what} is not a tuple of integers`);
  return v as number[];
}

function isStorage(v: PickleValue): v is StorageRef {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof Uint8Array) && (v as StorageRef).kind === 'storage';
}

function isGlobal(v: PickleValue | undefined): v is GlobalRef {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof Uint8Array) && (v as GlobalRef).kind === 'global';
}

/**
 * Builds a TensorRef from `_rebuild_tensor*` arguments, checking only their types here: the view's bounds
 * (stride 0, overlap, fitting its storage, element limits) are checked by the checkpoint reader, which
 * knows the tensor's name.
 */
function makeTensor(source: string, storage: PickleValue, offset: PickleValue, size: PickleValue, stride: PickleValue): TensorRef {
  if (!isStorage(storage)) fail(source, 'a tensor is rebuilt from something that is not a storage');
  if (!isInt(offset) || offset < 0) fail(source, `a tensor has an invalid storage offset ${String(offset)}`);
  const shape = asIntList(source, size, 'a tensor size');
  const strides = asIntList(source, stride, 'a tensor stride');
  if (shape.length !== strides.length) fail(source, `a tensor has ${shape.length} sizes but ${strides.length} strides`);
  if (shape.length > 16) fail(source, `a tensor has ${shape.length} dimensions; CodeFormer's have at most 4`);
  if (shape.some((d) => d < 0) || strides.some((s) => s < 0)) fail(source, 'a tensor has a negative size or stride');
  return { kind: 'tensor', storage, storageOffset: offset, shape, stride: strides, dtype: storage.dtype };
}

/** Runs an allow-listed callable. */
function call(source: string, fn: GlobalRef, args: PickleValue[]): PickleValue {
  switch (fn.name) {
    case 'collections.OrderedDict': {
      const d = new PickleDict();
      const items = args[0];
      if (Array.isArray(items)) {
        for (const it of items) {
          if (!Array.isArray(it) || it.length !== 2) fail(source, 'OrderedDict items are not pairs');
          d.set(toKey(source, it[0]!), it[1]!);
        }
      }
      return d;
    }
    case 'torch._utils._rebuild_tensor':
    case 'torch._utils._rebuild_tensor_v2':
    case 'torch._utils._rebuild_tensor_v3': {
      if (args.length < 4) fail(source, `${fn.name} called with ${args.length} arguments`);
      const t = makeTensor(source, args[0]!, args[1]!, args[2]!, args[3]!);
      if (fn.name === 'torch._utils._rebuild_tensor_v3' && isGlobal(args[6]) && DTYPE_GLOBALS[args[6].name] !== t.dtype) {
        fail(source, `${fn.name}: dtype ${args[6].name} does not match its storage (${t.dtype})`);
      }
      return t;
    }
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      return args[0] ?? null;
    case 'torch._tensor._rebuild_from_type_v2': {
      const [inner, type, innerArgs] = args;
      if (!isGlobal(inner) || !(CALLABLE_GLOBALS as readonly string[]).includes(inner.name) || inner.name.startsWith('collections.')) {
        fail(source, '_rebuild_from_type_v2 with a function that is not a tensor rebuild');
      }
      if (!isGlobal(type) || !(MARKER_GLOBALS as readonly string[]).includes(type.name)) fail(source, '_rebuild_from_type_v2 with a type that is not a tensor type');
      if (!Array.isArray(innerArgs)) fail(source, '_rebuild_from_type_v2 without an argument tuple');
      return call(source, inner, innerArgs);
    }
    default:
      fail(source, `the global '${fn.name}' is a marker, not something a state dict calls`);
  }
}

function isScalarKey(v: PickleValue): v is PickleKey {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean';
}

/** A dict key: a scalar, or a flat tuple of scalars (nested keys are refused, so no key needs recursion). */
function toKey(source: string, v: PickleValue): PickleKey {
  if (isScalarKey(v)) return v;
  if (Array.isArray(v) && v.every(isScalarKey)) return JSON.stringify(v.map((x) => (typeof x === 'bigint' ? x.toString() : x)));
  fail(source, Array.isArray(v) ? 'a dict key is a nested tuple; a state dict has string keys' : 'a dict key is not a string, number or tuple');
}

/** Second pass: a stack machine over the decoded opcodes. */
function execute(ops: readonly Op[], source: string, options: UnpickleOptions): PickleValue {
  const stack: StackItem[] = [];
  const memo = new Map<number, PickleValue>();
  const pop = (): PickleValue => {
    if (stack.length === 0) fail(source, 'pickle stack underflow');
    const v = stack.pop()!;
    if (v === MARK) fail(source, 'unexpected MARK on the pickle stack');
    return v;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail(source, 'pickle stack underflow');
    return v;
  };
  const popMark = (): PickleValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail(source, 'pickle MARK missing');
    const items = stack.splice(i) as PickleValue[];
    items.shift();
    return items;
  };
  const tuple = (items: PickleValue[]): PickleValue[] => PickleTuple.from(items) as PickleValue[];
  const setItems = (d: PickleValue, kv: PickleValue[]): void => {
    if (!(d instanceof PickleDict)) fail(source, 'SETITEM on something that is not a dict');
    for (let i = 0; i + 1 < kv.length; i += 2) d.set(toKey(source, kv[i]!), kv[i + 1]!);
  };
  const persistent = (pid: PickleValue): PickleValue => {
    if (!options.persistentLoad) fail(source, 'the pickle uses persistent ids, which this reader does not expect here');
    return options.persistentLoad(pid);
  };
  for (const op of ops) {
    switch (op.code) {
      case 0x80: break;
      case 0x2e: return pop();
      case 0x28: stack.push(MARK); break;
      case 0x7d: stack.push(new PickleDict()); break;
      case 0x5d: stack.push([]); break;
      case 0x29: stack.push(tuple([])); break;
      case 0x8f: stack.push([]); break; // EMPTY_SET as a list
      case 0x74: stack.push(tuple(popMark())); break;
      case 0x85: stack.push(tuple([pop()])); break;
      case 0x86: { const b = pop(); const a = pop(); stack.push(tuple([a, b])); break; }
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(tuple([a, b, c])); break; }
      case 0x6c: stack.push(popMark()); break;
      case 0x64: { const d = new PickleDict(); setItems(d, popMark()); stack.push(d); break; }
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) fail(source, 'APPEND to a non-list'); l.push(v); break; }
      case 0x65: case 0x90: { // a loop, not push(...items): a spread of millions of items overflows the stack
        const items = popMark();
        const l = top();
        if (!Array.isArray(l)) fail(source, 'APPENDS to a non-list');
        for (const it of items) l.push(it);
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; }
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; }
      case 0x71: case 0x72: case 0x70: memo.set(op.arg as number, top()); break;
      case 0x94: memo.set(memo.size, top()); break;
      case 0x68: case 0x6a: case 0x67: {
        if (!memo.has(op.arg as number)) fail(source, `pickle memo ${String(op.arg)} read before it was written`);
        stack.push(memo.get(op.arg as number)!);
        break;
      }
      case 0x4e: stack.push(null); break;
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x63: stack.push(globalValue(op.arg as string)); break;
      case 0x93: {
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail(source, 'STACK_GLOBAL without module and name strings');
        stack.push(globalValue(checkGlobal(source, module, name)));
        break;
      }
      case 0x52: {
        const args = pop();
        const fn = pop();
        if (!isGlobal(fn)) fail(source, 'REDUCE on something that is not an allowed global');
        if (!Array.isArray(args)) fail(source, `REDUCE ${fn.name} without an argument tuple`);
        stack.push(call(source, fn, args));
        break;
      }
      case 0x81: { // NEWOBJ: only OrderedDict is constructible this way
        const args = pop();
        const cls = pop();
        if (!isGlobal(cls) || cls.name !== 'collections.OrderedDict' || !Array.isArray(args)) fail(source, 'NEWOBJ of a class a state dict does not need');
        stack.push(call(source, cls, args));
        break;
      }
      case 0x62: { // BUILD: keep the state as inert attributes
        const state = pop();
        const obj = top();
        if (obj instanceof PickleDict) obj.attrs = state;
        break;
      }
      case 0x51: stack.push(persistent(pop())); break;
      case 0x50: stack.push(persistent(op.arg as string)); break;
      case 0x30: if (stack.pop() === undefined) fail(source, 'pickle stack underflow'); break;
      case 0x31: popMark(); break;
      case 0x32: stack.push(top()); break;
      default: stack.push(op.arg as PickleValue); break; // literals: ints, floats, strings, bytes
    }
  }
  fail(source, 'the pickle has no STOP opcode');
}

function globalValue(name: string): PickleValue {
  return { kind: 'global', name };
}

/** The storage dtype of an allow-listed storage-class global, or undefined. */
export function storageDtypeOf(v: PickleValue): StorageDtype | undefined {
  return isGlobal(v) ? STORAGE_TYPES[v.name] : undefined;
}

/** True when a pickle value is a TensorRef. */
export function isTensorRef(v: PickleValue | undefined): v is TensorRef {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof Uint8Array) && (v as TensorRef).kind === 'tensor';
}
