/**
 * Job faults against a real redis-server: a clip whose timing is forged (10 frames, one timestamp 5 hours
 * on) is planned from its packets and queued to fail with E_PROBE, never as hours of segments, and
 * `jobs status` lists it. A job whose Redis data is lost (FLUSHALL) is reported `lost` from its submit record.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { runCli } from '../helpers/hostileFiles.ts';
import { ffmpeg } from '../helpers/media.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

let base: string;
let redis: TestRedis;
let forged: string;
let ten: string;
beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'fr-bad-jobs-'));
  redis = await startRedis();
  ten = path.join(base, 'ten.mp4');
  forged = path.join(base, 'forged.mp4');
  await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=10', '-frames:v', '10', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', ten);
  await ffmpeg('-i', ten, '-c', 'copy', '-bsf:v', 'setts=pts=if(eq(N\\,9)\\,PTS+18000/TB\\,PTS):dts=if(eq(N\\,9)\\,DTS+18000/TB\\,DTS)', forged);
});
afterAll(async () => {
  await redis?.stop();
  await rm(base, { recursive: true, force: true });
});

describe('jobs with forged input', () => {
  it('jobs submit of a forged-timing clip queues it to fail with E_PROBE (no segments), exit 9, nothing written', async () => {
    const out = path.join(base, 'out');
    await mkdir(out);
    const r = await runCli(['jobs', 'submit', forged, '--out', out, '--redis', redis.url, '--queue', 'forged', '--segment-seconds', '1']);
    expect(r.code, r.stderr).toBe(9);
    expect(r.stdout).toMatch(/forged\.mp4: queued to fail: E_PROBE: input .*forged\.mp4 holds 10 video frames spread over 18001 s/);
    expect(r.stdout).not.toMatch(/segments\)/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(await readdir(out)).toEqual([]);
    expect(r.peakRssMiB).toBeLessThan(400);
    const status = await runCli(['jobs', 'status', '--json', '--redis', redis.url, '--queue', 'forged']);
    const jobs = (JSON.parse(status.stdout) as { jobs: Array<{ input: string; segments: unknown }> }).jobs;
    expect(jobs.map((j) => path.basename(j.input))).toEqual(['forged.mp4']);
  });
});

describe('jobs when Redis loses its data', () => {
  it('a job submitted before a FLUSHALL is reported lost (exit 9, E_JOB, what to do), only with --out; nothing else is touched', async () => {
    const out = path.join(base, 'lost-out');
    await mkdir(out);
    // An unrelated file already in the output folder stays as it is.
    await writeFile(path.join(out, 'keep.txt'), 'mine');
    const sub = await runCli(['jobs', 'submit', ten, '--out', out, '--redis', redis.url, '--queue', 'lost', '--segment-seconds', '0.5', '--json']);
    expect(sub.code, sub.stderr).toBe(0);
    const { id, segments } = (JSON.parse(sub.stdout) as Array<{ id: string; segments: number }>)[0]!;
    expect(segments).toBe(2);
    const conn = new Redis(redis.url);
    try {
      expect(await conn.flushall()).toBe('OK');
    } finally {
      conn.disconnect();
    }
    const st = await runCli(['jobs', 'status', id, '--out', out, '--json', '--redis', redis.url, '--queue', 'lost']);
    expect(st.code, st.stderr).toBe(9);
    const s = JSON.parse(st.stdout) as { state: string; error: { code: string; message: string; details: Record<string, unknown> } };
    expect(s.state).toBe('lost');
    expect(s.error.code).toBe('E_JOB');
    expect(s.error.message).toMatch(new RegExp(`job ${id} was submitted but Redis no longer has it .*0 of 2 segments are finished .*run \`facerestore jobs submit\` with the same input and --out again`));
    expect(s.error.details).toMatchObject({ lost: true, finishedSegments: 0, segments: 2 });
    // Without --out there is nothing to compare with: "no job", and where to look.
    const bare = await runCli(['jobs', 'status', id, '--redis', redis.url, '--queue', 'lost']);
    expect(bare.code).toBe(9);
    expect(bare.stderr).toMatch(new RegExp(`error \\[E_JOB\\]: no job ${id} in queue lost \\(pass --out <folder> to look for it among jobs Redis lost\\)`));
    expect(bare.stderr).not.toMatch(/^\s+at /m);
    expect((await readdir(out)).sort()).toEqual(['.facerestore-work', 'keep.txt']);
    expect(await readFile(path.join(out, 'keep.txt'), 'utf8')).toBe('mine');
    const work = path.join(out, '.facerestore-work', id);
    expect(await readdir(work)).toEqual(['submitted.json']);

    // Submitting again resumes it (nothing finished: both segments queued again).
    const again = await runCli(['jobs', 'submit', ten, '--out', out, '--redis', redis.url, '--queue', 'lost', '--segment-seconds', '0.5']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`${id}  ten\\.mp4: resumed after Redis lost it \\(2 of 2 segments queued again; 0 finished are reused\\)`));
    // A submit record whose plan differs from today's (another version planned it): its segment records are not trusted.
    const conn2 = new Redis(redis.url);
    try {
      expect(await conn2.flushall()).toBe('OK');
    } finally {
      conn2.disconnect();
    }
    const rec = JSON.parse(await readFile(path.join(work, 'submitted.json'), 'utf8')) as { spec: { segments: Array<{ firstFrame: number }> } };
    rec.spec.segments[1]!.firstFrame += 1;
    await writeFile(path.join(work, 'submitted.json'), JSON.stringify(rec));
    await writeFile(path.join(work, 'seg-00000.json'), '{}');
    const changed = await runCli(['jobs', 'submit', ten, '--out', out, '--redis', redis.url, '--queue', 'lost', '--segment-seconds', '0.5', '--json']);
    expect(changed.code, changed.stderr).toBe(0);
    expect(JSON.parse(changed.stdout)[0]).toMatchObject({ id, outcome: 'added' });
    expect(await readdir(work)).toEqual(['submitted.json']);
    expect(JSON.parse(await readFile(path.join(work, 'submitted.json'), 'utf8')).spec.segments[1].firstFrame).toBe(rec.spec.segments[1]!.firstFrame - 1);
  });
});
