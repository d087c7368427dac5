import promClient from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LiveMetrics } from '../src/apps/live/liveMetrics.ts';
import { METRICS_CONTENT_TYPE, MetricsRegistry, parseExposition } from '../src/util/metrics.ts';

describe('MetricsRegistry (prom-client, text format 0.0.4)', () => {
  it('writes counters, gauges and histograms exactly as prom-client does', async () => {
    const r = new MetricsRegistry();
    const frames = r.counter({ name: 'fr_frames_total', help: 'Frames processed.' });
    const errors = r.counter({ name: 'fr_errors_total', help: 'Errors by code.', labelNames: ['code'] });
    const depth = r.gauge({ name: 'fr_queue_depth', help: 'Jobs waiting.', labelNames: ['state'] });
    const lat = r.histogram({ name: 'fr_restore_seconds', help: 'Restore latency.', buckets: [0.1, 1] });
    frames.inc();
    frames.inc(undefined, 4);
    errors.inc({ code: 'E_PROBE' });
    errors.inc({ code: 'E_PROBE' });
    errors.inc({ code: 'E_"odd"\\\n' });
    depth.set(3, { state: 'waiting' });
    lat.observe(0.05);
    lat.observe(0.5);
    lat.observe(3);
    expect(await r.expose()).toBe(
      [
        '# HELP fr_frames_total Frames processed.',
        '# TYPE fr_frames_total counter',
        'fr_frames_total 5',
        '',
        '# HELP fr_errors_total Errors by code.',
        '# TYPE fr_errors_total counter',
        'fr_errors_total{code="E_PROBE"} 2',
        'fr_errors_total{code="E_\\"odd\\"\\\\\\n"} 1',
        '',
        '# HELP fr_queue_depth Jobs waiting.',
        '# TYPE fr_queue_depth gauge',
        'fr_queue_depth{state="waiting"} 3',
        '',
        '# HELP fr_restore_seconds Restore latency.',
        '# TYPE fr_restore_seconds histogram',
        'fr_restore_seconds_bucket{le="0.1"} 1',
        'fr_restore_seconds_bucket{le="1"} 2',
        'fr_restore_seconds_bucket{le="+Inf"} 3',
        'fr_restore_seconds_sum 3.55',
        'fr_restore_seconds_count 3',
        '',
      ].join('\n'),
    );
    // prom-client's own view of the same registry, and nothing leaked into its global default registry.
    expect(r.registry).toBeInstanceOf(promClient.Registry);
    expect((await r.registry.getMetricsAsJSON()).map((m) => m.name)).toEqual(['fr_frames_total', 'fr_errors_total', 'fr_queue_depth', 'fr_restore_seconds']);
    expect(promClient.register.getMetricsAsArray()).toEqual([]);
    expect(r.registry.contentType).toBe(METRICS_CONTENT_TYPE);
    expect(await frames.get()).toBe(5);
    expect(await errors.get({ code: 'E_PROBE' })).toBe(2);
    expect(await lat.count()).toBe(3);
  });

  it('escapes HELP, parses its own output back, and runs collectors before exposing', async () => {
    const r = new MetricsRegistry();
    const g = r.gauge({ name: 'g', help: 'a \\ b\nc' });
    let n = 0;
    r.onCollect(() => g.set(++n));
    const text = await r.expose();
    expect(text).toBe('# HELP g a \\\\ b\\nc\n# TYPE g gauge\ng 1\n');
    expect(parseExposition(await r.expose())).toEqual([{ name: 'g', labels: {}, value: 2 }]);
    const h = r.histogram({ name: 'h', help: 'h', labelNames: ['k'], buckets: [1] });
    h.observe(2, { k: 'a"b' });
    const samples = parseExposition(await r.expose());
    expect(samples.filter((s) => s.name === 'h_bucket')).toEqual([
      { name: 'h_bucket', labels: { k: 'a"b', le: '1' }, value: 0 },
      { name: 'h_bucket', labels: { k: 'a"b', le: '+Inf' }, value: 1 },
    ]);
    expect(await h.count({ k: 'a"b' })).toBe(1);
    expect(await h.count({ k: 'other' })).toBe(0);
  });

  it('keeps registries apart and refuses bad names, labels and values', async () => {
    const a = new MetricsRegistry();
    const b = new MetricsRegistry();
    a.counter({ name: 'c', help: 'c' }).inc();
    expect(await b.counter({ name: 'c', help: 'c' }).get()).toBe(0);
    expect(await a.registry.getSingleMetricAsString('c')).toBe('# HELP c c\n# TYPE c counter\nc 1');
    expect(() => a.counter({ name: 'c', help: 'again' })).toThrow(/already registered/);
    expect(() => a.counter({ name: '1bad', help: '' })).toThrow(TypeError);
    expect(() => a.counter({ name: 'x', help: 'x', labelNames: ['__x'] })).toThrow(TypeError);
    expect(() => a.counter({ name: 'nohelp', help: '' })).toThrow(/non-empty help/);
    const l = a.counter({ name: 'l', help: 'l', labelNames: ['code'] });
    expect(() => l.inc({ other: 'x' })).toThrow(/among \[code\]/);
    expect(() => l.inc({})).toThrow(/label code/);
    expect(() => l.inc({ code: 'a' }, -1)).toThrow(/non-negative/);
    expect(() => a.histogram({ name: 'h', help: 'h', buckets: [2, 1] })).toThrow(/increasing/);
    expect(() => parseExposition('not a line')).toThrow(/not a sample/);
  });
});

describe('LiveMetrics', () => {
  const gauges = { connections: 2, rooms: 1, members: 3, producers: 1, consumers: 1, jobs: 1, restorePeers: 1, workerAlive: true };
  const stats = (framesIn: number, restored: number, passedThrough: number, dropped: number) =>
    ({ fpsIn: 0, fpsOut: 0, framesIn, restored, passedThrough, dropped, peerLatencyMs: 0, workMs: 0, width: 0, height: 0, restorer: 'x', budgetMs: 0 });
  it('counts the growth of the totals restore peers report, per stream, and reads gauges at scrape time', async () => {
    const m = new LiveMetrics(() => gauges);
    m.restoreStats('r\na', stats(10, 8, 1, 1));
    m.restoreStats('r\na', stats(30, 25, 3, 2));
    m.restoreStats('r\nb', stats(5, 5, 0, 0));
    // A new peer on stream a restarts its totals at 0: counted as new growth, never negative.
    m.restoreStats('r\na', stats(4, 4, 0, 0));
    const samples = parseExposition(await m.registry.expose());
    const frames = Object.fromEntries(samples.filter((s) => s.name === 'facerestore_live_frames_total').map((s) => [s.labels.outcome, s.value]));
    expect(frames).toEqual({ in: 39, restored: 34, passed_through: 3, dropped: 2 });
    expect(samples).toContainEqual({ name: 'facerestore_restore_peers', labels: {}, value: 1 });
    expect(samples).toContainEqual({ name: 'facerestore_sfu_worker_up', labels: {}, value: 1 });
  });
});
