import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignmentFor, cropFootprint } from '../src/compose/align.ts';
import { isGrayscale } from '../src/compose/chroma.ts';
import type { Box, FivePoints } from '../src/types.ts';
import { i420Layout } from '../src/util/yuv.ts';
import { runFacerestore } from './helpers/cli.ts';
import { ffmpeg, firstFrames as frames } from './helpers/media.ts';

const CLIP = fileURLToPath(new URL('../../shared/footage/retalk_1.mp4', import.meta.url));
const COLOR_MODEL = fileURLToPath(new URL('../../shared/fixtures/codeformer-colorization-small/codeformer_colorization_small.pth', import.meta.url));

describe('--colorize on a grayscale retalk_1.mp4 (made here) with the fixture colorization model', () => {
  let dir: string;
  let gray: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'colorize-'));
    gray = path.join(dir, 'gray.mp4');
    // Lossless, so the decoded gray frames are the reference for the background.
    await ffmpeg('-i', CLIP, '-t', '0.5', '-vf', 'hue=s=0', '-c:v', 'libx264', '-crf', '0', '-preset', 'ultrafast', '-c:a', 'aac', gray);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('faces get chroma; outside the faces the frame stays as it was (gray, same luma)', async () => {
    const [first] = await frames(gray, 1);
    expect(isGrayscale(first!)).toBe(true);
    const out = path.join(dir, 'colour.mp4');
    const tracks = path.join(dir, 'tracks.json');
    const r = await runFacerestore(['restore', gray, '-o', out, '--colorize', 'auto', '--colorize-model', COLOR_MODEL, '--tracks-json', tracks, '--crf', '0', '--preset', 'ultrafast', '--no-progress', '--threads', '2'], { FACERESTORE_CACHE_DIR: path.join(dir, 'cache') });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(await readFile(tracks, 'utf8')) as { frames: Array<{ faces: Array<{ points: FivePoints }> }> };
    const inputs = await frames(gray, 4);
    const outputs = await frames(out, 4);
    expect(outputs.length).toBe(4);
    let faceChroma = 0;
    let faceSamples = 0;
    for (let n = 0; n < 4; n++) {
      const a = inputs[n]!;
      const b = outputs[n]!;
      const { width: W, height: H } = a;
      const boxes: Box[] = doc.frames[n]!.faces.map((f) => cropFootprint(alignmentFor(f.points), W, H));
      expect(boxes.length).toBeGreaterThan(0);
      const inside = (x: number, y: number): boolean => boxes.some((q) => x >= q.x - 2 && x < q.x + q.width + 2 && y >= q.y - 2 && y < q.y + q.height + 2);
      const { cw, ch, uOff, vOff } = i420Layout(W, H);
      let outsideDiff = 0;
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (!inside(x, y) && a.data[y * W + x] !== b.data[y * W + x]) outsideDiff++;
      for (let cy = 0; cy < ch; cy++) {
        for (let cx = 0; cx < cw; cx++) {
          const i = cy * cw + cx;
          const chroma = Math.abs(b.data[uOff + i]! - 128) + Math.abs(b.data[vOff + i]! - 128);
          if (inside(2 * cx, 2 * cy)) {
            faceChroma += chroma;
            faceSamples++;
          } else if (b.data[uOff + i] !== a.data[uOff + i] || b.data[vOff + i] !== a.data[vOff + i]) outsideDiff++;
        }
      }
      expect(outsideDiff, `frame ${n}: samples changed outside the faces`).toBe(0);
    }
    const meanFaceChroma = faceChroma / faceSamples;
    console.info(`colorize: mean |U−128|+|V−128| inside the face footprints ${meanFaceChroma.toFixed(2)}`);
    expect(meanFaceChroma).toBeGreaterThan(3);
  });
});
