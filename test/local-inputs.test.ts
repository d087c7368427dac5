import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeVideo } from '../src/ingest/probe.ts';
import { childPids, ffmpeg, ffprobeJson } from './helpers/media.ts';
import { repo } from './helpers/paths.ts';

/**
 * Local inputs whose names ffmpeg would read as something else (a protocol, an option) reach ffmpeg and
 * ffprobe as the local files they are, through the probe, the decoder and the encoder's audio copy.
 * Every hostile file has its own size, frame count and 44.1 kHz audio; the decoys a name could lead to
 * have other sizes and 8 kHz audio, so the output says which file was read. A hang would show as the
 * CLI being killed by its time limit (a generous one; no timing is asserted).
 */

let tmp: string;
const HOSTILE: Array<{ name: string; width: number; height: number; frames: number }> = [
  { name: 'pipe:0', width: 80, height: 48, frames: 6 },
  { name: 'concat:a.mp4|b.mp4', width: 96, height: 48, frames: 7 },
  // A relative path that looks like a URL: folders `http:` and `host` hold x.mp4.
  { name: 'http://host/x.mp4', width: 112, height: 64, frames: 8 },
  { name: '-x.mp4', width: 48, height: 80, frames: 4 },
];

/** A clip of `frames` frames at 10 fps with a tone at `rate` Hz, written under a plain name, then renamed to `name`. */
async function clip(name: string, width: number, height: number, frames: number, rate: number): Promise<void> {
  const plain = path.join(tmp, `.gen-${process.pid}-${Math.random().toString(36).slice(2)}.mp4`);
  const seconds = String(frames / 10);
  await ffmpeg('-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=10:duration=${seconds}`, '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${rate}:duration=${seconds}`, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', plain);
  const target = path.join(tmp, name);
  await mkdir(path.dirname(target), { recursive: true });
  await rename(plain, target);
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [repo('bin/facerestore.mjs'), ...args], { cwd: tmp, timeout: 150_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr: stderr + ((err as { killed?: boolean } | null)?.killed ? ' (killed: time limit)' : '') });
    });
  });
}

const cwd = process.cwd();
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-local-inputs-'));
  await clip('a.mp4', 64, 64, 5, 8000);
  await clip('b.mp4', 64, 64, 5, 8000);
  for (const h of HOSTILE) await clip(h.name, h.width, h.height, h.frames, 44100);
  // An audio file with a cover image: ffprobe lists the image as a video stream (mjpeg, 90000 fps).
  await ffmpeg('-f', 'lavfi', '-i', 'sine=duration=1', '-f', 'lavfi', '-i', 'color=red:s=64x64:d=0.1', '-map', '0:a', '-map', '1:v', '-frames:v', '1', '-c:a', 'libmp3lame', '-c:v', 'mjpeg', '-id3v2_version', '3', '-disposition:v:0', 'attached_pic', path.join(tmp, 'cover.mp3'));
});
afterAll(async () => {
  process.chdir(cwd);
  await rm(tmp, { recursive: true, force: true });
});

describe('hostile local file names', () => {
  it('the probe reads each named file (relative names, from its folder)', async () => {
    process.chdir(tmp);
    try {
      for (const h of HOSTILE) {
        const info = await probeVideo(h.name);
        expect([info.width, info.height, info.frameCount], h.name).toEqual([h.width, h.height, h.frames]);
        expect(info.audio?.sampleRate, h.name).toBe(44100);
      }
      await expect(probeVideo('pipe:1')).rejects.toMatchObject({ code: 'E_INPUT_MISSING' });
    } finally {
      process.chdir(cwd);
    }
  });

  for (const h of HOSTILE) {
    it(`restore '${h.name}': that file's frames and audio, nothing else, no hang`, { timeout: 200_000 }, async () => {
      const out = `out-${HOSTILE.indexOf(h)}.mp4`;
      // `--` so that a name starting with '-' is an argument for the CLI too.
      const r = await cli(['restore', '-o', out, '--restorer', 'none', '--no-track', '--no-progress', '--preset', 'ultrafast', '--', h.name]);
      expect(r.code, r.stderr).toBe(0);
      const probe = await ffprobeJson(path.join(tmp, out));
      const v = probe.streams.find((s) => s.codec_type === 'video')!;
      const a = probe.streams.find((s) => s.codec_type === 'audio');
      expect([v.width, v.height, Number(v.nb_read_frames)]).toEqual([h.width, h.height, h.frames]);
      expect(Number(a?.sample_rate)).toBe(44100);
    });
  }
});

describe('cover images are not video', () => {
  it('an audio file with a cover image is E_NO_VIDEO, from the library and the CLI', { timeout: 200_000 }, async () => {
    const err = await probeVideo(path.join(tmp, 'cover.mp3')).catch((e) => e);
    expect(err).toMatchObject({ code: 'E_NO_VIDEO', message: expect.stringContaining('has no video stream (streams: audio, cover image)') });
    const r = await cli(['restore', 'cover.mp3', '-o', 'cover-out.mp4', '--no-progress']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/E_NO_VIDEO/);
    expect((await readdir(tmp)).filter((f) => f.startsWith('cover-out') || f.includes('.partial'))).toEqual([]);
    expect(await childPids()).toEqual([]);
  });
});
