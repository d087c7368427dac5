/**
 * (Just over 300 lines: the inference and the shape check walk the same block sequence and stay together so they cannot drift apart.)
 *
 * Infers a CodeFormer architecture from a state dict's tensor names and shapes alone, the way the official
 * code (sczhou/CodeFormer, basicsr/archs/codeformer_arch.py + vqgan_arch.py) would have built it: the
 * encoder/generator block sequence (convs, GroupNorms, ResBlocks with or without `conv_out`, attention,
 * down/upsampling), channel widths, codebook, transformer depth and widths, and the fuse (SFT) blocks.
 *
 * Then every tensor is checked against the shape the inferred network expects, in file order, so a
 * checkpoint that does not fit is refused (E_CHECKPOINT) with a message naming the first tensor at fault.
 */
import { FaceRestoreError } from '../../errors.ts';

/** One entry of `encoder.blocks` / `generator.blocks`. Channels are as the official modules see them. */
export type Block =
  | { kind: 'conv'; prefix: string; inCh: number; outCh: number }
  | { kind: 'norm'; prefix: string; ch: number }
  | { kind: 'res'; prefix: string; inCh: number; outCh: number }
  | { kind: 'attn'; prefix: string; ch: number }
  | { kind: 'down'; prefix: string; ch: number }
  | { kind: 'up'; prefix: string; ch: number };

/** A fuse (Fuse_sft_block) between encoder feature and generator feature at one resolution. */
export interface FuseSpec {
  /** Resolution key, e.g. 32 for `fuse_convs_dict.32`. */
  size: number;
  /** Channels of the decoder feature (and of the encoder feature). */
  ch: number;
  /** Encoder block whose output is the skip feature. */
  encoderIndex: number;
  /** Generator block after which the fuse is applied. */
  generatorIndex: number;
}

/** Everything needed to build the network, inferred from a state dict. */
export interface CodeFormerArch {
  /** Input/output side in pixels (512 for every published CodeFormer). */
  imgSize: number;
  encoder: Block[];
  generator: Block[];
  /** Spatial side after each encoder / generator block. */
  encoderRes: number[];
  generatorRes: number[];
  /** Channels of the latent (codebook entries), 256 officially. */
  embDim: number;
  codebookSize: number;
  /** Side of the latent grid (16) and token count (256). */
  latentSide: number;
  latentTokens: number;
  dimEmbd: number;
  nHead: number;
  nLayers: number;
  dimMlp: number;
  /** Fuse blocks in `fuse_convs_dict` order (the official connect_list). */
  fuse: FuseSpec[];
  /** Parameter count. */
  params: number;
}

/** GroupNorm groups in the official `normalize()`. */
export const GROUPS = 32;
/** Official block indices (codeformer_arch.py): encoder output kept for each size, generator block fused after. */
const FUSE_ENCODER_BLOCK: Readonly<Record<number, number>> = { 512: 2, 256: 5, 128: 8, 64: 11, 32: 14, 16: 18 };
const FUSE_GENERATOR_BLOCK: Readonly<Record<number, number>> = { 16: 6, 32: 9, 64: 12, 128: 15, 256: 18, 512: 21 };

/**
 * Most parameters a CodeFormer checkpoint may declare: twice the official network's 94.1 M. Its weights are
 * read as float32 and then written into a graph, so this bounds what building one can allocate
 * (about 0.8 GB of weights) whatever the checkpoint's widths claim.
 */
export const MAX_PARAMS = 200_000_000;

/** Options for {@link inferArch}. */
export interface InferOptions {
  /** Attention heads of the transformer (not recorded in a state dict). Default 8, the official value. */
  nHead?: number;
  /** Most parameters accepted. Default {@link MAX_PARAMS}. */
  maxParams?: number;
  /** Name for error messages. */
  source?: string;
}

/**
 * Infers the architecture from tensor names and shapes (in file order) and checks every tensor against it.
 * Throws E_CHECKPOINT naming the first tensor that does not fit (or the first missing one).
 */
