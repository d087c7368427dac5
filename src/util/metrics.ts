/**
 * Prometheus metrics on prom-client: counters, gauges and histograms with labels, exposed in the text format
 * 0.0.4. One `MetricsRegistry` per application instance, each with its own prom-client `Registry` (never the
 * global default one): two servers in one process (tests) never share counters.
 *
 * This module is the only importer of prom-client. It keeps the project's small API (labels first, a
 * registry-level `onCollect`) and checks labels strictly (every declared label, nothing else), which
 * prom-client alone does not; storage and the exposition text are prom-client's.
 */
import promClient from 'prom-client';

export type Labels = Readonly<Record<string, string | number>>;

/** Content type of the 0.0.4 text format (prom-client's). */
export const METRICS_CONTENT_TYPE: string = promClient.Registry.PROMETHEUS_CONTENT_TYPE;

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

function checkOptions(o: MetricOptions): string[] {
  if (!NAME_RE.test(o.name)) throw new TypeError(`Expected a metric name matching ${NAME_RE} for name but received ${JSON.stringify(o.name)}`);
  if (typeof o.help !== 'string' || o.help === '') throw new TypeError(`Expected a non-empty help text for ${o.name} but received ${JSON.stringify(o.help)}`);
  const names = [...(o.labelNames ?? [])];
  for (const l of names) {
    if (!LABEL_RE.test(l) || l.startsWith('__')) throw new TypeError(`Expected a label name matching ${LABEL_RE} (not starting "__") for labelNames of ${o.name} but received ${JSON.stringify(l)}`);
  }
  if (new Set(names).size !== names.length) throw new TypeError(`Expected distinct labelNames for ${o.name}`);
  return names;
}

/** The labels as prom-client takes them, after checking they are exactly the declared ones. */
function labelsFor(name: string, labelNames: readonly string[], labels: Labels | undefined): Record<string, string> {
  const given = labels ?? {};
  for (const k of Object.keys(given)) {
    if (!labelNames.includes(k)) throw new TypeError(`Expected labels among [${labelNames.join(', ')}] for ${name} but received ${JSON.stringify(k)}`);
  }
  const out: Record<string, string> = {};
  for (const n of labelNames) {
    const v = given[n];
    if (v === undefined) throw new TypeError(`Expected a value for label ${n} of ${name}`);
    out[n] = String(v);
  }
  return out;
}

async function valueOf(metric: promClient.Metric<string>, labels: Record<string, string>, sampleName?: string): Promise<number> {
  // Histogram samples carry their sample name (`<name>_count`, …) beside the metric's labels.
  const values = (await metric.get()).values as Array<promClient.MetricValue<string> & { metricName?: string }>;
  const keys = Object.keys(labels);
  const hit = values.find(
    (v) => (sampleName === undefined || v.metricName === sampleName) && keys.every((k) => String(v.labels[k]) === labels[k]) && Object.keys(v.labels).filter((k) => k !== 'le').length === keys.length,
  );
  return hit?.value ?? 0;
}

/** A value that only goes up. */
export class Counter {
  readonly type = 'counter';
  readonly name: string;
  readonly labelNames: readonly string[];
  readonly #c: promClient.Counter<string>;
  constructor(o: MetricOptions, registry: promClient.Registry) {
    this.labelNames = checkOptions(o);
    this.name = o.name;
    this.#c = new promClient.Counter({ name: o.name, help: o.help, labelNames: this.labelNames, registers: [registry] });
  }
  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw new TypeError(`Expected a finite non-negative increment for ${this.name} but received ${by}`);
    this.#c.inc(labelsFor(this.name, this.labelNames, labels), by);
  }
  /** The current value of one series (0 when never incremented). */
  get(labels?: Labels): Promise<number> {
    return valueOf(this.#c, labelsFor(this.name, this.labelNames, labels));
  }
}

/** A value that goes up and down (set it from `MetricsRegistry.onCollect` to read it at scrape time). */
export class Gauge {
  readonly type = 'gauge';
  readonly name: string;
  readonly labelNames: readonly string[];
  readonly #g: promClient.Gauge<string>;
  constructor(o: MetricOptions, registry: promClient.Registry) {
    this.labelNames = checkOptions(o);
    this.name = o.name;
    this.#g = new promClient.Gauge({ name: o.name, help: o.help, labelNames: this.labelNames, registers: [registry] });
  }
  set(v: number, labels?: Labels): void {
    this.#g.set(labelsFor(this.name, this.labelNames, labels), v);
  }
  inc(labels?: Labels, by = 1): void {
    this.#g.inc(labelsFor(this.name, this.labelNames, labels), by);
  }
  dec(labels?: Labels, by = 1): void {
    this.#g.dec(labelsFor(this.name, this.labelNames, labels), by);
  }
  get(labels?: Labels): Promise<number> {
    return valueOf(this.#g, labelsFor(this.name, this.labelNames, labels));
  }
}

/** Cumulative buckets (`le`), `_sum` and `_count`. */
export class Histogram {
  readonly type = 'histogram';
  readonly name: string;
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[];
  readonly #h: promClient.Histogram<string>;
  constructor(o: MetricOptions & { buckets: readonly number[] }, registry: promClient.Registry) {
    this.labelNames = checkOptions(o);
    this.name = o.name;
    if (this.labelNames.includes('le')) throw new TypeError(`Expected no "le" label for histogram ${o.name}`);
    const b = [...o.buckets].filter((x) => x !== Infinity);
    for (let i = 0; i < b.length; i++) {
      if (!Number.isFinite(b[i]!) || (i > 0 && b[i]! <= b[i - 1]!)) throw new TypeError(`Expected increasing finite buckets for ${o.name} but received [${o.buckets.join(', ')}]`);
    }
    this.buckets = b;
    this.#h = new promClient.Histogram({ name: o.name, help: o.help, labelNames: this.labelNames, buckets: b, registers: [registry] });
  }
  observe(v: number, labels?: Labels): void {
    this.#h.observe(labelsFor(this.name, this.labelNames, labels), v);
  }
  /** Observations of one series so far. */
  count(labels?: Labels): Promise<number> {
    return valueOf(this.#h, labelsFor(this.name, this.labelNames, labels), `${this.name}_count`);
  }
}

/** Metrics of one application instance, exposed together (a prom-client `Registry` of its own). */
export class MetricsRegistry {
  /** The prom-client registry underneath (e.g. for `collectDefaultMetrics({ register })`). */
  readonly registry = new promClient.Registry();
  readonly #collectors: Array<() => void | Promise<void>> = [];

  #unique(name: string): void {
    if (this.registry.getSingleMetric(name)) throw new TypeError(`Expected a new metric name but ${name} is already registered`);
  }
  counter(o: MetricOptions): Counter {
    this.#unique(o.name);
    return new Counter(o, this.registry);
  }
  gauge(o: MetricOptions): Gauge {
    this.#unique(o.name);
    return new Gauge(o, this.registry);
  }
  histogram(o: MetricOptions & { buckets: readonly number[] }): Histogram {
    this.#unique(o.name);
    return new Histogram(o, this.registry);
  }
  /** Runs before each exposition (e.g. reads the queue depth into a gauge). A failing collector fails `expose`. */
  onCollect(f: () => void | Promise<void>): void {
    this.#collectors.push(f);
  }
  /** The whole registry in text format 0.0.4 (prom-client's output), metrics in registration order. */
  async expose(): Promise<string> {
    for (const c of this.#collectors) await c();
    return this.registry.metrics();
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
