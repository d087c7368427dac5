// The 3×3 median as it was at commit 3ded0ef (src/restore/median3.ts), frozen for classicReference.ts.
/**
 * 3×3 median filter of each channel of a packed 8-bit image, edges replicated.
 *
 * Each pixel's window is three sorted columns: the median of the nine values is the median of (the largest
 * of the column minimums, the median of the column medians, the smallest of the column maximums). Columns
 * are sorted once per row and shared by the three windows that contain them, so a value costs about a
 * dozen branch-free min/max steps. Measured on a 512×512 RGB face crop: 11–14 ms, against 40 ms for
 * libvips' rank filter (sharp's `median(3)`), which had dominated the classic restorer's time.
 *
 * @param src packed pixels, `width × height × channels` bytes
 * @param out destination (may not be `src`); allocated when omitted
 */
export function median3x3(src: Uint8Array, width: number, height: number, channels: number, out?: Uint8Array): Uint8Array {
  const stride = width * channels;
  if (src.length !== stride * height) throw new TypeError(`Expected ${stride * height} bytes for a ${width}×${height}×${channels} image but received ${src.length}`);
  const dst = out ?? new Uint8Array(src.length);
  if (dst === src || dst.length !== src.length) throw new TypeError('median3x3 needs a separate output of the same size');
  const lo = new Uint8Array(stride);
  const mid = new Uint8Array(stride);
  const hi = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const above = (y > 0 ? y - 1 : 0) * stride;
    const row = y * stride;
    const below = (y < height - 1 ? y + 1 : y) * stride;
    for (let i = 0; i < stride; i++) {
      const a = src[above + i]!;
      const b = src[row + i]!;
      const c = src[below + i]!;
      const l = min(min(a, b), c);
      const h = max(max(a, b), c);
      lo[i] = l;
      hi[i] = h;
      mid[i] = a + b + c - l - h;
    }
    for (let i = 0; i < stride; i++) {
      const l = i >= channels ? i - channels : i;
      const r = i + channels < stride ? i + channels : i;
      const maxLo = max(max(lo[l]!, lo[i]!), lo[r]!);
      const minHi = min(min(hi[l]!, hi[i]!), hi[r]!);
      dst[row + i] = med3(maxLo, med3(mid[l]!, mid[i]!, mid[r]!), minHi);
    }
  }
  return dst;
}

// Branch-free on bytes: pixel data is too irregular for the branch predictor (a branchy version took
// 21 ms on a real face crop and 9 ms on a regular test pattern).
function min(a: number, b: number): number {
  const d = a - b;
  return b + (d & (d >> 31));
}

function max(a: number, b: number): number {
  const d = a - b;
  return a - (d & (d >> 31));
}

function med3(a: number, b: number, c: number): number {
  return max(min(a, b), min(max(a, b), c));
}
