/**
 * Minimum-cost assignment (Hungarian algorithm, Jonker–Volgenant style shortest augmenting paths,
 * O(n²·m)) for a rows × cols cost matrix. Entries ≥ `forbidden` (or non-finite) are never assigned.
 * Returns, for each row, the assigned column or -1.
 */
export function assignMinCost(cost: readonly (readonly number[])[], forbidden = 1e6): number[] {
  const rows = cost.length;
  const cols = rows === 0 ? 0 : cost[0]!.length;
  if (rows === 0 || cols === 0) return new Array<number>(rows).fill(-1);
  // Square matrix of size n; padding and forbidden pairs cost `big`, stripped afterwards.
  const n = Math.max(rows, cols);
  const big = forbidden;
  const c = (i: number, j: number): number => {
    if (i >= rows || j >= cols) return big;
    const v = cost[i]![j]!;
    return Number.isFinite(v) && v < big ? v : big;
  };
  // Potentials u (rows), v (cols); p[j] = row matched to column j (1-based, 0 = none).
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const p = new Int32Array(n + 1);
  const way = new Int32Array(n + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Float64Array(n + 1).fill(Infinity);
    const used = new Uint8Array(n + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = c(i0 - 1, j - 1) - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[p[j]!]! += delta;
          v[j]! -= delta;
        } else {
          minv[j]! -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const result = new Array<number>(rows).fill(-1);
  for (let j = 1; j <= n; j++) {
    const i = p[j]! - 1;
    if (i < rows && j - 1 < cols && c(i, j - 1) < big) result[i] = j - 1;
  }
  return result;
}
