import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { JobStatus } from '../src/apps/jobs/JobQueue.ts';
import { segmentJobData } from '../src/apps/jobs/jobData.ts';
import { QUEUE_PREFIX } from '../src/apps/jobs/queueNames.ts';
import { readSubmitRecord } from '../src/apps/jobs/submitRecord.ts';
import { repo, shared } from './helpers/paths.ts';
import { runFacerestore, type CliResult } from './helpers/cli.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';
import { pollUntil } from './helpers/wait.ts';

/**
 * Redis losing its data mid-run (FLUSHALL on a real redis-server while a real worker process runs):
 * `jobs status --out` reports the job `lost`, a worker handed a segment of the vanished job says so and
 * keeps running, and `jobs submit` again resumes it: only unfinished segments are restored, and the
 * output holds every frame in order (frame-exact against a single-process run).
 */

function cli(args: string[]): Promise<CliResult> {
  return runFacerestore(args, {}, 240_000);
}

function md5s(file: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v:0', '-f', 'framemd5', '-'], { maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(stderr)) : resolve(stdout.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').at(-1)!.trim())),
    );
  });
}

let redis: TestRedis;
let tmp: string;
let worker: ChildProcess | undefined;

async function logOf(): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(path.join(tmp, 'w.log'), 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-jobs-lost-'));
  redis = await startRedis();
});

afterAll(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) {
    const exited = new Promise((r) => worker!.once('exit', r));
    process.kill(worker.pid!, 'SIGKILL');
    await exited;
  }
  await redis?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const SETTINGS = ['--restorer', 'none', '--no-track', '--crf', '0', '--preset', 'ultrafast', '--segment-seconds', '0.5', '--warmup-seconds', '0'];

