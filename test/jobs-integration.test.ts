import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { JobQueue, type JobStatus } from '../src/apps/jobs/JobQueue.ts';
import { planJob } from '../src/apps/jobs/planJob.ts';
import { isFinished } from '../src/apps/jobs/statusView.ts';
import { repo, shared } from './helpers/paths.ts';
import { runFacerestore, type CliResult } from './helpers/cli.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';
import { pollUntil } from './helpers/wait.ts';

/**
 * The job system end to end: a real redis-server (apt), real workers started through the CLI as child
 * processes, real footage, real ffmpeg. Restoration is the classic restorer without tracking (stateless
 * per frame), so segment outputs must equal a single-process run frame for frame.
 */

function cli(args: string[], timeoutMs = 240_000): Promise<CliResult> {
  return runFacerestore(args, {}, timeoutMs);
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 256 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr}`)) : resolve(stdout)));
  });
}

/** md5 of every decoded frame of the first stream of `kind` (audio: packets, copied). */
async function md5s(file: string, kind: 'v' | 'a'): Promise<string[]> {
  const out = await run('ffmpeg', ['-v', 'error', '-i', file, '-map', `0:${kind}:0`, ...(kind === 'a' ? ['-c', 'copy'] : []), '-f', 'framemd5', '-']);
  return out.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').at(-1)!.trim());
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

let redis: TestRedis;
let tmp: string;
const workers = new Map<string, ChildProcess>();

/**
 * Starts `facerestore jobs worker` as a child process (its JSON log goes to <tmp>/<name>.log). The lock is
 * 15 s: on a loaded shared machine a 5 s lock ran out while workers were merely slow, so segments were
 * taken over without any kill and the test's picture of who runs what was wrong.
 */
function startWorker(name: string, ...extra: string[]): ChildProcess {
  const log = createWriteStream(path.join(tmp, `${name}.log`));
  const child = spawn(process.execPath, [repo('bin/facerestore.mjs'), 'jobs', 'worker', '--redis', redis.url, '--name', name, '--lock-seconds', '15', '--stalled-seconds', '2', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  workers.set(name, child);
  return child;
}

/** Stops a worker gracefully (SIGTERM by pid), SIGKILL after 20 s. */
async function stopWorker(child: ChildProcess | undefined): Promise<void> {
  // A worker a failed test never started (the test's own failure is the one to report).
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid!, 'SIGTERM');
  const timer = setTimeout(() => child.exitCode === null && child.signalCode === null && process.kill(child.pid!, 'SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/** Lines of a worker's pino log. */
async function logOf(name: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(path.join(tmp, `${name}.log`), 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-jobs-'));
  redis = await startRedis();
});

afterAll(async () => {
  await Promise.all([...workers.values()].map(stopWorker));
  await redis?.stop();
  await rm(tmp, { recursive: true, force: true });
});

// Stateless per-frame work and a lossless, single-threaded encoder: frame-exact comparisons are meaningful.
const SETTINGS = ['--restorer', 'classic', '--no-track', '--crf', '0', '--preset', 'ultrafast'];

describe('facerestore jobs on BullMQ/Redis', () => {
  it('two clips in 2 s segments on two workers, one SIGKILLed mid-segment: each output written once, frame-exact, audio kept, no stray files', { timeout: 480_000 }, async () => {
    const clips = ['retalk_2.mp4', 'retalk_1.mp4'];
    const out = path.join(tmp, 'out');
    const out2 = path.join(tmp, 'out-undisturbed');
    const refDir = path.join(tmp, 'ref');
    await mkdir(refDir);
    const t0 = performance.now();
    // Job order in the queue: retalk_2 → out (the one to disturb), retalk_1 → out, retalk_2 → out2 (undisturbed twin).
    const sub = await cli(['jobs', 'submit', shared('footage/retalk_2.mp4'), shared('footage/retalk_1.mp4'), '--out', out, '--redis', redis.url, '--segment-seconds', '2', '--json', ...SETTINGS]);
    expect(sub.code, sub.stderr).toBe(0);
    const submitted = JSON.parse(sub.stdout) as Array<{ id: string; segments: number; outcome: string }>;
    expect(submitted.map((s) => [s.segments, s.outcome])).toEqual([[3, 'added'], [3, 'added']]);
    const sub2 = await cli(['jobs', 'submit', shared('footage/retalk_2.mp4'), '--out', out2, '--redis', redis.url, '--segment-seconds', '2', '--json', ...SETTINGS]);
    expect(sub2.code, sub2.stderr).toBe(0);
    const twin = (JSON.parse(sub2.stdout) as Array<{ id: string }>)[0]!.id;
    // Submitting the same request again adds nothing.
    const again = await cli(['jobs', 'submit', shared('footage/retalk_2.mp4'), '--out', out, '--redis', redis.url, '--segment-seconds', '2', '--json', ...SETTINGS]);
    expect(JSON.parse(again.stdout)[0].outcome).toBe('exists');
    const [idA, idC] = submitted.map((s) => s.id) as [string, string];

    // Single-process references, run while the workers work.
    const refs = Promise.all(clips.map((c) => cli(['restore', shared(`footage/${c}`), '-o', path.join(refDir, c), '--deterministic', '--no-progress', ...SETTINGS])));

    startWorker('w1');
    startWorker('w2');
    const queue = await JobQueue.create({ redisUrl: redis.url });
    try {
      // Kill w1 while it is in the middle of a segment of the first job (frames encoded, segment not finished).
      const killed = await pollUntil('w1 to be mid-segment', 120_000, async () => {
        const s = await queue.status(idA);
        return s?.segmentList.find((g) => g.state === 'active' && g.worker === 'w1' && g.frames >= 3 && g.frames < (g.expected ?? Infinity) - 3);
      });
      process.kill(workers.get('w1')!.pid!, 'SIGKILL');
      const killedAt = performance.now();
      startWorker('w3');

      const final = await pollUntil('all jobs to finish', 360_000, async () => {
        const all = await Promise.all([idA, idC, twin].map((id) => queue.status(id)));
        return all.every((s) => s && isFinished(s)) ? (all as JobStatus[]) : undefined;
      });
      const wall = (performance.now() - t0) / 1000;
      for (const s of final) expect(s.state, `${s.id}: ${s.reason}`).toBe('completed');
      const seg = final[0]!.segmentList[killed.index]!;
      expect(seg.stalls).toBeGreaterThanOrEqual(1);
      expect(seg.worker).not.toBe('w1');
      expect(seg.frames).toBe(seg.expected);

      // Each output was joined once, and the killed segment was written once (by the worker that took it over).
      const logs = [...(await logOf('w1')), ...(await logOf('w2')), ...(await logOf('w3'))];
      for (const id of [idA, idC, twin]) expect(logs.filter((l) => l.msg === 'output written' && l.job === id)).toHaveLength(1);
      expect(logs.filter((l) => l.msg === 'segment written' && l.job === idA && l.segment === killed.index)).toHaveLength(1);

      // Frame-exact against the single-process runs; frame counts and audio as the inputs'.
      const refResults = await refs;
      for (const r of refResults) expect(r.code, r.stderr).toBe(0);
      for (const c of clips) {
        const [got, want, inputAudio, gotAudio] = await Promise.all([md5s(path.join(out, c), 'v'), md5s(path.join(refDir, c), 'v'), md5s(shared(`footage/${c}`), 'a'), md5s(path.join(out, c), 'a')]);
        expect(got.length, c).toBe(want.length);
        expect(got, c).toEqual(want);
        expect(gotAudio, c).toEqual(inputAudio);
      }
      expect((await md5s(path.join(out, 'retalk_2.mp4'), 'v')).length).toBe(125);
      expect(final[1]!.result!.frames).toBe((await md5s(path.join(refDir, 'retalk_1.mp4'), 'v')).length);
      // The disturbed job's file is byte-identical to its undisturbed twin's.
      expect(await sha256(path.join(out, 'retalk_2.mp4'))).toBe(await sha256(path.join(out2, 'retalk_2.mp4')));
      expect(final[0]!.result!.sha256).toBe(await sha256(path.join(out, 'retalk_2.mp4')));
      // No stray files: no work folder, no partial file.
      expect((await readdir(out)).sort()).toEqual(['retalk_1.mp4', 'retalk_2.mp4']);
      expect(await readdir(out2)).toEqual(['retalk_2.mp4']);

      const status = await cli(['jobs', 'status', idA, '--json', '--redis', redis.url]);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ id: idA, state: 'completed', segments: { total: 3, done: 3 }, frames: { done: 125, total: 125 } });
      const table = await cli(['jobs', 'status', '--redis', redis.url]);
      expect(table.stdout).toMatch(/retalk_1\.mp4\s+completed\s+3\/3\s+134\/~?13[45]/);
      console.log(`jobs: 3 jobs (380 frames) on 2+1 workers in ${wall.toFixed(1)} s wall; recovered ${((performance.now() - killedAt) / 1000).toFixed(1)} s after the kill incl. the rest of the work`);
    } finally {
      await queue.close();
      await Promise.all(['w1', 'w2', 'w3'].map((n) => stopWorker(workers.get(n)!)));
    }
  });

  it('a corrupt file, a cut-off file and a file damaged after submission fail with clear reasons and do not hold up a good one', { timeout: 300_000 }, async () => {
    const inDir = path.join(tmp, 'batch');
    const out = path.join(tmp, 'batch-out');
    await mkdir(inDir);
    // good: the first 2 s of a real clip; bad: random bytes; cut: a faststart copy cut in half (its index lists frames that are gone).
    await run('ffmpeg', ['-v', 'error', '-i', shared('footage/retalk_2.mp4'), '-t', '2', '-c', 'copy', path.join(inDir, 'good.mp4')]);
    await writeFile(path.join(inDir, 'bad.mp4'), randomBytes(64 * 1024));
    const faststart = path.join(tmp, 'faststart.mp4');
    await run('ffmpeg', ['-v', 'error', '-i', shared('footage/retalk_2.mp4'), '-c', 'copy', '-movflags', '+faststart', faststart]);
    const half = Math.floor((await readFile(faststart)).length / 2);
    await copyFile(faststart, path.join(inDir, 'cut.mp4'));
    await truncate(path.join(inDir, 'cut.mp4'), half);
    const queueArgs = ['--redis', redis.url, '--queue', 'batch'];
    const common = ['--segment-seconds', '1', '--attempts', '2', '--backoff-ms', '200', '--restorer', 'none', '--no-track', '--preset', 'ultrafast'];

    const sub = await cli(['jobs', 'submit', inDir, '--out', out, ...queueArgs, ...common]);
    expect(sub.code).toBe(9);
    expect(sub.stdout).toMatch(/bad\.mp4: queued to fail: E_PROBE: cannot read .*bad\.mp4 as a video/);
    expect(sub.stdout).toMatch(/cut\.mp4: queued to fail: E_DECODE: input .*cut\.mp4 is truncated or corrupt: its container lists 125 video frames but only \d+ can be read/);
    expect(sub.stdout).toMatch(/good\.mp4: queued \(2 segments\)/);
    // late: whole at submission, cut before any worker reads it (a segment then fails once: a decode error is not retried).
    const late = path.join(tmp, 'late.mp4');
    await copyFile(faststart, late);
    const subLate = await cli(['jobs', 'submit', late, '--out', out, ...queueArgs, ...common]);
    expect(subLate.code, subLate.stderr).toBe(0);
    await truncate(late, half);

    startWorker('b1', '--queue', 'batch', '--concurrency', '2');
    const watch = await cli(['jobs', 'status', '--watch', '--json', '--interval', '1', ...queueArgs], 240_000);
    expect(watch.code, watch.stderr).toBe(9);
    const jobs = (JSON.parse(watch.stdout.trim().split('\n').at(-1)!) as { jobs: JobStatus[] }).jobs;
    const byName = Object.fromEntries(jobs.map((j) => [path.basename(j.input), j]));
    const goodFrames = (await md5s(path.join(inDir, 'good.mp4'), 'v')).length;
    expect(byName['good.mp4']).toMatchObject({ state: 'completed', frames: { done: goodFrames } });
    expect((await md5s(path.join(out, 'good.mp4'), 'v')).length).toBe(goodFrames);
    expect(byName['bad.mp4']).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^E_PROBE: cannot read .*bad\.mp4 as a video/) });
    // The typed error crossed submit → queue → worker → failure record → status as data, not as text.
    expect(byName['bad.mp4']!.error).toMatchObject({ code: 'E_PROBE', message: expect.stringMatching(/^cannot read .*bad\.mp4 as a video/) });
    expect(byName['cut.mp4']).toMatchObject({ state: 'failed', reason: expect.stringContaining('truncated or corrupt'), error: { code: 'E_DECODE' } });
    expect(byName['late.mp4']!.state).toBe('failed');
    expect(byName['late.mp4']!.reason).toMatch(/^segment \d of 5 failed after 1 attempt\(s\): E_DECODE: /);
    // Several segments may fail (two run at once); the job's error is the one that failed first, details included.
    const failedSegs = byName['late.mp4']!.segmentList.filter((s) => s.state === 'failed' && s.error);
    expect(failedSegs.length).toBeGreaterThan(0);
    for (const seg of failedSegs) expect([seg.attempts, seg.error!.code]).toEqual([1, 'E_DECODE']);
    const jobError = byName['late.mp4']!.error!;
    expect(failedSegs.map((s) => s.error)).toContainEqual(jobError);
    expect(jobError.details).toEqual(expect.any(Object));
    expect(byName['late.mp4']!.reason).toContain(jobError.message);
    expect(byName['good.mp4']!.error).toBeNull();
    // Watching one failed job exits with its revived error's code (3: bad input media).
    const one = await cli(['jobs', 'status', byName['late.mp4']!.id, '--watch', '--json', ...queueArgs]);
    expect(one.code, one.stderr).toBe(3);
    expect(JSON.parse(one.stdout.trim().split('\n').at(-1)!).error.code).toBe('E_DECODE');
    // Only the good output, no partial file; the failed job keeps its finished segments for a resubmission.
    expect((await readdir(out)).filter((f) => !f.startsWith('.facerestore-work'))).toEqual(['good.mp4']);
    const work = path.join(out, '.facerestore-work', byName['late.mp4']!.id);
    // Segment files, their records (seg-NNNNN.json) and the submit record, or partial files.
    const left = await readdir(work);
    expect(left).toContain('submitted.json');
    expect(left.every((f) => /^seg-\d{5}\.(mp4|json)$/.test(f) || f === 'submitted.json' || f.endsWith('.partial'))).toBe(true);
    await stopWorker(workers.get('b1')!);
  });

  it('a join whose segment files are gone (work folder deleted, Redis rolled back) restores them itself', { timeout: 240_000 }, async () => {
    const clip = path.join(tmp, 'short.mp4');
    await run('ffmpeg', ['-v', 'error', '-i', shared('footage/retalk_2.mp4'), '-t', '1.6', '-c', 'copy', clip]);
    const out = path.join(tmp, 'regen-out');
    const planned = await planJob(clip, { outDir: out, pipeline: { restorer: 'none', track: false }, encode: { codec: 'libx264', crf: 0, preset: 'ultrafast', deterministic: true }, segmentSeconds: 0.5, warmupSeconds: 0 });
    const queue = await JobQueue.create({ redisUrl: redis.url, queueName: 'regen' });
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    try {
      await queue.submit([planned]);
      // Complete the segment jobs by hand without writing any file or record: the join finds nothing.
      const fake = new Worker('regen', null, { connection: conn, prefix: 'bull', autorun: false });
      for (let i = 0; i < planned.spec.segments.length; i++) {
        const job = await fake.getNextJob('fake-token');
        expect(job?.name).toBe('segment');
        await job!.moveToCompleted({ fake: true }, 'fake-token', false);
      }
      await fake.close();
      startWorker('r1', '--queue', 'regen');
      const s = await pollUntil('the join', 180_000, async () => {
        const st = await queue.status(planned.id);
        return st && isFinished(st) ? st : undefined;
      });
      expect(s.state, s.reason ?? '').toBe('completed');
      expect((await md5s(path.join(out, 'short.mp4'), 'v')).length).toBe((await md5s(clip, 'v')).length);
      expect(await readdir(out)).toEqual(['short.mp4']);
      expect((await logOf('r1')).filter((l) => l.msg === 'segment file missing at join: restoring it again')).toHaveLength(planned.spec.segments.length);
    } finally {
      await stopWorker(workers.get('r1')!);
      await queue.close();
      conn.disconnect();
    }
  });
});
