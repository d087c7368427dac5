import { readFileSync } from 'node:fs';

/** Largest |a[offset + i] − b[i]| over b; a NaN anywhere makes it Infinity, so a broken output cannot pass. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>, offset = 0): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[offset + i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** A fixture's `keys-official.txt`-style list (`name<TAB>[shape]` per line) as name → shape. */
export function readKeyShapes(file: string): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const [name, shape] = line.split('\t');
    m.set(name!, JSON.parse(shape!) as number[]);
  }
  return m;
}

/** A little-endian float32 file (a fixture's saved PyTorch tensor) as a Float32Array. */
export function readF32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
