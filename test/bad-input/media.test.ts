/**
 * Media whose metadata would multiply the work or hide what the file holds, generated here with ffmpeg:
 * a frame's timestamp forged hours away (10 real frames), an audio file with cover art. Plans rest on the
 * packets the file really holds; a forged plan is refused with E_PROBE naming the frames and the timing,
 * nothing is written and an existing output stays byte for byte as it was.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTimeline } from '../../src/apps/jobs/timeline.ts';
import { probeVideo } from '../../src/ingest/probe.ts';
import { runCli } from '../helpers/hostileFiles.ts';
import { ffmpeg } from '../helpers/media.ts';

let base: string;
const clips = { ten: '', forged: '', cover: '' };
beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'fr-bad-media-'));
  clips.ten = path.join(base, 'ten.mp4');
  clips.forged = path.join(base, 'forged.mp4');
  clips.cover = path.join(base, 'cover.m4a');
  await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=10', '-frames:v', '10', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', clips.ten);
  // The last frame's timestamps pushed 5 hours on: 10 frames over 18001 s.
  await ffmpeg('-i', clips.ten, '-c', 'copy', '-bsf:v', 'setts=pts=if(eq(N\\,9)\\,PTS+18000/TB\\,PTS):dts=if(eq(N\\,9)\\,DTS+18000/TB\\,DTS)', clips.forged);
  await ffmpeg('-f', 'lavfi', '-i', 'sine=duration=1', '-f', 'lavfi', '-i', 'color=red:size=32x32:duration=0.04', '-map', '0:a', '-map', '1:v', '-c:a', 'aac', '-c:v', 'mjpeg', '-frames:v', '1', '-disposition:v', 'attached_pic', clips.cover);
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function hashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(dir)) out[name] = createHash('sha256').update(await readFile(path.join(dir, name))).digest('hex');
  return out;
}

describe('forged or misleading media metadata', () => {
  it('plans from the packets the file holds: a constant-rate clip counts its 10 frames', async () => {
    const info = await probeVideo(clips.ten);
    expect(info.frameCount).toBe(10);
    expect(info.frameCountExact).toBe(true);
  });

  it('a timestamp forged 5 hours on is refused by probing (no 18001 s plan of 10 frames)', async () => {
    await expect(probeVideo(clips.forged)).rejects.toMatchObject({ code: 'E_PROBE', message: expect.stringMatching(/holds 10 video frames spread over 18001 s .*forged or broken/) });
  });

  it('the jobs timeline refuses a packet list whose gaps would make thousands of slots', () => {
    const packets = Array.from({ length: 10 }, (_, i) => ({ pts: i === 9 ? 30 * 18000 : i, key: i === 0 }));
    const probe = { packets, timeBase: [1, 30] as [number, number], startTime: 0, missingPts: false, packetsRead: 10, declaredFrames: 10 };
    expect(() => buildTimeline(probe, { path: '/in/forged.mp4', frameRate: '30/1', fps: 30, variableFrameRate: true, duration: 18000 })).toThrow(
      expect.objectContaining({ code: 'E_PROBE', message: expect.stringMatching(/holds 10 video frames but its timestamps .* would make 540001 output frames/) }),
    );
  });

  for (const [what, args] of [
    ['restore', (d: string) => ['restore', clips.forged, '-o', path.join(d, 'out.mp4'), '--no-progress']],
    ['track', (d: string) => ['track', clips.forged, '--json', path.join(d, 'out.json'), '--no-progress']],
  ] as const) {
    it(`${what} on the forged clip: exit 3 E_PROBE, existing output untouched, nothing else written`, async () => {
      const dir = path.join(base, what);
      await mkdir(dir);
      await writeFile(path.join(dir, what === 'restore' ? 'out.mp4' : 'out.json'), 'previous output');
      const before = await hashes(dir);
      const r = await runCli(args(dir));
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/facerestore: error \[E_PROBE\]: input .*forged\.mp4 holds 10 video frames spread over 18001 s/);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(await hashes(dir)).toEqual(before);
      expect(r.peakRssMiB).toBeLessThan(400);
    });
  }

  it('an audio file with cover art is not a 90000 fps video: exit 3 E_NO_VIDEO naming the cover image', async () => {
    const dir = path.join(base, 'cover');
    await mkdir(dir);
    const r = await runCli(['restore', clips.cover, '-o', path.join(dir, 'out.mp4'), '--no-progress']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/error \[E_NO_VIDEO\]: input .*cover\.m4a has no video stream \(streams: audio, cover image\)/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a variable-rate clip is resampled with a warning that counts exactly what ffmpeg dropped and duplicated', async () => {
    const dir = await mkdtemp(path.join(base, 'vfr-'));
    const vfr = path.join(dir, 'gap.mp4');
    // Frames 5..9 pushed 2 s on: a gap the constant-rate output fills with copies.
    await ffmpeg('-i', clips.ten, '-c', 'copy', '-bsf:v', 'setts=pts=if(gte(N\\,5)\\,PTS+2/TB\\,PTS):dts=if(gte(N\\,5)\\,DTS+2/TB\\,DTS)', vfr);
    const info = await probeVideo(vfr);
    expect(info.variableFrameRate).toBe(true);
    // ffmpeg's own count for the same resampling (its fps filter reports it at verbose level).
    const ref = await runFfmpegStderr(['-hide_banner', '-loglevel', 'verbose', '-i', vfr, '-vf', `fps=${info.frameRate}`, '-f', 'null', '-']);
    const m = /(\d+) frames in, (\d+) frames out; (\d+) frames dropped, (\d+) frames duplicated/.exec(ref)!;
    expect(m, ref).not.toBeNull();
    const r = await runCli(['restore', vfr, '-o', path.join(dir, 'out.mp4'), '--no-progress', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { frames: number; resampled: { dropped: number; duplicated: number } };
    expect(summary.resampled).toMatchObject({ sourceFrames: Number(m[1]), outputFrames: Number(m[2]), dropped: Number(m[3]), duplicated: Number(m[4]) });
    expect(summary.resampled.dropped + summary.resampled.duplicated).toBeGreaterThan(0);
    expect(summary.frames).toBe(Number(m[2]));
    expect(r.stderr).toMatch(new RegExp(`warning: variable frame rate: 10 source frames resampled to ${m[2]} .*\\(${m[3]} dropped, ${m[4]} duplicated\\)`));
  });

  it('a constant-rate clip reports no resampling', async () => {
    const r = await runCli(['restore', clips.ten, '-o', path.join(await mkdtemp(path.join(base, 'cfr-')), 'out.mp4'), '--no-progress', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).not.toHaveProperty('resampled');
    expect(r.stderr).not.toMatch(/variable frame rate/);
  });
});

async function runFfmpegStderr(args: string[]): Promise<string> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const p = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', () => resolve(err));
  });
}
