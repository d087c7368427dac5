/**
 * Job faults against a real redis-server: a clip whose timing is forged (10 frames, one timestamp 5 hours
 * on) is planned from its packets and queued to fail with E_PROBE, never as hours of segments, and
 * `jobs status` lists it.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/hostileFiles.ts';
import { ffmpeg } from '../helpers/media.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

let base: string;
let redis: TestRedis;
let forged: string;
beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'fr-bad-jobs-'));
  redis = await startRedis();
  const ten = path.join(base, 'ten.mp4');
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
