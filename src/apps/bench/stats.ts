/** Small statistics for the benchmark's repeated runs. */

/** Median of finite numbers (mean of the middle two for an even count); undefined for none. */
export function median(values: Array<number | undefined>): number | undefined {
  const s = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** a / b, or undefined when either is missing or b is not positive. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

type Figures = { [key: string]: number | Figures };

/**
 * The per-frame figures of a run summary, whatever it holds: every object of numbers in it (e.g.
 * `stageMs`, and any per-stage CPU object the summary gains) and every top-level number named `…Ms`,
 * divided by the frame count. Names are not hard-coded, so new per-stage figures show up as they come.
 */
export function perFrameFigures(summary: object, frames: number): Figures {
  const out: Figures = {};
  const n = Math.max(frames, 1);
  for (const [key, value] of Object.entries(summary)) {
    // Figures the summary already gives per frame (`…PerFrame`) are kept as they are, not divided again.
    if (/PerFrame$/.test(key)) {
      if (value && typeof value === 'object' && Object.values(value).every((v) => typeof v === 'number')) out[key] = { ...(value as Record<string, number>) };
      continue;
    }
    if (typeof value === 'number' && key.endsWith('Ms')) out[key] = value / n;
    else if (value && typeof value === 'object' && !Array.isArray(value)) {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length > 0 && entries.every(([, v]) => typeof v === 'number')) out[key] = Object.fromEntries(entries.map(([k, v]) => [k, (v as number) / n]));
    }
  }
  return out;
}

/** The median of every numeric leaf over objects of the same shape (e.g. the per-frame figures of each repeat). */
export function medianFigures(items: Figures[]): Figures {
  const out: Figures = {};
  const keys = new Set(items.flatMap((it) => Object.keys(it)));
  for (const key of keys) {
    const values = items.map((it) => it[key]).filter((v) => v !== undefined);
    if (values.every((v) => typeof v === 'number')) {
      const m = median(values as number[]);
      if (m !== undefined) out[key] = m;
    } else out[key] = medianFigures(values.filter((v): v is Figures => typeof v === 'object'));
  }
  return out;
}
