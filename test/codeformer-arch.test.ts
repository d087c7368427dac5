import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isFaceRestoreError } from '../src/errors.ts';
import { inferArch, outChannels, type CodeFormerArch } from '../src/models/codeformer/arch.ts';
import { OFFICIAL_CONFIG, codeformerShapes, officialShapes } from '../src/models/codeformer/random.ts';

/** `name<TAB>[a, b, …]<TAB>dtype?` lines → ordered name → shape map. */
function readKeys(file: string): Map<string, number[]> {
  const text = readFileSync(new URL(`../../shared/fixtures/codeformer-small/${file}`, import.meta.url), 'utf8');
  const m = new Map<string, number[]>();
  for (const line of text.trim().split('\n')) {
    const [name, shape] = line.split('\t');
    m.set(name!, JSON.parse(shape!) as number[]);
  }
  return m;
}

function refusal(shapes: Map<string, number[]>, opts = {}): string {
  try {
    inferArch(shapes, opts);
  } catch (e) {
    expect(isFaceRestoreError(e, 'E_CHECKPOINT'), String(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected the architecture check to refuse these tensors');
}

function summary(a: CodeFormerArch): Record<string, unknown> {
  return {
    imgSize: a.imgSize, embDim: a.embDim, codebook: a.codebookSize, latent: a.latentSide, dim: a.dimEmbd, heads: a.nHead,
    layers: a.nLayers, mlp: a.dimMlp, encoderBlocks: a.encoder.length, generatorBlocks: a.generator.length,
    fuse: a.fuse.map((f) => [f.size, f.ch, f.encoderIndex, f.generatorIndex]),
  };
}

describe('architecture inference', () => {
  it('accepts the official full-size key set (515 tensors, 94.1 M parameters) from names and shapes alone', () => {
    const shapes = readKeys('keys-official.txt');
    expect(shapes.size).toBe(515);
    const arch = inferArch(shapes);
    expect(summary(arch)).toEqual({
      imgSize: 512, embDim: 256, codebook: 1024, latent: 16, dim: 512, heads: 8, layers: 9, mlp: 1024,
      encoderBlocks: 25, generatorBlocks: 25,
      fuse: [[32, 256, 14, 9], [64, 256, 11, 12], [128, 128, 8, 15], [256, 128, 5, 18]],
    });
    expect((arch.params / 1e6).toFixed(1)).toBe('94.1');
    // Channel widths per level follow ch_mult [1, 2, 2, 4, 4, 8] × 64; attention sits at 16×16 only.
    expect(arch.encoder.filter((b) => b.kind === 'res').map(outChannels)).toEqual([64, 64, 128, 128, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512]);
    expect(arch.encoder.map((b, i) => (b.kind === 'attn' ? i : -1)).filter((i) => i >= 0)).toEqual([17, 19, 21]);
    expect(arch.generator.map((b, i) => (b.kind === 'attn' ? i : -1)).filter((i) => i >= 0)).toEqual([2, 5, 7]);
    expect(arch.encoder.filter((b) => b.kind === 'res' && b.inCh !== b.outCh).map((b) => b.prefix)).toEqual(['encoder.blocks.4', 'encoder.blocks.10', 'encoder.blocks.16']);
  });

  it('the generated official layout equals keys-official.txt: same names, order and shapes', () => {
    expect([...officialShapes()]).toEqual([...readKeys('keys-official.txt')]);
    expect(OFFICIAL_CONFIG.nLayers).toBe(9);
  });

  it('infers the small fixture: nf 32, ch_mult [1,1,1,1,1,2], dim 64, 2 layers, 64 codes, ResBlocks without conv_out', () => {
    const shapes = readKeys('keys.txt');
    const manifest = JSON.parse(readFileSync(new URL('../../shared/fixtures/codeformer-small/manifest.json', import.meta.url), 'utf8'));
    const arch = inferArch(shapes);
    expect(arch.dimEmbd).toBe(manifest.config.dim_embd);
    expect(arch.nLayers).toBe(manifest.config.n_layers);
    expect(arch.codebookSize).toBe(manifest.config.codebook_size);
    expect(arch.fuse.map((f) => String(f.size))).toEqual(manifest.config.connect_list);
    expect(arch.params).toBe(manifest.params);
    expect(arch.encoder.filter((b) => b.kind === 'res' && b.inCh !== b.outCh).length).toBe(1);
    // And the generator for that configuration reproduces keys.txt exactly.
    const cfg = { ...OFFICIAL_CONFIG, nf: 32, chMult: [1, 1, 1, 1, 1, 2], dimEmbd: 64, nLayers: 2, codebookSize: 64 };
    expect([...codeformerShapes(cfg)]).toEqual([...shapes]);
  });

  it('refuses a wrong-shaped tensor, naming it and the expected shape', () => {
    const shapes = readKeys('keys-official.txt');
    shapes.set('generator.blocks.13.conv1.weight', [256, 256, 3, 1]);
    expect(refusal(shapes)).toContain('tensor generator.blocks.13.conv1.weight has shape [256, 256, 3, 1], expected [256, 256, 3, 3]');
    const chain = readKeys('keys-official.txt');
    chain.set('encoder.blocks.5.norm1.weight', [96]);
    expect(refusal(chain)).toContain('tensor encoder.blocks.5.norm1.weight has shape [96], expected [128]');
  });

  it('refuses missing, unexpected and unplaceable tensors, naming the first one', () => {
    const missing = readKeys('keys-official.txt');
    missing.delete('ft_layers.3.linear2.bias');
    expect(refusal(missing)).toContain('missing tensor ft_layers.3.linear2.bias');
    const extra = readKeys('keys-official.txt');
    extra.set('idx_pred_layer.1.bias', [1024]);
    expect(refusal(extra)).toContain('unexpected tensor idx_pred_layer.1.bias');
    const convOut = readKeys('keys-official.txt');
    convOut.set('encoder.blocks.1.conv_out.weight', [64, 64, 1, 1]);
    expect(refusal(convOut)).toContain('unexpected tensor encoder.blocks.1.conv_out.weight');
    const fuse = readKeys('keys-official.txt');
    fuse.set('fuse_convs_dict.48.scale.0.weight', [256, 256, 3, 3]);
    expect(refusal(fuse)).toContain('fuse_convs_dict.48');
    const gap = readKeys('keys-official.txt');
    for (const k of [...gap.keys()]) if (k.startsWith('encoder.blocks.7.')) gap.delete(k);
    expect(refusal(gap)).toContain('encoder.blocks.7');
  });

  it('takes the head count as an option (default 8) and refuses one that does not divide the width', () => {
    const shapes = readKeys('keys-official.txt');
    expect(inferArch(shapes, { nHead: 16 }).nHead).toBe(16);
    expect(refusal(shapes, { nHead: 7 })).toMatch(/not divisible by 7 attention heads/);
  });
});
