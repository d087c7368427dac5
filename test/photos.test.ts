import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFacerestore } from './helpers/cli.ts';
import { ffmpeg } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';
import { selectFaces } from '../src/apps/file/runImage.ts';
import type { Face } from '../src/types.ts';

/** Runs the real CLI (classic restorer, the default without --model). */
const cli = (...args: string[]) => runFacerestore(args);

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-photos-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const rgba = async (file: string) => sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
const rgb = async (file: string) => sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
interface Box { x: number; y: number; width: number; height: number }

/** Largest |a−b| over the pixels of a w-wide RGB pair for which `where(x, y)` holds, and how many differ. */
function diff(a: Uint8Array, b: Uint8Array, w: number, ch: number, where: (x: number, y: number) => boolean) {
  let max = 0, changed = 0, n = 0;
  for (let p = 0; p < a.length / ch; p++) {
    if (!where(p % w, Math.floor(p / w))) continue;
    n++;
    let d = 0;
    for (let c = 0; c < ch; c++) d = Math.max(d, Math.abs(a[p * ch + c]! - b[p * ch + c]!));
    if (d > 0) changed++;
    max = Math.max(max, d);
  }
  return { max, changed, n };
}
const near = (boxes: Box[], pad: number) => (x: number, y: number) => boxes.some((b) => x >= b.x - pad && x < b.x + b.width + pad && y >= b.y - pad && y < b.y + b.height + pad);