export function inferArch(shapes: ReadonlyMap<string, readonly number[]>, options: InferOptions = {}): CodeFormerArch {
  const src = options.source ?? 'checkpoint';
  const fail = (message: string): never => {
    throw new FaceRestoreError('E_CHECKPOINT', `${src} does not fit the CodeFormer architecture: ${message}`);
  };
  const shapeOf = (name: string): readonly number[] => {
    const s = shapes.get(name);
    if (!s) fail(`missing tensor ${name}`);
    return s!;
  };
  const dim = (name: string, axis: number, rank: number): number => {
    const s = shapeOf(name);
    if (s.length !== rank) fail(`tensor ${name} has shape [${s.join(', ')}], expected a ${rank}-D tensor`);
    return s[axis]!;
  };

  // A tensor of some other network is named before anything else is inferred.
  const known = /^(position_emb$|quantize\.embedding\.weight$|feat_emb\.|ft_layers\.\d+\.|idx_pred_layer\.|encoder\.blocks\.\d+\.|generator\.blocks\.\d+\.|fuse_convs_dict\.\d+\.)/;
  for (const [name, shape] of shapes) if (!known.test(name)) fail(`unexpected tensor ${name} [${shape.join(', ')}] (not part of CodeFormer)`);

  // Codebook, latent and transformer widths.
  const codebookSize = dim('quantize.embedding.weight', 0, 2);
  const embDim = dim('quantize.embedding.weight', 1, 2);
  const latentTokens = dim('position_emb', 0, 2);
  const dimEmbd = dim('position_emb', 1, 2);
  const latentSide = Math.round(Math.sqrt(latentTokens));
  if (latentSide * latentSide !== latentTokens) fail(`tensor position_emb has ${latentTokens} positions, not a square latent grid`);
  const nHead = options.nHead ?? 8;
  if (!Number.isInteger(nHead) || nHead < 1 || dimEmbd % nHead !== 0) fail(`embedding width ${dimEmbd} (tensor position_emb) is not divisible by ${nHead} attention heads`);
  let nLayers = 0;
  while (shapes.has(`ft_layers.${nLayers}.self_attn.in_proj_weight`)) nLayers++;
  if (nLayers === 0) fail('missing tensor ft_layers.0.self_attn.in_proj_weight (no transformer layers)');
  const dimMlp = dim('ft_layers.0.linear1.weight', 0, 2);

  // Encoder / generator block sequences.
  const encoder = parseBlocks('encoder.blocks', 3, shapes, fail);
  const generator = parseBlocks('generator.blocks', embDim, shapes, fail);
  const encoderRes: number[] = [];
  let downs = 0;
  for (const b of encoder) if (b.kind === 'down') downs++;
  const imgSize = latentSide * 2 ** downs;
  let r = imgSize;
  for (const b of encoder) {
    if (b.kind === 'down') r /= 2;
    encoderRes.push(r);
  }
  const generatorRes: number[] = [];
  r = latentSide;
  for (const b of generator) {
    if (b.kind === 'up') r *= 2;
    generatorRes.push(r);
  }
  const last = (bs: Block[], k: number): Block | undefined => bs[bs.length - k];
  const encOut = last(encoder, 1);
  if (!encOut || encOut.kind !== 'conv' || last(encoder, 2)?.kind !== 'norm') fail('encoder.blocks must end with a GroupNorm followed by a conv');
  if (encOut!.kind === 'conv' && encOut!.outCh !== embDim) fail(`tensor ${encOut!.prefix}.weight outputs ${encOut!.outCh} channels, the codebook (quantize.embedding.weight) has ${embDim}`);
  const genOut = last(generator, 1);
  if (!genOut || genOut.kind !== 'conv' || last(generator, 2)?.kind !== 'norm') fail('generator.blocks must end with a GroupNorm followed by a conv');
  if (genOut!.kind === 'conv' && genOut!.outCh !== 3) fail(`tensor ${genOut!.prefix}.weight outputs ${genOut!.outCh} channels, an RGB image needs 3`);
  if (generator[0]?.kind !== 'conv') fail('generator.blocks.0 must be a conv');
  if (encoder[0]?.kind !== 'conv') fail('encoder.blocks.0 must be a conv');
  if (encoderRes[encoderRes.length - 1] !== latentSide) fail(`the encoder ends at ${encoderRes[encoderRes.length - 1]}×, position_emb implies a ${latentSide}× latent`);
  if (generatorRes[generatorRes.length - 1] !== imgSize) fail(`the generator ends at ${generatorRes[generatorRes.length - 1]}×, the encoder starts at ${imgSize}×`);

  // Fuse blocks: connect_list from fuse_convs_dict keys, in file order.
  const fuse: FuseSpec[] = [];
  for (const name of shapes.keys()) {
    const m = /^fuse_convs_dict\.(\d+)\./.exec(name);
    if (!m) continue;
    const size = Number(m[1]);
    if (fuse.some((f) => f.size === size)) continue;
    const encoderIndex = FUSE_ENCODER_BLOCK[size];
    const generatorIndex = FUSE_GENERATOR_BLOCK[size];
    if (encoderIndex === undefined || generatorIndex === undefined) fail(`tensor ${name}: no fuse point is defined for size ${size} (official sizes: 16, 32, 64, 128, 256, 512)`);
    if (encoderRes[encoderIndex!] !== size) fail(`tensor ${name}: encoder.blocks.${encoderIndex} works at ${encoderRes[encoderIndex!] ?? 'no'} resolution, not ${size}`);
    if (generatorRes[generatorIndex!] !== size) fail(`tensor ${name}: generator.blocks.${generatorIndex} works at ${generatorRes[generatorIndex!] ?? 'no'} resolution, not ${size}`);
    fuse.push({ size, ch: outChannels(generator[generatorIndex!]!), encoderIndex: encoderIndex!, generatorIndex: generatorIndex! });
  }

  // Expected shapes of every tensor.
  const expected = new Map<string, number[]>();
  const put = (name: string, shape: number[]): void => void expected.set(name, shape);
  put('position_emb', [latentTokens, dimEmbd]);
  for (const [prefix, blocks] of [['encoder.blocks', encoder], ['generator.blocks', generator]] as const) {
    void prefix;
    for (const b of blocks) blockShapes(b, put);
  }
  put('quantize.embedding.weight', [codebookSize, embDim]);
  put('feat_emb.weight', [dimEmbd, embDim]);
  put('feat_emb.bias', [dimEmbd]);
  for (let i = 0; i < nLayers; i++) {
    const p = `ft_layers.${i}`;
    put(`${p}.self_attn.in_proj_weight`, [3 * dimEmbd, dimEmbd]);
    put(`${p}.self_attn.in_proj_bias`, [3 * dimEmbd]);
    put(`${p}.self_attn.out_proj.weight`, [dimEmbd, dimEmbd]);
    put(`${p}.self_attn.out_proj.bias`, [dimEmbd]);
    put(`${p}.linear1.weight`, [dimMlp, dimEmbd]);
    put(`${p}.linear1.bias`, [dimMlp]);
    put(`${p}.linear2.weight`, [dimEmbd, dimMlp]);
    put(`${p}.linear2.bias`, [dimEmbd]);
    put(`${p}.norm1.weight`, [dimEmbd]);
    put(`${p}.norm1.bias`, [dimEmbd]);
    put(`${p}.norm2.weight`, [dimEmbd]);
    put(`${p}.norm2.bias`, [dimEmbd]);
  }
  put('idx_pred_layer.0.weight', [dimEmbd]);
  put('idx_pred_layer.0.bias', [dimEmbd]);
  put('idx_pred_layer.1.weight', [codebookSize, dimEmbd]);
  for (const f of fuse) {
    const encCh = outChannels(encoder[f.encoderIndex]!);
    const p = `fuse_convs_dict.${f.size}`;
    if (encCh !== f.ch) fail(`tensor ${p}.encode_enc.norm1.weight: encoder feature ${f.size} has ${encCh} channels, the generator's has ${f.ch}; a fuse block needs equal widths`);
    blockShapes({ kind: 'res', prefix: `${p}.encode_enc`, inCh: 2 * f.ch, outCh: f.ch }, put);
    for (const branch of ['scale', 'shift']) {
      put(`${p}.${branch}.0.weight`, [f.ch, f.ch, 3, 3]);
      put(`${p}.${branch}.0.bias`, [f.ch]);
      put(`${p}.${branch}.2.weight`, [f.ch, f.ch, 3, 3]);
      put(`${p}.${branch}.2.bias`, [f.ch]);
    }
  }

  // Check in file order: first unexpected or mis-shaped tensor, then the first missing one.
  for (const [name, shape] of shapes) {
    const want = expected.get(name);
    if (!want) fail(`unexpected tensor ${name} [${shape.join(', ')}]`);
    if (want!.length !== shape.length || want!.some((d, i) => d !== shape[i])) {
      fail(`tensor ${name} has shape [${shape.join(', ')}], expected [${want!.join(', ')}]`);
    }
    if (/norm\d?\.weight$|^encoder\.blocks\.\d+\.weight$|^generator\.blocks\.\d+\.weight$/.test(name) && shape.length === 1 && !name.startsWith('ft_layers') && !name.startsWith('idx_pred') && shape[0]! % GROUPS !== 0) {
      fail(`tensor ${name}: GroupNorm with ${GROUPS} groups needs a channel count divisible by ${GROUPS}, got ${shape[0]}`);
    }
  }
  for (const name of expected.keys()) if (!shapes.has(name)) fail(`missing tensor ${name}`);
  let params = 0;
  let largest = { name: '', numel: 0 };
  for (const [name, s] of expected) {
    const numel = s.reduce((a, b) => a * b, 1);
    params += numel;
    if (numel > largest.numel) largest = { name, numel };
  }
  const maxParams = options.maxParams ?? MAX_PARAMS;
  if (params > maxParams) {
    fail(`its tensors add up to ${params} parameters, more than the ${maxParams} accepted (the official network has 94.1 M; largest tensor ${largest.name} [${expected.get(largest.name)!.join(', ')}])`);
  }
  return { imgSize, encoder, generator, encoderRes, generatorRes, embDim, codebookSize, latentSide, latentTokens, dimEmbd, nHead, nLayers, dimMlp, fuse, params };
}

