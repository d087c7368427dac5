/**
 * The smallest WebAssembly binary writer the classic restorer's SIMD kernels need: one memory (exported
 * as `mem`), functions with i32 parameters and no results, and the few opcodes below. Hand-written
 * because no WebAssembly toolchain is a dependency (the project has no build step) and a kernel of a few
 * dozen instructions does not justify one; the byte layout follows the WebAssembly 2.0 core spec (§5).
 */

/** Value types. */
export const T = { i32: 0x7f, f32: 0x7d, v128: 0x7b } as const;

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
  f32: (v: number) => {
    const b = new DataView(new ArrayBuffer(4));
    b.setFloat32(0, v, true);
    return [0x43, ...new Uint8Array(b.buffer)];
  },
  i32_lt_u: [0x49],
  i32_gt_u: [0x4b],
  i32_add: [0x6a],
  i32_sub: [0x6b],
  i32_mul: [0x6c],
  /** v128.load with alignment hint 1 byte and offset 0 (the kernels read at any byte offset). */
  v128_load: [0xfd, 0x00, 0x00, 0x00],
  /** v128.load at a constant byte offset from the address on the stack. */
  v128_load_at: (offset: number) => [0xfd, 0x00, 0x00, ...uleb(offset)],
  v128_store: [0xfd, 0x0b, 0x00, 0x00],
  v128_and: [0xfd, 0x4e],
  i8x16_splat: [0xfd, 0x0f],
  i16x8_splat: [0xfd, 0x10],
  u8x16_min: [0xfd, 0x77],
  u8x16_max: [0xfd, 0x79],
  /** i8x16.narrow_i16x8_u: two i16x8 to one u8x16, saturating. */
  u8x16_narrow: [0xfd, 0x66],
  i16x8_add: [0xfd, ...uleb(0x8e)],
  i16x8_shr_u: [0xfd, ...uleb(0x8d)],
  /** i16x8.extmul_low_i8x16_u / _high_: products of the low / high eight unsigned bytes as 16-bit lanes. */
  u16x8_extmul_low: [0xfd, ...uleb(0x9e)],
  u16x8_extmul_high: [0xfd, ...uleb(0x9f)],
  i32_load: [0x28, 0x02, 0x00],
  f32_load: [0x2a, 0x02, 0x00],
  /** i16x8.extend_{low,high}_i8x16_u and i32x4.extend_{low,high}_i16x8_u: zero-extend half the lanes. */
  u16x8_extend_low: [0xfd, ...uleb(0x89)],
  u16x8_extend_high: [0xfd, ...uleb(0x8a)],
  u32x4_extend_low: [0xfd, ...uleb(0xa9)],
  u32x4_extend_high: [0xfd, ...uleb(0xaa)],
  /** i16x8.narrow_i32x4_s: two i32x4 to one i16x8, saturating. */
  i16x8_narrow: [0xfd, ...uleb(0x85)],
  f32x4_splat: [0xfd, 0x13],
  f32x4_add: [0xfd, ...uleb(0xe4)],
  f32x4_sub: [0xfd, ...uleb(0xe5)],
  f32x4_mul: [0xfd, ...uleb(0xe6)],
  f32x4_from_u32: [0xfd, ...uleb(0xfb)],
  /** i32x4.trunc_sat_f32x4_s: towards zero, saturating. */
  i32x4_trunc_f32: [0xfd, ...uleb(0xf8)],
} as const;

/** One exported function: parameter types (a number: that many i32), extra locals by type, the body without its final `end`. */
export interface WasmFunction {
  name: string;
  params: number | number[];
  locals: Array<{ count: number; type: number }>;
  body: number[];
}

/** The module's bytes: memory 0 of `pages` 64 KiB pages exported as `mem`, and the functions. */
export function wasmModule(functions: readonly WasmFunction[], pages: number): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vec((typeof f.params === 'number' ? Array.from({ length: f.params }, () => T.i32) : f.params).map((t) => [t])), 0x00]);
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
