/**
 * Speed of the restore service's wire (RestoreService ⇄ RemoteRestorer) alone: the service runs a trivial
 * restorer (it hands each crop back), so the figure is what the transport costs per face — framing, the
 * 768 KiB crop each way, the socket — not the model. Service and clients run in this one process, like a
 * server and its inline peers.
 *
 *   node bench/restore-service-wire.ts [--transports tcp,unix] [--streams 2] [--faces 1] [--inflight 2] [--seconds 3] [--reps 3] [--ballast-mb 4]
 *
 * `--streams` clients each keep `--inflight` requests of `--faces` faces in flight for `--seconds`. Prints one
 * JSON object: per transport and repetition faces/s (wall) and CPU ms per face (process.cpuUsage: both ends
 * together; `systemMsPerFace` the kernel's part), with the load average. On a shared machine wall time depends on other processes: compare CPU
 * per face, and say the load next to any figure.
 *
 * `--ballast-mb` holds that many MiB of long-lived objects on the V8 heap for the whole run (default 4: the old
 * space then holds about 11.5 MiB, like a restore service with the classic restorer after start, 11 MiB). The
 * figure depends on the heap's size, not only on the wire: this process alone holds about 7.5 MiB, under V8's
 * 8 MiB threshold for starting incremental marking, and there the 768 KiB buffers cost few mark-compacts; from
 * 8 MiB up, mark-compacts start every few faces, as in any real service or peer. Without ballast a few hundred
 * KiB of imported code flipped the figure by a factor of two (docs/gpu.md). `oldSpaceMiB` in the output is the
 * old generation in use after each run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { RemoteRestorer, type RemoteRestorerOptions } from '../src/restore/remoteRestorer.ts';
import { RestoreService, type RestoreServiceOptions } from '../src/restore/restoreService.ts';
import { CROP_BYTES, type Restorer } from '../src/restore/restorer.ts';

const { values } = parseArgs({
  options: {
    transports: { type: 'string', default: 'tcp,unix' },
    streams: { type: 'string', default: '2' },
    faces: { type: 'string', default: '1' },
    inflight: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '3' },
    reps: { type: 'string', default: '3' },
    'ballast-mb': { type: 'string', default: '4' },
  },
});
const streams = Number(values.streams);
const faces = Number(values.faces);
const inflight = Number(values.inflight);
const seconds = Number(values.seconds);
const reps = Number(values.reps);
const ballastMiB = Number(values['ballast-mb']);
const TOKEN = 'bench-token-0123456789abcdef';

/** About `mib` MiB of small objects (48 bytes each, array slot included: measured in old space), kept for the whole run. */
const ballast = Array.from({ length: Math.round((ballastMiB * 2 ** 20) / 48) }, (_, i) => ({ i, next: i + 1, tag: i % 97 }));

/** Hands every crop back unchanged: the service's work is the wire's alone. */
const trivial: Restorer = { name: 'trivial', maxBatch: 64, restore: (crops) => Promise.resolve([...crops]), close: () => Promise.resolve() };

async function run(transport: 'tcp' | 'unix', dir: string): Promise<{ facesPerSecond: number; cpuMsPerFace: number; systemMsPerFace: number; faces: number; batches: number; oldSpaceMiB: number }> {
  const sock = path.join(dir, `wire-${process.hrtime.bigint()}.sock`);
  const options = { path: sock, listen: transport === 'tcp' ? 'tcp://127.0.0.1:0' : `unix:${sock}`, token: TOKEN, restorer: { ...trivial }, budgetMs: 0 };
  const service = await RestoreService.start(options as RestoreServiceOptions);
  const address = transport === 'tcp' ? (service as unknown as { address: string }).address : sock;
  const clients = await Promise.all(Array.from({ length: streams }, () => RemoteRestorer.connect(address, { token: TOKEN } as RemoteRestorerOptions)));
  const crops = Array.from({ length: faces }, (_, i) => new Uint8Array(CROP_BYTES).fill(i));
  const weights = crops.map(() => 0.5);
  // Warm-up: one request per client.
  await Promise.all(clients.map((c) => c.restore(crops, weights)));
  let done = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const loop = async (c: RemoteRestorer) => {
    while (performance.now() < end) {
      await c.restore(crops, weights);
      done += faces;
    }
  };
  await Promise.all(clients.flatMap((c) => Array.from({ length: inflight }, () => loop(c))));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const stats = service.stats();
  for (const c of clients) await c.close();
  await service.close();
  const oldSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
  return {
    facesPerSecond: Math.round((done / wall) * 10) / 10,
    cpuMsPerFace: Math.round(((cpu.user + cpu.system) / 1000 / done) * 100) / 100,
    systemMsPerFace: Math.round((cpu.system / 1000 / done) * 100) / 100,
    faces: done,
    batches: stats.batches,
    oldSpaceMiB: Math.round((oldSpace / 2 ** 20) * 10) / 10,
  };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'fr-wire-bench-'));
try {
  const results: Record<string, unknown[]> = {};
  const loadBefore = os.loadavg();
  for (let r = 0; r < reps; r++) {
    // Interleaved, so a change of load on the machine hits both transports alike.
    for (const t of values.transports.split(',') as Array<'tcp' | 'unix'>) (results[t] ??= []).push(await run(t, dir));
  }
  console.log(JSON.stringify({ bench: 'restore-service-wire', node: process.version, streams, facesPerRequest: faces, inflightPerStream: inflight, seconds, cropBytes: CROP_BYTES, ballastMiB, ballastObjects: ballast.length, loadavg: { before: loadBefore, after: os.loadavg() }, cpus: os.availableParallelism(), results }, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