/** Output channels of a block. */
export function outChannels(b: Block): number {
  return b.kind === 'conv' || b.kind === 'res' ? b.outCh : b.ch;
}

function blockShapes(b: Block, put: (name: string, shape: number[]) => void): void {
  const p = b.prefix;
  switch (b.kind) {
    case 'conv':
      put(`${p}.weight`, [b.outCh, b.inCh, 3, 3]);
      put(`${p}.bias`, [b.outCh]);
      break;
    case 'norm':
      put(`${p}.weight`, [b.ch]);
      put(`${p}.bias`, [b.ch]);
      break;
    case 'down':
    case 'up':
      put(`${p}.conv.weight`, [b.ch, b.ch, 3, 3]);
      put(`${p}.conv.bias`, [b.ch]);
      break;
    case 'res':
      put(`${p}.norm1.weight`, [b.inCh]);
      put(`${p}.norm1.bias`, [b.inCh]);
      put(`${p}.conv1.weight`, [b.outCh, b.inCh, 3, 3]);
      put(`${p}.conv1.bias`, [b.outCh]);
      put(`${p}.norm2.weight`, [b.outCh]);
      put(`${p}.norm2.bias`, [b.outCh]);
      put(`${p}.conv2.weight`, [b.outCh, b.outCh, 3, 3]);
      put(`${p}.conv2.bias`, [b.outCh]);
      if (b.inCh !== b.outCh) {
        put(`${p}.conv_out.weight`, [b.outCh, b.inCh, 1, 1]);
        put(`${p}.conv_out.bias`, [b.outCh]);
      }
      break;
    case 'attn':
      put(`${p}.norm.weight`, [b.ch]);
      put(`${p}.norm.bias`, [b.ch]);
      for (const m of ['q', 'k', 'v', 'proj_out']) {
        put(`${p}.${m}.weight`, [b.ch, b.ch, 1, 1]);
        put(`${p}.${m}.bias`, [b.ch]);
      }
      break;
  }
}

