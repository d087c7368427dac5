/**
 * The 3×3 median by its definition: sort the nine values of each edge-replicated window and take the
 * fifth. Slow and obviously right: the oracle for the fast paths in src/restore/median3.ts.
 */
export function median3x3(src: Uint8Array, w: number, h: number, ch: number): Uint8Array {
  const out = new Uint8Array(src.length);
  const window = new Uint8Array(9);
  const at = (x: number, y: number, c: number) => src[(Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))) * ch + c]!;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < ch; c++) {
        let k = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) window[k++] = at(x + dx, y + dy, c);
        out[(y * w + x) * ch + c] = window.sort()[4]!;
      }
    }
  }
  return out;
}
