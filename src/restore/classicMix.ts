import { Op, T, wasmModule } from './wasmModule.ts';

/**
 * The classic restorer's final per-pixel pass in WebAssembly SIMD (four float32 lanes):
 * out = round(kIn·in + kD·d − kSoft·soft − kLow·low), low = the `scale`² image blown up bilinearly
 * (pixel centres aligned, edges clamped), clamped to 0…255. Measured on a 512 crop on the 2-core dev
 * machine under load (load average ~20): 9.3 ms CPU for the scalar JS pass (float64), 2.1–2.5 ms for this
 * one (copying the three inputs into its memory included).
 *
 * Rounding: the JS pass works in float64 and blows `low` up vertically then horizontally; this one works in
 * float32 and goes horizontally first (24 rows once per crop, then one vertical blend per output row, which
 * is what vectorises). Both are the same sum; results differ only where it lies within ~1e-4 of a half
 * level, by one level, in a handful of bytes per crop (classicRestorer.test.ts counts them).
 */
export class ClassicMix {
  readonly #size: number;
  readonly #scale: number;
  readonly #run: (kIn: number, kD: number, kSoft: number, kLow: number) => void;
  readonly #mem: Uint8Array;
  readonly #low: Float32Array;
  readonly #tapFrom: Int32Array;
  readonly #tapTo: Int32Array;
  readonly #tapFrac: Float32Array;

  private constructor(size: number, scale: number, exports: WebAssembly.Exports, taps: { index: Int32Array; frac: Float32Array }) {
    this.#size = size;
    this.#scale = scale;
    this.#run = exports.mix as (kIn: number, kD: number, kSoft: number, kLow: number) => void;
    const buffer = (exports.mem as WebAssembly.Memory).buffer;
    const bytes = size * size * 3;
    this.#mem = new Uint8Array(buffer);
    this.#low = new Float32Array(buffer, 4 * bytes, scale * size * 3);
    // Byte k of an output row samples the small row between bytes tapFrom[k] and tapTo[k] at tapFrac[k].
    const rowBytes = size * 3;
    this.#tapFrom = new Int32Array(rowBytes);
    this.#tapTo = new Int32Array(rowBytes);
    this.#tapFrac = new Float32Array(rowBytes);
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        const k = x * 3 + c;
        this.#tapFrom[k] = taps.index[x]! * 3 + c;
        this.#tapTo[k] = this.#tapFrom[k]! + (taps.index[x]! + 1 < scale ? 3 : 0);
        this.#tapFrac[k] = taps.frac[x]!;
      }
    }
    // Per output row: byte offsets of its two blended rows of the horizontally blown-up image, and the weight.
    const tables = new DataView(buffer, 4 * bytes + 4 * scale * rowBytes, 12 * size);
    for (let y = 0; y < size; y++) {
      const r0 = taps.index[y]!;
      const r1 = Math.min(r0 + 1, scale - 1);
      tables.setInt32(4 * y, 4 * bytes + 4 * r0 * rowBytes, true);
      tables.setInt32(4 * (size + y), 4 * bytes + 4 * r1 * rowBytes, true);
      tables.setFloat32(4 * (2 * size + y), taps.frac[y]!, true);
    }
  }

  /**
   * A pass for `size`² RGB crops and a `scale`² low-pass image, given the bilinear taps from `scale` to
   * `size` positions; undefined without WebAssembly SIMD.
   */
  static create(size: number, scale: number, taps: { index: Int32Array; frac: Float32Array }): ClassicMix | undefined {
    const rowBytes = size * 3;
    if (rowBytes % 16 !== 0 || typeof WebAssembly !== 'object') return undefined;
    const bytes = size * rowBytes;
    const end = 4 * bytes + 4 * scale * rowBytes + 12 * size;
    const module = mixModule(size, scale, Math.ceil(end / 65536));
    if (!WebAssembly.validate(module)) return undefined;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(module), {});
    return new ClassicMix(size, scale, instance.exports, taps);
  }

  /** Writes the mix of `crop`, `denoised`, `soft` (size² × 3 bytes) and `small` (scale² × 3) with the four weights into `out`. */
  run(crop: Uint8Array, denoised: Uint8Array, soft: Uint8Array, small: Uint8Array, k: { kIn: number; kD: number; kSoft: number; kLow: number }, out: Uint8Array): void {
    const bytes = this.#size * this.#size * 3;
    const mem = this.#mem;
    mem.set(crop, 0);
    mem.set(denoised, bytes);
    mem.set(soft, 2 * bytes);
    // The small image's rows blown up horizontally (scale × size × 3 values, once per crop).
    const rowBytes = this.#size * 3;
    const S3 = this.#scale * 3;
    const low = this.#low, from = this.#tapFrom, to = this.#tapTo, frac = this.#tapFrac;
    for (let j = 0; j < this.#scale; j++) {
      const src = j * S3;
      const dst = j * rowBytes;
      for (let i = 0; i < rowBytes; i++) {
        const a = small[src + from[i]!]!;
        low[dst + i] = a + (small[src + to[i]!]! - a) * frac[i]!;
      }
    }
    this.#run(k.kIn, k.kD, k.kSoft, k.kLow);
    out.set(mem.subarray(3 * bytes, 4 * bytes));
  }
}

