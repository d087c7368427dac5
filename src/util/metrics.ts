/**
 * A small Prometheus registry: counters, gauges and histograms with labels, written in the text
 * exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * Why not prom-client: the issue asks for it, but no npm registry was reachable in the session that
 * wrote this, so it could not be added. This file covers what the services need (no summaries, no
 * default process metrics); swapping in prom-client later only changes this module.
 *
 * One `MetricsRegistry` per application instance (no global default registry): two servers in one
 * process (tests) never share counters.
 */

export type Labels = Readonly<Record<string, string | number>>;

/** Content type of the 0.0.4 text format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Escapes a HELP text: backslash and newline. */
export function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A sample value as the format writes it: `+Inf`, `-Inf`, `NaN`, or a JavaScript number. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i]!)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

abstract class Metric<S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected readonly series = new Map<string, { values: string[]; state: S }>();

  constructor(o: MetricOptions) {
    if (!NAME_RE.test(o.name)) throw new TypeError(`Expected a metric name matching ${NAME_RE} for name but received ${JSON.stringify(o.name)}`);
    for (const l of o.labelNames ?? []) {
      if (!LABEL_RE.test(l) || l.startsWith('__')) throw new TypeError(`Expected a label name matching ${LABEL_RE} (not starting "__") for labelNames of ${o.name} but received ${JSON.stringify(l)}`);
    }
    if (new Set(o.labelNames ?? []).size !== (o.labelNames ?? []).length) throw new TypeError(`Expected distinct labelNames for ${o.name}`);
    this.name = o.name;
    this.help = o.help;
    this.labelNames = [...(o.labelNames ?? [])];
  }

  protected abstract initial(): S;

  protected stateFor(labels: Labels | undefined): S {
    const given = labels ?? {};
    for (const k of Object.keys(given)) {
      if (!this.labelNames.includes(k)) throw new TypeError(`Expected labels among [${this.labelNames.join(', ')}] for ${this.name} but received ${JSON.stringify(k)}`);
    }
    const values = this.labelNames.map((n) => {
      const v = given[n];
      if (v === undefined) throw new TypeError(`Expected a value for label ${n} of ${this.name}`);
      return String(v);
    });
    const key = JSON.stringify(values);
    let s = this.series.get(key);
    if (!s) {
      s = { values, state: this.initial() };
      this.series.set(key, s);
    }
    return s.state;
  }

  protected abstract sampleLines(values: readonly string[], state: S): string[];

  /** HELP, TYPE and the samples, series in the order first seen. */
  expose(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    if (this.series.size === 0 && this.labelNames.length === 0) this.stateFor(undefined);
    for (const { values, state } of this.series.values()) lines.push(...this.sampleLines(values, state));
    return lines.join('\n') + '\n';
  }
}

/** A value that only goes up. */
export class Counter extends Metric<{ v: number }> {
  readonly type = 'counter';
  protected initial() {
    return { v: 0 };
  }
  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw new TypeError(`Expected a finite non-negative increment for ${this.name} but received ${by}`);
    this.stateFor(labels).v += by;
  }
  get(labels?: Labels): number {
    return this.stateFor(labels).v;
  }
  protected sampleLines(values: readonly string[], s: { v: number }): string[] {
    return [`${this.name}${labelText(this.labelNames, values)} ${formatValue(s.v)}`];
  }
}

/** A value that goes up and down; `collect` (when given) sets it right before each exposition. */
export class Gauge extends Metric<{ v: number }> {
  readonly type = 'gauge';
  protected initial() {
    return { v: 0 };
  }
  set(v: number, labels?: Labels): void {
    this.stateFor(labels).v = v;
  }
  inc(labels?: Labels, by = 1): void {
    this.stateFor(labels).v += by;
  }
  dec(labels?: Labels, by = 1): void {
    this.stateFor(labels).v -= by;
  }
  get(labels?: Labels): number {
    return this.stateFor(labels).v;
  }
  protected sampleLines(values: readonly string[], s: { v: number }): string[] {
    return [`${this.name}${labelText(this.labelNames, values)} ${formatValue(s.v)}`];
  }
}

interface HistState {
  counts: number[];
  sum: number;
  count: number;
}

/** Cumulative buckets (`le`), `_sum` and `_count`. */
export class Histogram extends Metric<HistState> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];
  constructor(o: MetricOptions & { buckets: readonly number[] }) {
    super(o);
    if (this.labelNames.includes('le')) throw new TypeError(`Expected no "le" label for histogram ${o.name}`);
    const b = [...o.buckets].filter((x) => x !== Infinity);
    for (let i = 0; i < b.length; i++) {
      if (!Number.isFinite(b[i]!) || (i > 0 && b[i]! <= b[i - 1]!)) throw new TypeError(`Expected increasing finite buckets for ${o.name} but received [${o.buckets.join(', ')}]`);
    }
    this.buckets = b;
  }
  protected initial(): HistState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }
  observe(v: number, labels?: Labels): void {
    const s = this.stateFor(labels);
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }
  count(labels?: Labels): number {
    return this.stateFor(labels).count;
  }
  protected sampleLines(values: readonly string[], s: HistState): string[] {
    const out = this.buckets.map((b, i) => `${this.name}_bucket${labelText(this.labelNames, values, ['le', formatValue(b)])} ${s.counts[i]}`);
    out.push(`${this.name}_bucket${labelText(this.labelNames, values, ['le', '+Inf'])} ${s.count}`);
    out.push(`${this.name}_sum${labelText(this.labelNames, values)} ${formatValue(s.sum)}`);
    out.push(`${this.name}_count${labelText(this.labelNames, values)} ${s.count}`);
    return out;
  }
}

/** Metrics of one application instance, exposed together. */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Metric<unknown>>();
  readonly #collectors: Array<() => void | Promise<void>> = [];

  #add<M extends Metric<any>>(m: M): M {
    if (this.#metrics.has(m.name)) throw new TypeError(`Expected a new metric name but ${m.name} is already registered`);
    this.#metrics.set(m.name, m as Metric<unknown>);
    return m;
  }
  counter(o: MetricOptions): Counter {
    return this.#add(new Counter(o));
  }
  gauge(o: MetricOptions): Gauge {
    return this.#add(new Gauge(o));
  }
  histogram(o: MetricOptions & { buckets: readonly number[] }): Histogram {
    return this.#add(new Histogram(o));
  }
  /** Runs before each exposition (e.g. reads the queue depth into a gauge). A failing collector fails `expose`. */
  onCollect(f: () => void | Promise<void>): void {
    this.#collectors.push(f);
  }
  /** The whole registry in text format 0.0.4, metrics in registration order. */
  async expose(): Promise<string> {
    for (const c of this.#collectors) await c();
    return [...this.#metrics.values()].map((m) => m.expose()).join('');
  }
}

/** Latency buckets in seconds (1 ms … 10 s). */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** Batch-size buckets (faces per restore call). */
export const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64] as const;

/** One parsed sample of the text format (for tests and the smoke script). */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses exposition text into samples; throws on a line that is not a comment, blank or a sample. */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
    let lm: RegExpExecArray | null;
    let at = 0;
    while (at < body.length && (lm = re.exec(body))) {
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      at = re.lastIndex;
    }
    if (at !== body.length) throw new Error(`malformed labels: ${JSON.stringify(line)}`);
    const v = m[4]!;
    out.push({ name: m[1]!, labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return out;
}
