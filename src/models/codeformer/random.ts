/**
 * CodeFormer state-dict layouts generated from a configuration, the way the official constructors lay them
 * out (same names, same order), and seeded random weights for them: the official-size network can be built
 * and timed without its 376 MB checkpoint.
 */
import { inferArch } from './arch.ts';
import { buildCodeFormerGraph, type GraphOptions } from './graph.ts';
import { seededRandom } from '../seededRandom.ts';

/** The constructor arguments that decide a CodeFormer's tensors. */
export interface CodeFormerConfig {
  nf: number;
  chMult: readonly number[];
  resBlocks: number;
  attnResolutions: readonly number[];
  imgSize: number;
  embDim: number;
  codebookSize: number;
  dimEmbd: number;
  nLayers: number;
  /** Sizes with a fuse block, in fuse_convs_dict order. */
  connectList: readonly number[];
}

/** The official CodeFormer: VQAutoEncoder(512, 64, [1,2,2,4,4,8], 'nearest', 2, [16], 1024), 9 layers, dim 512. */
export const OFFICIAL_CONFIG: CodeFormerConfig = {
  nf: 64, chMult: [1, 2, 2, 4, 4, 8], resBlocks: 2, attnResolutions: [16], imgSize: 512, embDim: 256,
  codebookSize: 1024, dimEmbd: 512, nLayers: 9, connectList: [32, 64, 128, 256],
};

/** Tensor names and shapes of a CodeFormer state dict, in the order `state_dict()` lists them. */
export function codeformerShapes(cfg: CodeFormerConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const conv = (p: string, cout: number, cin: number, k: number): void => {
    m.set(`${p}.weight`, [cout, cin, k, k]);
    m.set(`${p}.bias`, [cout]);
  };
  const vec = (p: string, c: number): void => {
    m.set(`${p}.weight`, [c]);
    m.set(`${p}.bias`, [c]);
  };
  const res = (p: string, cin: number, cout: number): void => {
    vec(`${p}.norm1`, cin);
    conv(`${p}.conv1`, cout, cin, 3);
    vec(`${p}.norm2`, cout);
    conv(`${p}.conv2`, cout, cout, 3);
    if (cin !== cout) conv(`${p}.conv_out`, cout, cin, 1);
  };
  const attn = (p: string, c: number): void => {
    vec(`${p}.norm`, c);
    for (const n of ['q', 'k', 'v', 'proj_out']) conv(`${p}.${n}`, c, c, 1);
  };
  const levels = cfg.chMult.length;
  const latent = cfg.imgSize / 2 ** (levels - 1);
  m.set('position_emb', [latent * latent, cfg.dimEmbd]);

  let i = 0;
  let e = (): string => `encoder.blocks.${i++}`;
  conv(e(), cfg.nf, 3, 3);
  let res_ = cfg.imgSize;
  const inMult = [1, ...cfg.chMult];
  let ch = cfg.nf;
  for (let l = 0; l < levels; l++) {
    ch = cfg.nf * inMult[l]!;
    const out = cfg.nf * cfg.chMult[l]!;
    for (let r = 0; r < cfg.resBlocks; r++) {
      res(e(), ch, out);
      ch = out;
      if (cfg.attnResolutions.includes(res_)) attn(e(), ch);
    }
    if (l !== levels - 1) {
      conv(`${e()}.conv`, ch, ch, 3);
      res_ /= 2;
    }
  }
  res(e(), ch, ch);
  attn(e(), ch);
  res(e(), ch, ch);
  vec(e(), ch);
  conv(e(), cfg.embDim, ch, 3);

  m.set('quantize.embedding.weight', [cfg.codebookSize, cfg.embDim]);

  i = 0;
  e = (): string => `generator.blocks.${i++}`;
  ch = cfg.nf * cfg.chMult[levels - 1]!;
  res_ = latent;
  conv(e(), ch, cfg.embDim, 3);
  res(e(), ch, ch);
  attn(e(), ch);
  res(e(), ch, ch);
  for (let l = levels - 1; l >= 0; l--) {
    const out = cfg.nf * cfg.chMult[l]!;
    for (let r = 0; r < cfg.resBlocks; r++) {
      res(e(), ch, out);
      ch = out;
      if (cfg.attnResolutions.includes(res_)) attn(e(), ch);
    }
    if (l !== 0) {
      conv(`${e()}.conv`, ch, ch, 3);
      res_ *= 2;
    }
  }
  vec(e(), ch);
  conv(e(), 3, ch, 3);

  m.set('feat_emb.weight', [cfg.dimEmbd, cfg.embDim]);
  m.set('feat_emb.bias', [cfg.dimEmbd]);
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `ft_layers.${l}`;
    const d = cfg.dimEmbd;
    m.set(`${p}.self_attn.in_proj_weight`, [3 * d, d]);
    m.set(`${p}.self_attn.in_proj_bias`, [3 * d]);
    m.set(`${p}.self_attn.out_proj.weight`, [d, d]);
    m.set(`${p}.self_attn.out_proj.bias`, [d]);
    m.set(`${p}.linear1.weight`, [2 * d, d]);
    m.set(`${p}.linear1.bias`, [2 * d]);
    m.set(`${p}.linear2.weight`, [d, 2 * d]);
    m.set(`${p}.linear2.bias`, [d]);
    vec(`${p}.norm1`, d);
    vec(`${p}.norm2`, d);
  }
  vec('idx_pred_layer.0', cfg.dimEmbd);
  m.set('idx_pred_layer.1.weight', [cfg.codebookSize, cfg.dimEmbd]);
  for (const size of cfg.connectList) {
    const c = cfg.nf * cfg.chMult[Math.log2(cfg.imgSize / size)]!;
    const p = `fuse_convs_dict.${size}`;
    res(`${p}.encode_enc`, 2 * c, c);
    for (const b of ['scale', 'shift']) {
      conv(`${p}.${b}.0`, c, c, 3);
      conv(`${p}.${b}.2`, c, c, 3);
    }
  }
  return m;
}

