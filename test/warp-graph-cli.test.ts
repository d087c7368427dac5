import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFacerestore } from './helpers/cli.ts';
import { shared } from './helpers/paths.ts';

// `--warp graph` through the real CLI (fixture CodeFormer, CPU provider): the restorer warps each frame's faces in
// its own graph. The fixture's random weights turn a one-level change of a crop into a mean of about 50 levels of
// output (measured), so the two warp modes' faces cannot be compared pixel for pixel here; what must hold is that
// faces change and nothing far from them does. Crop-level equality is in test/frameRestorer.test.ts.
const MODEL = shared('fixtures/codeformer-small/codeformer_small.pth');
const STILL = shared('stills/obama-240p.jpg');
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-warpgraph-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface Box { x: number; y: number; width: number; height: number }
const rgb = async (file: string) => sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
/** Pixels of a w-wide RGB pair where `where` holds: how many differ. */
function changed(a: Uint8Array, b: Uint8Array, w: number, where: (x: number, y: number) => boolean): { changed: number; n: number } {
  let c = 0, n = 0;
  for (let p = 0; p < a.length / 3; p++) {
    if (!where(p % w, Math.floor(p / w))) continue;
    n++;
    if (a[p * 3] !== b[p * 3] || a[p * 3 + 1] !== b[p * 3 + 1] || a[p * 3 + 2] !== b[p * 3 + 2]) c++;
  }
  return { changed: c, n };
}
const near = (boxes: Box[], pad: number) => (x: number, y: number) => boxes.some((b) => x >= b.x - pad && x < b.x + b.width + pad && y >= b.y - pad && y < b.y + b.height + pad);

describe('restore --warp graph', () => {
  it('a photo: the frame restorer runs, the face changes, pixels far from it are the input\'s own', async () => {
    const out = path.join(tmp, 'graph.png');
    const r = await runFacerestore(['restore', STILL, '-o', out, '--model', MODEL, '--warp', 'graph', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/restorer: frame-codeformer:codeformer_small\.pth \(cpu\)/);
    const s = JSON.parse(r.stdout);
    expect(s.restored).toBe(1);
    const a = await rgb(STILL);
    const b = await rgb(out);
    const w = a.info.width;
    expect(changed(a.data, b.data, w, near(s.boxes, 0)).changed).toBeGreaterThan(200);
    const face = s.boxes[0] as Box;
    const far = changed(a.data, b.data, w, (x, y) => !near(s.boxes, Math.max(face.width, face.height))(x, y));
    expect(far.changed).toBe(0);
    expect(far.n).toBeGreaterThan(a.data.length / 3 / 2);
  });

  it('where it cannot apply (an .onnx model, the classic restorer) it warns and warps on the CPU', async () => {
    const out = path.join(tmp, 'classic.png');
    const r = await runFacerestore(['restore', STILL, '-o', out, '--warp', 'graph']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: warp graph: restorer classic has no graph; warping on the CPU/);
  });

  it('a clip: the frame restorer runs on every frame with a face', { timeout: 300_000 }, async () => {
    const out = path.join(tmp, 'clip.mp4');
    const r = await runFacerestore(['restore', shared('footage/retalk_1.mp4'), '-o', out, '--model', MODEL, '--warp', 'graph', '--duration', '0.2', '--json', '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.restorer).toMatch(/^frame-codeformer:/);
    expect(s.frames).toBeGreaterThan(0);
    expect(s.framesWithFaces).toBe(s.frames);
    expect(s.faces).toBeGreaterThanOrEqual(s.frames);
  });
});
