/**
 * The smallest WebAssembly binary writer the classic restorer's SIMD kernels need: one memory (exported
 * as `mem`), functions with i32 parameters and no results, and the few opcodes below. Hand-written
 * because no WebAssembly toolchain is a dependency (the project has no build step) and a kernel of a few
 * dozen instructions does not justify one; the byte layout follows the WebAssembly 2.0 core spec (§5).
 */

/** Value types. */
export const T = { i32: 0x7f, v128: 0x7b } as const;

/** Opcodes used by the kernels; SIMD ones are [0xfd, opcode] (opcodes below 0x80 need one LEB128 byte). */
export const Op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br_if: (depth: number) => [0x0d, ...uleb(depth)],
  select: [0x1b],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  i32_lt_u: [0x49],
  i32_gt_u: [0x4b],
  i32_add: [0x6a],
  i32_sub: [0x6b],
  i32_mul: [0x6c],
  /** v128.load with alignment hint 1 byte and offset 0 (the kernels read at any byte offset). */
  v128_load: [0xfd, 0x00, 0x00, 0x00],
  v128_store: [0xfd, 0x0b, 0x00, 0x00],
  u8x16_min: [0xfd, 0x77],
  u8x16_max: [0xfd, 0x79],
} as const;

/** One exported function: `params` i32 parameters, extra locals by type, the body without its final `end`. */
export interface WasmFunction {
  name: string;
  params: number;
  locals: Array<{ count: number; type: number }>;
  body: number[];
}

/** The module's bytes: memory 0 of `pages` 64 KiB pages exported as `mem`, and the functions. */
export function wasmModule(functions: readonly WasmFunction[], pages: number): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vec(Array.from({ length: f.params }, () => [T.i32])), 0x00]);
  const exports = [
    ...functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]),
    [...name('mem'), 0x02, 0x00],
  ];
  const bodies = functions.map((f) => {
    const code = [...vec(f.locals.map((l) => [...uleb(l.count), l.type])), ...f.body, ...Op.end];
    return [...uleb(code.length), ...code];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(pages)]])),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}