describe('jobs when Redis loses its data', () => {
  it('FLUSHALL mid-run: status reports the job lost, the worker says its job is gone and keeps running, submit resumes without redoing finished segments', { timeout: 480_000 }, async () => {
    const input = shared('footage/retalk_2.mp4');
    const out = path.join(tmp, 'out');
    const ref = path.join(tmp, 'ref.mp4');
    const refRun = cli(['restore', input, '-o', ref, '--deterministic', '--no-progress', ...SETTINGS.slice(0, 7)]);
    const sub = await cli(['jobs', 'submit', input, '--out', out, '--redis', redis.url, '--json', ...SETTINGS]);
    expect(sub.code, sub.stderr).toBe(0);
    const { id, segments, outcome } = (JSON.parse(sub.stdout) as Array<{ id: string; segments: number; outcome: string }>)[0]!;
    expect(outcome).toBe('added');
    expect(segments).toBeGreaterThanOrEqual(8);
    const record = (await readSubmitRecord(path.join(out, '.facerestore-work', id)))!;
    expect(record).toMatchObject({ v: 1, id, queue: 'facerestore', spec: { input, output: path.join(out, 'retalk_2.mp4') } });
    expect(record.spec.segments).toHaveLength(segments);
    const workDir = record.spec.workDir;

    const log = createWriteStream(path.join(tmp, 'w.log'));
    worker = spawn(process.execPath, [repo('bin/facerestore.mjs'), 'jobs', 'worker', '--redis', redis.url, '--name', 'w', '--lock-seconds', '15', '--stalled-seconds', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    worker.stdout!.pipe(log, { end: false });
    worker.stderr!.pipe(log, { end: false });
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue('facerestore', { connection: conn, prefix: QUEUE_PREFIX });
    try {
      // Let the first segment finish, then hold the queue so the worker idles with the job half done.
      await pollUntil('segment 0', 120_000, async () => ((await readdir(workDir).catch(() => [] as string[])).includes('seg-00000.json') ? true : undefined));
      await queue.pause();
      await pollUntil('the worker to idle', 60_000, async () => ((await queue.getActiveCount()) === 0 ? true : undefined));
      const finished = (await readdir(workDir)).filter((f) => /^seg-\d+\.json$/.test(f)).sort();
      expect(finished.length).toBeGreaterThanOrEqual(1);
      expect(finished.length).toBeLessThan(segments);

      // Redis loses everything while the worker runs.
      expect(await conn.flushall()).toBe('OK');
      const plain = await cli(['jobs', 'status', '--json', '--redis', redis.url]);
      expect(plain.code, plain.stderr).toBe(0);
      expect(JSON.parse(plain.stdout)).toEqual({ jobs: [] });
      const st = await cli(['jobs', 'status', '--out', out, '--json', '--redis', redis.url]);
      expect(st.code, st.stderr).toBe(9);
      const lost = (JSON.parse(st.stdout) as { jobs: JobStatus[] }).jobs;
      expect(lost).toHaveLength(1);
      expect(lost[0]).toMatchObject({ id, state: 'lost', segments: { total: segments, done: finished.length }, error: { code: 'E_JOB' } });
      expect(lost[0]!.reason).toMatch(new RegExp(`job ${id} was submitted but Redis no longer has it .*${finished.length} of ${segments} segments are finished .*jobs submit`));
      const table = await cli(['jobs', 'status', '--out', out, '--redis', redis.url]);
      expect(table.stdout).toMatch(new RegExp(`${id}\\s+retalk_2\\.mp4\\s+lost\\s+${finished.length}/${segments}`));

      // A worker handed a segment of the vanished job says so, writes nothing, and keeps running.
      const unfinished = record.spec.segments.find((s) => !finished.includes(`seg-${String(s.index).padStart(5, '0')}.json`))!;
      await queue.add('segment', segmentJobData(id, record.spec, unfinished), { jobId: 'orphan', attempts: 1 });
      const said = await pollUntil('the worker to report the lost job', 60_000, async () => (await logOf()).find((l) => l.code === 'E_JOB_LOST'));
      expect(said.msg).toMatch(new RegExp(`job ${id} is gone from Redis .*segment ${unfinished.index} stops here.*jobs submit`));
      expect(said.level).toBe(50);
      expect(await readdir(workDir)).not.toContain(`seg-${String(unfinished.index).padStart(5, '0')}.json`);
      expect(worker.exitCode).toBeNull();

      // Submitting again resumes: only the unfinished segments are queued.
      const again = await cli(['jobs', 'submit', input, '--out', out, '--redis', redis.url, '--json', ...SETTINGS]);
      expect(again.code, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)[0]).toMatchObject({ id, outcome: 'resumed', reused: finished.length, segments });
      expect(again.stderr).toMatch(new RegExp(`resumed after Redis lost it \\(${segments - finished.length} of ${segments} segments queued again; ${finished.length} finished are reused\\)`));
      const watch = await cli(['jobs', 'status', id, '--watch', '--json', '--interval', '0.2', '--redis', redis.url]);
      expect(watch.code, watch.stderr).toBe(0);
      const done = JSON.parse(watch.stdout.trim().split('\n').at(-1)!) as JobStatus;
      expect(done.state, done.reason ?? '').toBe('completed');

      // Each segment was written once in all (finished ones were not redone), no join had to restore one, one output.
      const logs = await logOf();
      for (const s of record.spec.segments) expect(logs.filter((l) => l.msg === 'segment written' && l.job === id && l.segment === s.index), `segment ${s.index}`).toHaveLength(1);
      expect(logs.filter((l) => l.msg === 'segment file missing at join: restoring it again')).toHaveLength(0);
      expect(logs.filter((l) => l.msg === 'output written' && l.job === id)).toHaveLength(1);
      // Every frame, in order: frame-exact against one process restoring the whole file.
      const r = await refRun;
      expect(r.code, r.stderr.slice(0, 400)).toBe(0);
      const [got, want] = await Promise.all([md5s(path.join(out, 'retalk_2.mp4')), md5s(ref)]);
      expect(got).toHaveLength(125);
      expect(got).toEqual(want);
      expect(await readdir(out)).toEqual(['retalk_2.mp4']);
      expect(worker.exitCode).toBeNull();
    } finally {
      await queue.close();
      conn.disconnect();
    }
  });
});