describe('restore on an image', () => {
  it('restores the face of a real photo into a PNG: face changed, pixels far from it are the input\'s own', async () => {
    const out = path.join(tmp, 'obama.png');
    const r = await cli('restore', shared('stills/obama-240p.jpg'), '-o', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.restored).toBe(1);
    expect((await sharp(out).metadata()).format).toBe('png');
    const a = await rgb(shared('stills/obama-240p.jpg'));
    const b = await rgb(out);
    expect([b.info.width, b.info.height]).toEqual([a.info.width, a.info.height]);
    const w = a.info.width;
    const inFace = diff(a.data, b.data, w, 3, near(s.boxes, 0));
    expect(inFace.changed).toBeGreaterThan(200);
    // Outside twice the face box (the paste footprint is about 1.5× it), not one value differs.
    const face = s.boxes[0] as Box;
    const far = diff(a.data, b.data, w, 3, (x, y) => !near(s.boxes, Math.max(face.width, face.height))(x, y));
    expect(far).toMatchObject({ max: 0, changed: 0 });
    expect(far.n).toBeGreaterThan(a.data.length / 3 / 2); // most of the picture
  });

  it('applies EXIF orientation: a sideways-stored photo comes out upright with its face found', async () => {
    // Pixels stored rotated 90° anticlockwise, tagged orientation 6 (display rotated 90° clockwise).
    const src = path.join(tmp, 'rotated.jpg');
    await sharp(shared('stills/obama-240p.jpg')).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toFile(src);
    expect((await sharp(src).metadata()).width).toBe(240);
    const out = path.join(tmp, 'rotated-out.png');
    const r = await cli('restore', src, '-o', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    const m = await sharp(out).metadata();
    expect([m.width, m.height]).toEqual([427, 240]);
    expect(m.orientation ?? 1).toBe(1);
    expect(JSON.parse(r.stdout).restored).toBe(1);
  });

  it('keeps the alpha channel exactly, and writes WebP, JPEG and TIFF by extension', async () => {
    const { data, info } = await rgb(shared('stills/obama-240p.jpg'));
    const px = new Uint8Array(info.width * info.height * 4);
    for (let p = 0; p < info.width * info.height; p++) {
      px.set(data.subarray(3 * p, 3 * p + 3), 4 * p);
      px[4 * p + 3] = (p % info.width) * 255 / (info.width - 1); // a left-to-right alpha ramp
    }
    const src = path.join(tmp, 'alpha.png');
    await sharp(px, { raw: { width: info.width, height: info.height, channels: 4 } }).png().toFile(src);
    const out = path.join(tmp, 'alpha-out.png');
    const r = await cli('restore', src, '-o', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ alpha: true, restored: 1 });
    const o = await rgba(out);
    expect(o.info.channels).toBe(4);
    for (let p = 0; p < info.width * info.height; p++) if (o.data[4 * p + 3] !== px[4 * p + 3]) throw new Error(`alpha differs at pixel ${p}`);
    for (const [ext, format] of [['webp', 'webp'], ['jpg', 'jpeg'], ['tif', 'tiff']]) {
      const f = path.join(tmp, `alpha-out.${ext}`);
      const q = await cli('restore', src, '-o', f);
      expect(q.code, q.stderr).toBe(0);
      expect((await sharp(f).metadata()).format).toBe(format);
    }
  });

  // The default detector tiles photos: it finds the girl in the lower right, partly in shadow, as well as the
  // two men (with one BlazeFace pass, `--detector blazeface`, restore reports only the men).
  it('--faces largest restores one face of three; --min-face above every face restores none and changes nothing', async () => {
    const src = shared('stills/obama_and_biden.jpg');
    const all = await cli('restore', src, '-o', path.join(tmp, 'ob-all.png'), '--json');
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout).restored).toBe(3);
    const onePass = await cli('restore', src, '-o', path.join(tmp, 'ob-onepass.png'), '--json', '--detector', 'blazeface');
    expect(JSON.parse(onePass.stdout)).toMatchObject({ detected: 2, restored: 2 });
    const one = await cli('restore', src, '-o', path.join(tmp, 'ob-one.png'), '--json', '--faces', 'largest');
    const s = JSON.parse(one.stdout);
    expect(s).toMatchObject({ detected: 3, restored: 1 });
    const centre = await cli('restore', src, '-o', path.join(tmp, 'ob-centre.png'), '--json', '--faces', 'center');
    expect(JSON.parse(centre.stdout)).toMatchObject({ detected: 3, restored: 1 });
    const none = await cli('restore', src, '-o', path.join(tmp, 'ob-none.png'), '--json', '--min-face', '5000');
    expect(JSON.parse(none.stdout)).toMatchObject({ detected: 0, restored: 0 });
    const a = await rgb(src);
    const b = await rgb(path.join(tmp, 'ob-none.png'));
    expect(Buffer.compare(a.data, b.data)).toBe(0);
    const bad = await cli('restore', src, '-o', path.join(tmp, 'x.png'), '--faces', 'some');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Expected all, largest, center or a count/);
  });

  it('--draw-boxes draws into the output; --has-aligned restores a 512 crop whole and refuses other sizes', async () => {
    const src = shared('stills/obama-240p.jpg');
    const r = await cli('restore', src, '-o', path.join(tmp, 'boxes.png'), '--draw-boxes', '--restorer', 'none', '--json');
    expect(r.code, r.stderr).toBe(0);
    const box = JSON.parse(r.stdout).boxes[0] as Box;
    const o = await rgb(path.join(tmp, 'boxes.png'));
    // A pure green line along the box's left edge.
    const x = Math.round(box.x), y = Math.round(box.y + box.height / 2);
    const i = (y * o.info.width + x) * 3;
    expect([o.data[i], o.data[i + 1], o.data[i + 2]]).toEqual([0, 255, 0]);

    const crop = path.join(tmp, 'crop.png');
    await sharp(shared('stills/obama.jpg')).resize(512, 512, { fit: 'cover' }).png().toFile(crop);
    const a = await cli('restore', crop, '-o', path.join(tmp, 'crop-out.png'), '--has-aligned', '--json');
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout).restored).toBe(1);
    const before = await rgb(crop);
    const after = await rgb(path.join(tmp, 'crop-out.png'));
    expect(diff(before.data, after.data, 512, 3, (px, py) => px < 8 && py < 8).changed).toBeGreaterThan(0); // even the corner: the whole crop
    const no = await cli('restore', src, '-o', path.join(tmp, 'x.png'), '--has-aligned');
    expect(no.code).toBe(2);
    expect(no.stderr).toMatch(/--has-aligned takes 512×512 .* is 427×240/);
  });
});

