import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClassicRestorer } from '../src/restore/classicRestorer.ts';
import { shared } from './helpers/paths.ts';

const N = 512;
const raw = { raw: { width: N, height: N, channels: 3 as const } };
let face: Uint8Array;

beforeAll(async () => {
  face = new Uint8Array(await sharp(shared('stills/obama.jpg')).resize(N, N, { fit: 'cover' }).removeAlpha().raw().toBuffer());
});

/** The documented formula with every filter in libvips (how the restorer computed it before its JS paths). */
async function reference(crop: Uint8Array, w: number): Promise<Uint8Array> {
  const d = await sharp(crop, raw).median(3).raw().toBuffer();
  const soft = await sharp(d, raw).blur(2.5).raw().toBuffer();
  const small = await sharp(d, raw).resize(24, 24, { kernel: 'cubic' }).raw().toBuffer();
  const low = await sharp(small, { raw: { width: 24, height: 24, channels: 3 } }).resize(N, N, { kernel: 'linear' }).raw().toBuffer();
  const s = 1 - 0.6 * w;
  return Uint8Array.from(crop, (c, i) => Math.min(255, Math.max(0, Math.round(c + s * (d[i]! + 1.2 * (d[i]! - soft[i]!) + 0.35 * (d[i]! - low[i]!) - c)))));
}

const meanAbs = (a: Uint8Array, b: Uint8Array) => a.reduce((sum, v, i) => sum + Math.abs(v - b[i]!), 0) / a.length;

describe('ClassicRestorer', () => {
  it('matches the all-libvips reference within 2 levels on a real face, for w = 0, 0.5 and 1', async () => {
    const r = new ClassicRestorer();
    for (const w of [0, 0.5, 1]) {
      const [out] = await r.restore([face], [w]);
      const ref = await reference(face, w);
      let max = 0;
      for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(out![i]! - ref[i]!));
      expect(max, `w=${w}`).toBeLessThanOrEqual(2);
      expect(meanAbs(out!, ref), `w=${w}`).toBeLessThan(0.3);
    }
  });

  it('changes the face less as w rises, and leaves a flat crop exactly as it is', async () => {
    const r = new ClassicRestorer();
    const [w0, w1] = await r.restore([face, face], [0, 1]);
    const strong = meanAbs(w0!, face);
    const weak = meanAbs(w1!, face);
    expect(strong).toBeGreaterThan(1);
    expect(weak).toBeGreaterThan(0.2);
    expect(weak).toBeLessThan(0.6 * strong);
    const flat = new Uint8Array(N * N * 3).fill(117);
    const [same] = await r.restore([flat], [0]);
    expect(same).toEqual(flat);
  });
});
