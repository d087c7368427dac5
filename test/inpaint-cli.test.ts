import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frameMask } from '../src/compose/inpaintMask.ts';
import { maskImageArgs } from '../src/ingest/maskImage.ts';
import type { FivePoints } from '../src/types.ts';
import { i420Layout } from '../src/util/yuv.ts';
import { runFacerestore } from './helpers/cli.ts';
import { ffmpeg, firstFrames as frames } from './helpers/media.ts';

const CLIP = fileURLToPath(new URL('../../shared/footage/retalk_1.mp4', import.meta.url));
const INPAINT_MODEL = fileURLToPath(new URL('../../shared/fixtures/codeformer-inpainting-small/codeformer_inpainting_small.pth', import.meta.url));
const W = 700;
const H = 700;

describe('--inpaint-mask on retalk_1.mp4 with the fixture inpainting model', () => {
  let dir: string;
  let input: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'inpaint-'));
    input = path.join(dir, 'in.mp4');
    await ffmpeg('-i', CLIP, '-t', '0.4', '-c:v', 'libx264', '-crf', '0', '-preset', 'ultrafast', '-c:a', 'aac', input);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('changes only the masked part of the face (plus the feather band), and that part changes', async () => {
    // Where the face is: the tracks of a pass-through run.
    const tracks = path.join(dir, 'tracks.json');
    const pass = await runFacerestore(['restore', input, '-o', path.join(dir, 'pass.mp4'), '--restorer', 'none', '--tracks-json', tracks, '--no-progress'], {});
    expect(pass.code, pass.stderr).toBe(0);
    const doc = JSON.parse(await readFile(tracks, 'utf8')) as { frames: Array<{ faces: Array<{ points: FivePoints }> }> };
    const p = doc.frames[0]!.faces[0]!.points;
    // A rectangle over the mouth (between the mouth corners, up to the nose): white = missing.
    const x0 = Math.round(Math.min(p[3][0], p[4][0]) - 5);
    const x1 = Math.round(Math.max(p[3][0], p[4][0]) + 5);
    const y0 = Math.round(p[2][1] + 5);
    const y1 = Math.round(Math.max(p[3][1], p[4][1]) + 15);
    const mask = new Uint8Array(W * H);
    for (let y = y0; y < y1; y++) mask.fill(255, y * W + x0, y * W + x1);
    const raw = path.join(dir, 'mask.gray');
    await writeFile(raw, mask);
    const png = path.join(dir, 'mask.png');
    await ffmpeg('-f', 'rawvideo', '-pix_fmt', 'gray', '-s', `${W}x${H}`, '-i', raw, png);

    const out = path.join(dir, 'out.mp4');
    const r = await runFacerestore(['restore', input, '-o', out, '--inpaint-mask', png, '--inpaint-model', INPAINT_MODEL, '--crf', '0', '--preset', 'ultrafast', '--no-progress', '--threads', '2'], { FACERESTORE_CACHE_DIR: path.join(dir, 'cache') });
    expect(r.code, r.stderr).toBe(0);
    // Allowed: the mask grown by the feather band (2 × 4 px) plus a pixel or two of bilinear reach (nonzero within 10 px).
    const allowed = frameMask(Uint8Array.from(mask, (v) => (v ? 1 : 0)), W, H, 5).weights;
    const a = await frames(input, 4);
    const b = await frames(out, 4);
    const { cw, uOff, vOff } = i420Layout(W, H);
    let insideDiff = 0;
    let inside = 0;
    for (let n = 0; n < 4; n++) {
      let outside = 0;
      for (let i = 0; i < W * H; i++) {
        const d = Math.abs(a[n]!.data[i]! - b[n]!.data[i]!);
        if (mask[i]) {
          insideDiff += d;
          inside++;
        } else if (d && !allowed[i]) outside++;
      }
      for (let i = 0; i < (W / 2) * (H / 2); i++) {
        const lx = (i % cw) * 2;
        const ly = Math.floor(i / cw) * 2;
        const changed = a[n]!.data[uOff + i] !== b[n]!.data[uOff + i] || a[n]!.data[vOff + i] !== b[n]!.data[vOff + i];
        if (changed && !allowed[ly * W + lx] && !allowed[(ly + 1) * W + lx + 1]) outside++;
      }
      expect(outside, `frame ${n}: samples changed outside the mask and its feather`).toBe(0);
    }
    console.info(`inpaint: mean |ΔY| inside the mask ${(insideDiff / inside).toFixed(1)} over ${inside} pixels`);
    expect(insideDiff / inside).toBeGreaterThan(5);
  });

  it('the mask reader takes an image file through file: and scales it to the frame with hard edges', () => {
    expect(maskImageArgs('/m/a b.png', 640, 360)).toEqual(['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', 'file:/m/a b.png', '-frames:v', '1', '-vf', 'scale=640:360:flags=neighbor,format=gray', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1']);
  });
});