/**
 * Reads `<root>.<i>.*` blocks in index order. A block's kind comes from its tensor names; its output width
 * from its own weights; its input width from the block before (checked later against the tensors).
 */
function parseBlocks(root: string, inputCh: number, shapes: ReadonlyMap<string, readonly number[]>, fail: (m: string) => never): Block[] {
  const byIndex = new Map<number, string[]>();
  for (const name of shapes.keys()) {
    if (!name.startsWith(root + '.')) continue;
    const m = /^(\d+)\.(.+)$/.exec(name.slice(root.length + 1));
    if (!m) fail(`unexpected tensor ${name}`);
    const i = Number(m![1]);
    if (!byIndex.has(i)) byIndex.set(i, []);
    byIndex.get(i)!.push(m![2]!);
  }
  if (byIndex.size === 0) fail(`missing tensors ${root}.*`);
  const count = Math.max(...byIndex.keys()) + 1;
  const blocks: Block[] = [];
  let ch = inputCh;
  for (let i = 0; i < count; i++) {
    const prefix = `${root}.${i}`;
    const keys = byIndex.get(i);
    if (!keys) fail(`missing tensors ${prefix}.* (block indices must be contiguous)`);
    const has = (k: string): boolean => keys!.includes(k);
    const shape = (k: string): readonly number[] => shapes.get(`${prefix}.${k}`)!;
    let block: Block;
    if (has('conv1.weight')) {
      const s = shape('conv1.weight');
      if (s.length !== 4) fail(`tensor ${prefix}.conv1.weight has shape [${s.join(', ')}], expected a 4-D conv weight`);
      block = { kind: 'res', prefix, inCh: ch, outCh: s[0]! };
    } else if (has('q.weight')) {
      block = { kind: 'attn', prefix, ch };
    } else if (has('conv.weight')) {
      block = { kind: root.startsWith('encoder') ? 'down' : 'up', prefix, ch };
    } else if (has('weight')) {
      const s = shape('weight');
      if (s.length === 4) block = { kind: 'conv', prefix, inCh: ch, outCh: s[0]! };
      else if (s.length === 1) block = { kind: 'norm', prefix, ch };
      else fail(`tensor ${prefix}.weight has shape [${s.join(', ')}]: neither a conv nor a GroupNorm`);
    } else {
      fail(`cannot tell what kind of block ${prefix} is from its tensors (${keys!.map((k) => `${prefix}.${k}`).join(', ')})`);
    }
    blocks.push(block!);
    ch = outChannels(block!);
  }
  return blocks;
}