/**
 * mix(kIn, kD, kSoft, kLow): for each output row y, 16 bytes a step: the three inputs widened to four
 * float32x4 each, low = L0 + (L1 − L0)·fy from the row tables, the weighted sum + 0.5 truncated, then
 * narrowed with saturation (which is the clamp to 0…255) and stored. Memory: crop, denoised, soft, out
 * (`bytes` each), the blown-up rows (scale × rowBytes float32), the row tables (size × {i32, i32, f32}).
 */
function mixModule(size: number, scale: number, pages: number): Uint8Array<ArrayBuffer> {
  const { get, set, tee } = Op;
  const rowBytes = size * 3;
  const bytes = size * rowBytes;
  const tableBase = 4 * bytes + 4 * scale * rowBytes;
  const [kIn, kD, kSoft, kLow] = [0, 1, 2, 3];
  const [y, k, rowOff, h0, h1, k4] = [4, 5, 6, 7, 8, 9];
  const [vIn, vD, vSoft, vLow, vFy, half, cb, db, sb, i0, i1, i2, i3] = Array.from({ length: 13 }, (_, n) => 10 + n) as number[];
  const widen = (v: number, q: number): number[] => [
    ...get(v), ...(q < 2 ? Op.u16x8_extend_low : Op.u16x8_extend_high), ...(q % 2 === 0 ? Op.u32x4_extend_low : Op.u32x4_extend_high), ...Op.f32x4_from_u32,
  ];
  const lowAt = (row: number, q: number): number[] => [...get(row), ...get(k4), ...Op.i32_add, ...Op.v128_load_at(16 * q)];
  const lane = (q: number, out: number): number[] => [
    ...get(vIn!), ...widen(cb!, q), ...Op.f32x4_mul,
    ...get(vD!), ...widen(db!, q), ...Op.f32x4_mul, ...Op.f32x4_add,
    ...get(vSoft!), ...widen(sb!, q), ...Op.f32x4_mul, ...Op.f32x4_sub,
    ...get(vLow!),
    ...lowAt(h0, q), ...lowAt(h1, q), ...lowAt(h0, q), ...Op.f32x4_sub, ...get(vFy!), ...Op.f32x4_mul, ...Op.f32x4_add,
    ...Op.f32x4_mul, ...Op.f32x4_sub,
    ...get(half!), ...Op.f32x4_add, ...Op.i32x4_trunc_f32, ...set(out),
  ];
  const body = [
    ...get(kIn), ...Op.f32x4_splat, ...set(vIn!),
    ...get(kD), ...Op.f32x4_splat, ...set(vD!),
    ...get(kSoft), ...Op.f32x4_splat, ...set(vSoft!),
    ...get(kLow), ...Op.f32x4_splat, ...set(vLow!),
    ...Op.f32(0.5), ...Op.f32x4_splat, ...set(half!),
    ...Op.i32(0), ...set(y),
    ...Op.loop,
    ...get(y), ...Op.i32(rowBytes), ...Op.i32_mul, ...set(rowOff),
    ...get(y), ...Op.i32(4), ...Op.i32_mul, ...Op.i32(tableBase), ...Op.i32_add, ...Op.i32_load, ...set(h0),
    ...get(y), ...Op.i32(4), ...Op.i32_mul, ...Op.i32(tableBase + 4 * size), ...Op.i32_add, ...Op.i32_load, ...set(h1),
    ...get(y), ...Op.i32(4), ...Op.i32_mul, ...Op.i32(tableBase + 8 * size), ...Op.i32_add, ...Op.f32_load, ...Op.f32x4_splat, ...set(vFy!),
    ...Op.i32(0), ...set(k),
    ...Op.loop,
    ...get(k), ...Op.i32(4), ...Op.i32_mul, ...set(k4),
    ...get(rowOff), ...get(k), ...Op.i32_add, ...Op.v128_load_at(0), ...set(cb!),
    ...get(rowOff), ...get(k), ...Op.i32_add, ...Op.v128_load_at(bytes), ...set(db!),
    ...get(rowOff), ...get(k), ...Op.i32_add, ...Op.v128_load_at(2 * bytes), ...set(sb!),
    ...lane(0, i0!), ...lane(1, i1!), ...lane(2, i2!), ...lane(3, i3!),
    ...get(rowOff), ...get(k), ...Op.i32_add, ...Op.i32(3 * bytes), ...Op.i32_add,
    ...get(i0!), ...get(i1!), ...Op.i16x8_narrow, ...get(i2!), ...get(i3!), ...Op.i16x8_narrow, ...Op.u8x16_narrow,
    ...Op.v128_store,
    ...get(k), ...Op.i32(16), ...Op.i32_add, ...tee(k), ...Op.i32(rowBytes), ...Op.i32_lt_u, ...Op.br_if(0),
    ...Op.end,
    ...get(y), ...Op.i32(1), ...Op.i32_add, ...tee(y), ...Op.i32(size), ...Op.i32_lt_u, ...Op.br_if(0),
    ...Op.end,
  ];
  return wasmModule([{ name: 'mix', params: [T.f32, T.f32, T.f32, T.f32], locals: [{ count: 6, type: T.i32 }, { count: 13, type: T.v128 }], body }], pages);
}