describe('restore on an image with the small CodeFormer fixture (real ONNX Runtime)', () => {
  it('every face of a group photo (two men, a girl) goes through the network; the rest of the picture is untouched', async () => {
    const src = shared('stills/obama_and_biden.jpg');
    const out = path.join(tmp, 'cf.png');
    const r = await runFacerestore(['restore', src, '-o', out, '--model', shared('fixtures/codeformer-small/codeformer_small.pth'), '--json'], { FACERESTORE_CACHE_DIR: path.join(tmp, 'cache') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/restorer: onnx/);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ detected: 3, restored: 3 });
    const a = await rgb(src);
    const b = await rgb(out);
    expect(b.info.width).toBe(a.info.width);
    // The centre of each face is the network's (random weights: far from the input).
    for (const box of s.boxes as Box[]) expect(diff(a.data, b.data, a.info.width, 3, near([box], -Math.round(box.width / 4))).max).toBeGreaterThan(40);
    const pad = Math.max(...(s.boxes as Box[]).map((f) => Math.max(f.width, f.height)));
    const far = diff(a.data, b.data, a.info.width, 3, (x, y) => !near(s.boxes, pad)(x, y));
    expect(far).toMatchObject({ max: 0, changed: 0 });
    expect(far.n).toBeGreaterThan(a.data.length / 3 / 4);
  });
});

describe('selectFaces', () => {
  const face = (trackId: number, x: number, y: number, side: number): Face => {
    const pts = Array.from({ length: 5 }, () => ({ x, y }));
    return { trackId, box: { x, y, width: side, height: side }, score: 1, points: pts, rawPoints: pts, fidelity: 0.5 } as unknown as Face;
  };
  // 200×100 image: a big face at the left, a small one at the centre, a middle one at the right.
  const faces = [face(1, 0, 0, 60), face(2, 95, 45, 10), face(3, 160, 10, 30)];
  const ids = (s: Set<Face>) => [...s].map((f) => f.trackId).sort();
  it('all, largest, center and the N largest', () => {
    expect(ids(selectFaces(faces, 'all', 200, 100))).toEqual([1, 2, 3]);
    expect(ids(selectFaces(faces, 'largest', 200, 100))).toEqual([1]);
    expect(ids(selectFaces(faces, 'center', 200, 100))).toEqual([2]);
    expect(ids(selectFaces(faces, 2, 200, 100))).toEqual([1, 3]);
    expect(ids(selectFaces(faces, 9, 200, 100))).toEqual([1, 2, 3]);
    expect(ids(selectFaces([], 'center', 200, 100))).toEqual([]);
  });
});

describe('bad image inputs', () => {
  it('a truncated JPEG, a 0-byte PNG and an animated GIF are refused with E_DECODE, nothing written', async () => {
    const jpg = await readFile(shared('stills/obama.jpg'));
    const cut = path.join(tmp, 'cut.jpg');
    await writeFile(cut, jpg.subarray(0, jpg.length >> 1));
    const empty = path.join(tmp, 'empty.png');
    await writeFile(empty, '');
    const gif = path.join(tmp, 'anim.gif');
    await ffmpeg('-y', '-v', 'error', '-i', shared('footage/retalk_1.mp4'), '-t', '0.3', '-vf', 'scale=64:-1', gif);
    expect((await sharp(gif).metadata()).pages).toBeGreaterThan(1);
    for (const [file, message] of [[cut, /cannot read image .*cut\.jpg: .*corrupt or truncated/], [empty, /empty\.png: the file is empty \(0 bytes\)/], [gif, /animated GIF \(\d+ frames\) is refused; convert it to a video/]] as const) {
      const out = path.join(tmp, `bad-${path.basename(file)}.png`);
      const r = await cli('restore', file, '-o', out);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/E_DECODE/);
      expect(r.stderr).toMatch(message);
      await expect(stat(out)).rejects.toThrow();
    }
  });

  it('a CMYK JPEG and a 16-bit PNG are converted to 8-bit sRGB, and the CLI says so', async () => {
    const cmyk = path.join(tmp, 'cmyk.jpg');
    await sharp(shared('stills/obama-240p.jpg')).toColourspace('cmyk').jpeg({ quality: 95 }).toFile(cmyk);
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const deep = path.join(tmp, 'deep.png');
    await sharp(shared('stills/obama-240p.jpg')).toColourspace('rgb16').png().toFile(deep);
    expect((await sharp(deep).metadata()).depth).toBe('ushort');
    for (const [file, said] of [[cmyk, /converted CMYK → sRGB/], [deep, /converted 16-bit → 8-bit/]] as const) {
      const out = path.join(tmp, `conv-${path.basename(file)}.png`);
      const r = await cli('restore', file, '-o', out, '--json');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(said);
      expect(JSON.parse(r.stdout).restored).toBe(1);
      const m = await sharp(out).metadata();
      expect([m.space, m.depth, m.channels]).toEqual(['srgb', 'uchar', 3]);
      // Colours survive the conversion: near the sRGB original (CMYK's own gamut loss is about 9 levels on
      // average, sharp's own round trip), and near sharp's sRGB reading of the same file (only the face changed).
      const mean = (a: Uint8Array, b: Uint8Array) => a.reduce((t, v, k) => t + Math.abs(v - b[k]!), 0) / a.length;
      const b = await rgb(out);
      expect(mean((await rgb(shared('stills/obama-240p.jpg'))).data, b.data)).toBeLessThan(15);
      expect(mean(await sharp(file).toColourspace('srgb').removeAlpha().raw().toBuffer(), b.data)).toBeLessThan(1.5);
    }
  });

  it('an image output from a video input is refused; an image input needs an image output', async () => {
    const v = await cli('restore', shared('footage/retalk_1.mp4'), '-o', path.join(tmp, 'frame.png'));
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/E_USAGE.*cannot write an image .*frame\.png.* from a video input/);
    const i = await cli('restore', shared('stills/obama-240p.jpg'), '-o', path.join(tmp, 'photo.mp4'));
    expect(i.code).toBe(2);
    expect(i.stderr).toMatch(/an image input needs an image output/);
    await expect(stat(path.join(tmp, 'photo.mp4'))).rejects.toThrow();
  });
});

