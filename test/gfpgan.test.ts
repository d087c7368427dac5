import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isFaceRestoreError } from '../src/errors.ts';
import { OFFICIAL_GFPGAN, archFromConfig, gfpganShapes, inferGfpganArch } from '../src/models/gfpgan/arch.ts';
import { readKeyShapes } from './helpers/compare.ts';

const fx = (name: string): string => fileURLToPath(new URL(`../../shared/fixtures/gfpgan-small/${name}`, import.meta.url));
function f32(name: string): Float32Array {
  const b = readFileSync(fx(name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
const readKeys = (file: string): Map<string, number[]> => readKeyShapes(fx(file));
function refusal(shapes: Map<string, number[]>): string {
  try {
    inferGfpganArch(shapes);
  } catch (e) {
    expect(isFaceRestoreError(e, 'E_CHECKPOINT'), String(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected the GFPGAN check to refuse these tensors');
}

describe('GFPGANv1Clean architecture inference', () => {
  it('accepts the official full-size key set (285 tensors, 87,143,276 numbers) from names and shapes alone', () => {
    const shapes = readKeys('keys-official.txt');
    expect(shapes.size).toBe(285);
    const a = inferGfpganArch(shapes);
    expect(a).toMatchObject({ outSize: 512, numStyleFeat: 512, numMlp: 8, sftHalf: true, differentW: true, numLatent: 16, numNoise: 15, params: 87_143_276 });
    expect(a.decCh).toEqual([512, 512, 512, 512, 512, 256, 128, 64]);
    expect(a.unetCh).toEqual([256, 256, 256, 256, 256, 128, 64, 32]);
    // The generated layout is the official one: same names, order and shapes.
    expect([...gfpganShapes(archFromConfig(OFFICIAL_GFPGAN))]).toEqual([...shapes]);
  });

  it('reads the small fixture as style width 32, narrow 0.125 (1,732,848 numbers)', () => {
    const a = inferGfpganArch(readKeys('keys.txt'));
    expect(a).toMatchObject({ numStyleFeat: 32, params: 1_732_848, sftHalf: true, differentW: true });
    expect(a.decCh).toEqual([64, 64, 64, 64, 64, 32, 16, 8]);
    expect([...gfpganShapes(archFromConfig({ ...OFFICIAL_GFPGAN, numStyleFeat: 32, narrow: 0.125 }))]).toEqual([...readKeys('keys.txt')]);
  });

  it('recognises sft_half off and one shared style row from the shapes', () => {
    const a = inferGfpganArch(gfpganShapes(archFromConfig({ ...OFFICIAL_GFPGAN, numStyleFeat: 32, narrow: 0.125, sftHalf: false, differentW: false })));
    expect([a.sftHalf, a.differentW]).toEqual([false, false]);
  });

  it('refuses key sets that fit no GFPGANv1Clean, naming the first tensor at fault', () => {
    const bad = readKeys('keys-official.txt');
    bad.set('stylegan_decoder.style_convs.9.modulated_conv.weight', [1, 256, 512, 3, 3]);
    expect(refusal(bad)).toContain('tensor stylegan_decoder.style_convs.9.modulated_conv.weight has shape [1, 256, 512, 3, 3], expected [1, 256, 256, 3, 3]');
    const missing = readKeys('keys-official.txt');
    missing.delete('stylegan_decoder.noises.noise7');
    expect(refusal(missing)).toContain('missing tensor stylegan_decoder.noises.noise7');
    const linear = readKeys('keys-official.txt');
    linear.set('final_linear.weight', [8192, 2048]);
    expect(refusal(linear)).toContain('tensor final_linear.weight has shape [8192, 2048], expected [8192, 4096]');
    const codeformer = new Map([['position_emb', [256, 512]], ...readKeys('keys-official.txt')]);
    expect(refusal(codeformer)).toContain('unexpected tensor position_emb [256, 512] (not part of GFPGANv1Clean)');
    const rrdb = readKeyShapes(fileURLToPath(new URL('../../shared/fixtures/realesrgan-small/keys-official-x4plus.txt', import.meta.url)));
    expect(refusal(rrdb)).toContain('unexpected tensor conv_first.weight');
    // 256×256 (6 down blocks): a valid GFPGAN, but not for the product's 512 crops.
    expect(refusal(gfpganShapes(archFromConfig({ ...OFFICIAL_GFPGAN, outSize: 256, numStyleFeat: 32, narrow: 0.125 })))).toContain('down blocks make a 256×256 network');
  });
});
