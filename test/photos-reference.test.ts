import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFacerestore } from './helpers/cli.ts';
import { shared } from './helpers/paths.ts';
import { tinyEmbeddingModel } from './helpers/tinyModels.ts';
import { FaceEmbedder } from '../src/engine/faceEmbedder.ts';
import { GraphBuilder } from '../src/models/graphBuilder.ts';

const cli = (...args: string[]) => runFacerestore(args);
interface Box { x: number; y: number; width: number; height: number }
interface FaceRow { box: Box; restored: boolean; similarity?: number }

let tmp: string;
let model: string;
/** obama.jpg (resized) beside two_people.jpg: one face of the reference person and two of other people. */
let group: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-reference-'));
  model = path.join(tmp, 'embed.onnx');
  await writeFile(model, tinyEmbeddingModel());
  const right = await sharp(shared('stills/two_people.jpg')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const h = right.info.height;
  const left = await sharp(shared('stills/obama.jpg')).resize({ height: h }).png().toBuffer({ resolveWithObject: true });
  group = path.join(tmp, 'group.png');
  await sharp({ create: { width: left.info.width + right.info.width, height: h, channels: 3, background: '#808080' } })
    .composite([{ input: left.data, left: 0, top: 0 }, { input: right.data, raw: { width: right.info.width, height: h, channels: 3 }, left: left.info.width, top: 0 }])
    .png()
    .toFile(group);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const rgb = async (file: string) => sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
/** Pixels inside `b` that differ between two same-sized RGB images. */
function changedIn(a: Uint8Array, c: Uint8Array, w: number, b: Box): number {
  let n = 0;
  for (let y = Math.floor(b.y); y < b.y + b.height; y++) {
    for (let x = Math.floor(b.x); x < b.x + b.width; x++) {
      const i = (y * w + x) * 3;
      if (a[i] !== c[i] || a[i + 1] !== c[i + 1] || a[i + 2] !== c[i + 2]) n++;
    }
  }
  return n;
}

describe('--reference with a face-embedding model', () => {
  it('restores the face like the reference photo\'s and leaves the other people\'s faces untouched', async () => {
    const out = path.join(tmp, 'group-ref.png');
    const r = await cli('restore', group, '-o', out, '--json', '--reference', shared('stills/obama-240p.jpg'), '--reference-model', model, '--reference-threshold', '0.7');
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { detected: number; restored: number; faces: FaceRow[] };
    expect(s.detected).toBe(3);
    expect(s.restored).toBe(1);
    const [me, ...others] = [...s.faces].sort((a, b) => a.box.x - b.box.x); // the reference person is on the left
    expect(me!.restored).toBe(true);
    expect(me!.similarity!).toBeGreaterThan(0.85);
    for (const f of others) {
      expect(f.restored).toBe(false);
      expect(f.similarity!).toBeLessThan(0.7);
    }
    const a = await rgb(group);
    const b = await rgb(out);
    expect(changedIn(a.data, b.data, a.info.width, me!.box)).toBeGreaterThan(500);
    for (const f of others) expect(changedIn(a.data, b.data, a.info.width, f.box)).toBe(0);

    // A threshold below every face's similarity restores them all: the threshold is what decides.
    const all = await cli('restore', group, '-o', path.join(tmp, 'group-all.png'), '--json', '--reference', shared('stills/obama-240p.jpg'), '--reference-model', model, '--reference-threshold', '-1');
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout).restored).toBe(3);
  });

  it('a reference photo without a face is refused (E_NO_FACE, exit 3), nothing written; missing flags are usage errors', async () => {
    const blank = path.join(tmp, 'blank.png');
    await sharp({ create: { width: 320, height: 240, channels: 3, background: '#6080a0' } }).png().toFile(blank);
    const out = path.join(tmp, 'never.png');
    const r = await cli('restore', group, '-o', out, '--reference', blank, '--reference-model', model);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/E_NO_FACE|reference photo .*blank\.png has no face/);
    expect(r.stderr).toMatch(/has no face/);
    await expect(stat(out)).rejects.toThrow();
    const noModel = await cli('restore', group, '-o', out, '--reference', shared('stills/obama.jpg'));
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toMatch(/--reference needs --reference-model/);
    const bad = await cli('restore', group, '-o', out, '--reference', shared('stills/obama.jpg'), '--reference-model', path.join(tmp, 'nope.onnx'));
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/nope\.onnx/);
  });
});

describe('FaceEmbedder (real ONNX Runtime)', () => {
  it('one vector per face, batched and with a fixed batch of 1 alike; refuses a model of another shape', async () => {
    const crops = [new Uint8Array(112 * 112 * 3).fill(40), new Uint8Array(112 * 112 * 3).map((_, i) => i % 251)];
    const dyn = await FaceEmbedder.create({ modelPath: tinyEmbeddingModel() });
    const one = await FaceEmbedder.create({ modelPath: tinyEmbeddingModel({ batch: 1 }) });
    try {
      const a = await dyn.embed(crops);
      const b = await one.embed(crops);
      expect(a.map((v) => v.length)).toEqual([192, 192]);
      expect(Array.from(a[1]!)).toEqual(Array.from(b[1]!));
      expect(a[0]!.every((v) => Math.abs(v) < 1e-6)).toBe(true); // a flat crop minus its mean
      expect(a[1]!.some((v) => Math.abs(v) > 0.01)).toBe(true);
      await expect(dyn.embed([new Uint8Array(10)])).rejects.toThrow(/112×112 RGB24 crop/);
    } finally {
      await dyn.close();
      await one.close();
    }
    const g = new GraphBuilder();
    g.output('y', g.op('Identity', [g.input('x', 'float32', [1, 3, 224, 224])]), [1, 3, 224, 224]);
    await expect(FaceEmbedder.create({ modelPath: g.encode({ graphName: 'wrong' }) })).rejects.toMatchObject({ code: 'E_MODEL_CONTRACT', message: expect.stringMatching(/\[N,3,112,112\].*x: float32\[1,3,224,224\]/) });
  });
});