describe('restore on a folder', () => {
  it('mirrors images and videos into -o DIR, reports a bad file and goes on, skips what exists, recurses only with --recursive', async () => {
    const dir = path.join(tmp, 'album');
    await mkdir(path.join(dir, 'sub'), { recursive: true });
    await sharp(shared('stills/obama-240p.jpg')).toFile(path.join(dir, 'a.jpg'));
    await sharp(shared('stills/two_people.jpg')).resize(480).png().toFile(path.join(dir, 'sub', 'b.png'));
    await writeFile(path.join(dir, 'broken.jpg'), (await readFile(shared('stills/obama.jpg'))).subarray(0, 5000));
    await writeFile(path.join(dir, 'notes.txt'), 'not media');
    await ffmpeg('-y', '-v', 'error', '-i', shared('footage/retalk_1.mp4'), '-t', '0.2', '-vf', 'scale=160:160', '-an', path.join(dir, 'sub', 'clip.mp4'));
    const out = path.join(tmp, 'album-out');

    const flat = await cli('restore', dir, '-o', out, '--json');
    expect(flat.code).toBe(13);
    expect(flat.stderr).toMatch(/FAILED broken\.jpg: E_DECODE/);
    expect(JSON.parse(flat.stdout)).toMatchObject({ done: 1, skipped: 0, failed: 1 });
    await expect(stat(path.join(out, 'sub'))).rejects.toThrow();

    const deep = await cli('restore', dir, '-o', out, '--recursive', '--json');
    expect(deep.code).toBe(13);
    const s = JSON.parse(deep.stdout);
    expect(s).toMatchObject({ done: 2, skipped: 1, failed: 1 });
    expect((await sharp(path.join(out, 'sub', 'b.png')).metadata()).format).toBe('png');
    expect((await stat(path.join(out, 'sub', 'clip.mp4'))).size).toBeGreaterThan(1000);
    await expect(stat(path.join(out, 'broken.jpg'))).rejects.toThrow();
    await expect(stat(path.join(out, 'notes.txt'))).rejects.toThrow();

    const again = await cli('restore', dir, '-o', out, '--recursive', '--json', '--overwrite');
    expect(JSON.parse(again.stdout)).toMatchObject({ done: 3, skipped: 0, failed: 1 });

    await rm(path.join(dir, 'broken.jpg'));
    const clean = await cli('restore', dir, '-o', out, '--recursive');
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stderr).toMatch(/0 done, 3 skipped/);
  });
});