/** Names and shapes of the official full-size checkpoint's 515 tensors. */
export function officialShapes(): Map<string, number[]> {
  return codeformerShapes(OFFICIAL_CONFIG);
}

/**
 * Seeded weights shaped like PyTorch's default initialisation: conv/linear weights and biases uniform in
 * ±1/√fan_in, norm scales near 1 and shifts near 0, codebook uniform in ±1/K, position embedding small.
 */
export function randomWeights(shapes: ReadonlyMap<string, readonly number[]>, seed: number): Map<string, Float32Array> {
  const next = seededRandom(seed);
  const out = new Map<string, Float32Array>();
  let fanIn = 1;
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNorm = /norm\d?\.(weight|bias)$|idx_pred_layer\.0\./.test(name) || (shape.length === 1 && /blocks\.\d+\.(weight|bias)$/.test(name));
    if (isNorm) {
      const base = name.endsWith('weight') ? 1 : 0;
      for (let i = 0; i < n; i++) data[i] = base + (next() - 0.5) * 0.2;
    } else if (name === 'quantize.embedding.weight') {
      const b = 1 / shape[0]!;
      for (let i = 0; i < n; i++) data[i] = (next() * 2 - 1) * b;
    } else if (name === 'position_emb') {
      for (let i = 0; i < n; i++) data[i] = (next() * 2 - 1) * 0.05;
    } else {
      if (shape.length > 1) fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      const b = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < n; i++) data[i] = (next() * 2 - 1) * b;
    }
    out.set(name, data);
  }
  return out;
}

/** Options for {@link buildRandomCodeFormer}. */
export interface RandomModelOptions extends GraphOptions {
  /** Official sizes (nf 64, ch_mult [1,2,2,4,4,8], dim 512, 9 layers, 1024 codes). Default true. */
  officialShape?: boolean;
  /** Another configuration (used when officialShape is false). */
  config?: CodeFormerConfig;
  /** PRNG seed. Default 0. */
  seed?: number;
}

/**
 * An ONNX CodeFormer with seeded random weights, for timing and tests without a checkpoint.
 * @returns model bytes with the same interface as {@link buildCodeFormerOnnx}'s.
 */
export function buildRandomCodeFormer(options: RandomModelOptions = {}): Uint8Array {
  const cfg = options.officialShape === false && options.config ? options.config : OFFICIAL_CONFIG;
  const shapes = codeformerShapes(cfg);
  const arch = inferArch(shapes, { source: 'random CodeFormer' });
  return buildCodeFormerGraph(arch, randomWeights(shapes, options.seed ?? 0), options);
}
