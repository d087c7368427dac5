import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resizeI420 } from '../src/compose/resize.ts';
import { alignmentAtScale } from '../src/engine/upscale.ts';
import { applyAffine } from '../src/compose/align.ts';
import type { VideoFrame } from '../src/types.ts';
import { i420Layout } from '../src/util/yuv.ts';
import { runFacerestore } from './helpers/cli.ts';
import { decodeFrames, ffprobeJson } from './helpers/media.ts';

const CLIP = fileURLToPath(new URL('../../shared/footage/short_hamilton_clip.mp4', import.meta.url));
const X2 = fileURLToPath(new URL('../../shared/fixtures/realesrgan-small/realesrgan_x2plus_small.pth', import.meta.url));

describe('--upscale 2 on short_hamilton_clip.mp4 (640×360)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'upscale-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('with the fixture RRDBNet x2 as --bg-upsampler writes a 1280×720 video with audio; a x4 model for --upscale 2 is refused', async () => {
    const out = path.join(dir, 'x2.mp4');
    const r = await runFacerestore(['restore', CLIP, '-o', out, '--upscale', '2', '--bg-upsampler', X2, '--duration', '1.2', '--no-progress', '--threads', '2'], { FACERESTORE_CACHE_DIR: path.join(dir, 'cache') });
    expect(r.code, r.stderr).toBe(0);
    const probe = await ffprobeJson(out);
    const video = probe.streams.find((s) => s.codec_type === 'video')!;
    expect([video.width, video.height]).toEqual([1280, 720]);
    expect(probe.streams.some((s) => s.codec_type === 'audio')).toBe(true);
    expect(Number(video.nb_read_frames)).toBeGreaterThanOrEqual(5);

    const bad = await runFacerestore(['restore', CLIP, '-o', path.join(dir, 'bad.mp4'), '--upscale', '2', '--bg-upsampler', X2.replace('x2plus', 'x4plus'), '--duration', '1', '--no-progress'], { FACERESTORE_CACHE_DIR: path.join(dir, 'cache') });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is ×4');
  });

  it('--face-upsample runs the upsampler on the restored faces too: only the face regions differ from the run without it', async () => {
    const env = { FACERESTORE_CACHE_DIR: path.join(dir, 'cache') };
    const common = [CLIP, '--upscale', '2', '--bg-upsampler', X2, '--duration', '1', '--no-progress', '--threads', '2', '--crf', '0', '--preset', 'ultrafast'];
    const plainOut = path.join(dir, 'faces-plain.mp4');
    const upOut = path.join(dir, 'faces-up.mp4');
    const tracks = path.join(dir, 'tracks.json');
    expect((await runFacerestore(['restore', ...common, '-o', plainOut, '--tracks-json', tracks], env)).code).toBe(0);
    const r = await runFacerestore(['restore', ...common, '-o', upOut, '--face-upsample'], env);
    expect(r.code, r.stderr).toBe(0);
    const { readFile } = await import('node:fs/promises');
    const { alignmentFor, cropFootprint } = await import('../src/compose/align.ts');
    const doc = JSON.parse(await readFile(tracks, 'utf8')) as { frames: Array<{ faces: Array<{ points: [number, number][] }> }> };
    const first = async (f: string): Promise<VideoFrame> => {
      for await (const fr of decodeFrames(f)) return fr;
      throw new Error('no frame');
    };
    const a = await first(plainOut);
    const b = await first(upOut);
    expect([b.width, b.height]).toEqual([1280, 720]);
    const boxes = doc.frames[0]!.faces.map((f) => cropFootprint(alignmentFor(f.points as never), 640, 360));
    expect(boxes.length).toBeGreaterThan(0);
    const inFace = (x: number, y: number): boolean => boxes.some((q) => x / 2 >= q.x - 2 && x / 2 < q.x + q.width + 2 && y / 2 >= q.y - 2 && y / 2 < q.y + q.height + 2);
    let inside = 0;
    let outside = 0;
    for (let y = 0; y < 720; y++) for (let x = 0; x < 1280; x++) if (a.data[y * 1280 + x] !== b.data[y * 1280 + x]) inFace(x, y) ? inside++ : outside++;
    expect(outside).toBe(0);
    expect(inside).toBeGreaterThan(1000);
    const refused = await runFacerestore(['restore', CLIP, '-o', path.join(dir, 'no.mp4'), '--upscale', '2', '--face-upsample', '--duration', '1', '--no-progress'], env);
    expect(refused.code).toBe(2);
  });

  it('without an upsampler, --upscale 2 is a bicubic resize: the output frame is the input frame doubled', async () => {
    const out = path.join(dir, 'plain.mp4');
    const r = await runFacerestore(['restore', CLIP, '-o', out, '--upscale', '2', '--restorer', 'none', '--duration', '1', '--no-progress', '--crf', '0', '--preset', 'ultrafast'], {});
    expect(r.code, r.stderr).toBe(0);
    let input: VideoFrame | undefined;
    for await (const f of decodeFrames(CLIP)) {
      input = f;
      break;
    }
    let output: VideoFrame | undefined;
    for await (const f of decodeFrames(out)) {
      output = f;
      break;
    }
    expect([output!.width, output!.height]).toEqual([1280, 720]);
    const want = resizeI420(input!, 2);
    let sum = 0;
    const n = i420Layout(1280, 720).uOff;
    for (let i = 0; i < n; i++) sum += Math.abs(want.data[i]! - output!.data[i]!);
    expect(sum / n).toBeLessThan(0.6); // lossless x264 of the same frame: rounding only
  });
});

describe('bicubic resize and alignment at scale', () => {
  it('a constant plane stays constant, a ramp stays a ramp, and the face alignment maps s·p to the same crop point', () => {
    const f: VideoFrame = { index: 0, pts: 0, width: 8, height: 4, data: new Uint8Array(i420Layout(8, 4).size).fill(100) };
    for (let y = 0; y < 4; y++) for (let x = 0; x < 8; x++) f.data[y * 8 + x] = 10 * x;
    const g = resizeI420(f, 2);
    expect([g.width, g.height]).toEqual([16, 8]);
    expect(g.data.subarray(i420Layout(16, 8).uOff).every((v) => v === 100)).toBe(true);
    for (let X = 2; X < 14; X++) expect(Math.abs(g.data[3 * 16 + X]! - 10 * ((X + 0.5) / 2 - 0.5))).toBeLessThanOrEqual(0.5);
    const A = [0.8, -0.1, 30, 0.1, 0.8, -12] as const;
    const q = applyAffine(A, [100, 50]);
    const q2 = applyAffine(alignmentAtScale(A, 4), [400, 200]);
    expect(q2[0]).toBeCloseTo(q[0], 9);
    expect(q2[1]).toBeCloseTo(q[1], 9);
  });
});
