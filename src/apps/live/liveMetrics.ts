import { MetricsRegistry } from '../../util/metrics.ts';
import type { RestoreStats } from './protocol.ts';

/** What the live server's metrics read at each scrape. */
export interface LiveGauges {
  connections: number;
  rooms: number;
  members: number;
  producers: number;
  consumers: number;
  jobs: number;
  restorePeers: number;
  workerAlive: boolean;
}

/**
 * The live server's metrics, in its own registry: frame totals the restore peers report (restored,
 * passed through, dropped; summed over every stream since the server started), room and peer gauges
 * read at scrape time, and mediasoup worker deaths.
 */
export class LiveMetrics {
  readonly registry = new MetricsRegistry();
  readonly #frames = this.registry.counter({ name: 'facerestore_live_frames_total', help: 'Live camera frames by outcome, as the restore peers report them (in = received).', labelNames: ['outcome'] });
  readonly #deaths = this.registry.counter({ name: 'facerestore_sfu_worker_deaths_total', help: 'mediasoup worker deaths.' });
  readonly #last = new Map<string, Pick<RestoreStats, 'framesIn' | 'restored' | 'passedThrough' | 'dropped'>>();

  constructor(read: () => LiveGauges) {
    const g = (name: string, help: string) => this.registry.gauge({ name, help });
    const connections = g('facerestore_live_connections', 'Open signaling connections.');
    const rooms = g('facerestore_live_rooms', 'Open rooms.');
    const members = g('facerestore_live_members', 'Room members (browsers and restore peers).');
    const producers = g('facerestore_live_producers', 'mediasoup producers.');
    const consumers = g('facerestore_live_consumers', 'mediasoup consumers.');
    const jobs = g('facerestore_live_restore_jobs', 'Camera streams with a restorer assigned.');
    const peers = g('facerestore_restore_peers', 'Restore peers running (processes and in-process).');
    const alive = g('facerestore_sfu_worker_up', '1 while the mediasoup worker is alive or not yet needed, 0 after it died and before it is replaced.');
    this.registry.onCollect(() => {
      const s = read();
      connections.set(s.connections);
      rooms.set(s.rooms);
      members.set(s.members);
      producers.set(s.producers);
      consumers.set(s.consumers);
      jobs.set(s.jobs);
      peers.set(s.restorePeers);
      alive.set(s.workerAlive ? 1 : 0);
    });
    for (const outcome of ['in', 'restored', 'passed_through', 'dropped']) this.#frames.inc({ outcome }, 0);
  }

  /** A restore peer's report on stream `key` (room + producer): the growth of its totals is counted. */
  restoreStats(key: string, s: RestoreStats): void {
    const prev = this.#last.get(key) ?? { framesIn: 0, restored: 0, passedThrough: 0, dropped: 0 };
    // Totals restart at 0 when a new peer takes the stream over: then the whole new total is growth.
    const d = (now: number, was: number) => (now >= was ? now - was : now);
    this.#frames.inc({ outcome: 'in' }, d(s.framesIn, prev.framesIn));
    this.#frames.inc({ outcome: 'restored' }, d(s.restored, prev.restored));
    this.#frames.inc({ outcome: 'passed_through' }, d(s.passedThrough, prev.passedThrough));
    this.#frames.inc({ outcome: 'dropped' }, d(s.dropped, prev.dropped));
    this.#last.set(key, { framesIn: s.framesIn, restored: s.restored, passedThrough: s.passedThrough, dropped: s.dropped });
  }

  /** Stream `key` ended: forget its last totals. */
  streamClosed(key: string): void {
    this.#last.delete(key);
  }

  workerDied(): void {
    this.#deaths.inc();
  }
}
