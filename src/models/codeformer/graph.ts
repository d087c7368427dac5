/**
 * (Longer than ~300 lines on purpose: one architecture's graph, module by module, in the order of the
 * official forward pass, so it can be read side by side with codeformer_arch.py.)
 *
 * Builds the ONNX graph of CodeFormer's forward pass `out, logits, lq_feat = net(x, w=w, adain=True)` from an
 * inferred architecture and its weights, with a dynamic batch and one fidelity weight per face.
 *
 * What each official module becomes (vqgan_arch.py / codeformer_arch.py):
 * - GroupNorm(32, eps 1e-6): ONNX GroupNormalization-21 (per-channel affine), or the InstanceNormalization
 *   form (reshape to [N, 32, -1], normalise, reshape back, per-channel scale and shift);
 * - swish: x·Sigmoid(x) (ONNX Runtime fuses the pair);
 * - Downsample (pad (0,1,0,1), 3×3 stride-2 conv): one Conv with pads [0,0,1,1];
 * - Upsample (nearest ×2, 3×3 conv): by default the same result computed at low resolution: each of the
 *   four output phases of a 3×3 conv over a nearest-upsampled image sees a 2×2 neighbourhood of the
 *   small image with summed taps, so four 2×2 convs + DepthToSpace do the work with 4/9 of the multiplies;
 *   `upsample: 'resize'` keeps the literal Resize + Conv;
 * - AttnBlock: one 1×1 Conv for q, k, v (their weights concatenated), MatMul / Softmax over the 16×16 tokens;
 * - transformer: pre-norm layers, LayerNormalization (eps 1e-5), q = k = LN(x) + pos, v = LN(x), heads
 *   split by Reshape/Transpose, q / √head_dim, Softmax, exact (erf) GELU;
 * - code lookup: ArgMax over the logits, Gather from the codebook, [N, 256, 16, 16] like get_codebook_feat;
 * - AdaIN: unbiased variance (n − 1) + 1e-5;
 * - fuse (Fuse_sft_block): `dec + w·(dec·scale + shift)` with w reshaped to [N,1,1,1]. Its ResBlock over
 *   cat([enc, dec]) never materialises the concatenation: GroupNorm(32) over 2c channels is GroupNorm(16)
 *   over each half, and a conv over the concatenation is the sum of convs over the halves. The scale and
 *   shift branches' first convs read the same tensor and share one Conv (weights stacked). Each fuse block
 *   sits in an If node that skips it when every face of the batch has w = 0, as the official `if w > 0` does
 *   (computing it with w = 0 would give the same output, more slowly).
 *
 * Every rearrangement above is exact in real arithmetic; in float32 only the rounding order changes.
 *
 * With `fp16`, weights and activations of the convolutional parts are float16; GroupNorm statistics, the
 * 16×16 attention blocks, the transformer, the logits/argmax and AdaIN stay float32 (Casts around them);
 * inputs and outputs stay float32 so the graph's interface does not change.
 */
import type { Block, CodeFormerArch } from './arch.ts';
import { GROUPS } from './arch.ts';
import { GraphBuilder, f, type Value } from '../graphBuilder.ts';
import { KIND_CALL, type CodeFormerKind } from './kind.ts';

/** Weights by state-dict name, as contiguous float32. */
export type WeightMap = ReadonlyMap<string, Float32Array>;

/** Options for {@link buildCodeFormerGraph}. */
export interface GraphOptions {
  /**
   * Builds the network's input, float32 [N, 3, S, S] in [-1, 1], inside the graph instead of declaring `x`: e.g.
   * the warp pre-graph (models/warpGraph.ts `warpInto`), so that a whole frame and the faces' matrices go in.
   */
  input?: (g: GraphBuilder) => Value;
  /** Output the result as `restored`, uint8 [N, S, S, 3] RGB (rounded, clamped), instead of float `out`: a quarter of the bytes. */
  uint8Output?: boolean;
  /** float16 weights and activations (for CUDA); interface stays float32. Default false. */
  fp16?: boolean;
  /** Also output `logits` [N, T, K], `lq_feat` [N, E, h, w] and `top_idx` int64 [N, T], for parity tests. */
  extraOutputs?: boolean;
  /**
   * GroupNorm form: `groupnorm` (GroupNormalization-21), `instancenorm`, or `twopass` (ReduceMean, centre,
   * ReduceMean of squares: the variance of the centred values, as PyTorch computes it, where ONNX Runtime's
   * normalisation ops use E[x²] − E[x]², which loses digits on groups whose mean is large against their
   * spread, e.g. the flat white holes of an inpainting input). Default `instancenorm` for restoration,
   * `twopass` for the inpainting and colorization kinds (their fixtures need it for 1e-4 parity).
   */
  groupNorm?: 'groupnorm' | 'instancenorm' | 'twopass';
  /** Upsample form: `subpixel` (default, exact rearrangement, 4/9 of the multiplies) or `resize`. */
  upsample?: 'subpixel' | 'resize';
  /** Compute the first convs of each fuse block's scale and shift branches as one Conv. Default true. */
  mergeFuseBranches?: boolean;
  /**
   * Skip the fuse blocks (an If node each) when every face in the batch has w = 0, as the official forward
   * skips them for w = 0; the output is the same either way. Default true.
   */
  skipFuseWhenWZero?: boolean;
  /**
   * Which official forward call the graph computes (see kind.ts). `restoration` (default): inputs `x` and
   * `w`. `inpainting` (w = 1, no AdaIN) and `colorization` (w = 0: no fuse block runs) have the input `x`
   * only, since their scripts fix w.
   */
  kind?: CodeFormerKind;
}

/** Builds the ONNX model bytes. */
export function buildCodeFormerGraph(arch: CodeFormerArch, weights: WeightMap, options: GraphOptions = {}): Uint8Array {
  const root = new GraphBuilder();
  /** The builder nodes go to: the main graph, or an If branch while one is being built. */
  let g = root;
  const inBranch = (b: GraphBuilder, body: () => Value): Value => {
    const saved = g;
    g = b;
    try {
      return body();
    } finally {
      g = saved;
    }
  };
  const fp16 = options.fp16 ?? false;
  const act = fp16 ? 'float16' : 'float32';
  const kind = options.kind ?? 'restoration';
  const call = KIND_CALL[kind];
  const gnForm = options.groupNorm ?? (kind === 'restoration' ? 'instancenorm' : 'twopass');
  const upsample = options.upsample ?? 'subpixel';
  const mergeFuse = options.mergeFuseBranches ?? true;
  const skipFuse = options.skipFuseWhenWZero ?? true;
  const S = arch.imgSize;

  const W = (name: string): Float32Array => {
    const w = weights.get(name);
    if (!w) throw new Error(`internal: weight ${name} missing after architecture check`);
    return w;
  };
  const param = (name: string, dims: readonly number[], type: 'float32' | 'float16' = act): Value => g.weight(name, W(name), dims, type);
  const cast = (v: Value, to: 'float32' | 'float16'): Value => (v.type === to ? v : g.op('Cast', [v], { to: to === 'float16' ? 10 : 1 }, { type: to }));

  // ---------------------------------------------------------------- building blocks
  const conv = (x: Value, prefix: string, cin: number, cout: number, k: number, extra: { strides?: number[]; pads?: number[] } = {}): Value => {
    const wt = param(`${prefix}.weight`, [cout, cin, k, k], x.type as 'float32' | 'float16');
    const b = param(`${prefix}.bias`, [cout], x.type as 'float32' | 'float16');
    const pad = (k - 1) / 2;
    return g.op('Conv', [x, wt, b], { kernel_shape: [k, k], pads: extra.pads ?? [pad, pad, pad, pad], strides: extra.strides ?? [1, 1] }, { name: prefix });
  };
  const convRaw = (x: Value, stem: string, wt: Float32Array, b: Float32Array, cout: number, cinPerGroup: number, k: number, attrs: Record<string, number | number[]>): Value => {
    const wv = g.weight(`${stem}.weight`, wt, [cout, cinPerGroup, k, k], x.type as 'float32' | 'float16');
    const bv = g.weight(`${stem}.bias`, b, [cout], x.type as 'float32' | 'float16');
    return g.op('Conv', [x, wv, bv], { kernel_shape: [k, k], ...attrs }, { name: stem });
  };

  /** GroupNorm with `groups` groups and the given affine parameters; statistics in float32, result as `out`. */
  const groupNormWith = (x: Value, name: string, ch: number, groups: number, gamma: Float32Array, beta: Float32Array, out: 'float32' | 'float16' = act): Value => {
    const xin = fp16 ? cast(x, 'float32') : x;
    let y: Value;
    if (gnForm === 'twopass') {
      // [N, G, rows, W]: sums run row by row, then over the row sums (two short float32 sums, not one long one).
      const width = g.op('Shape', [xin], { start: 3 }, { type: 'int64' });
      const r = g.op('Reshape', [xin, g.op('Concat', [g.int64([0, groups, -1]), width], { axis: 0 })]);
      const mean2 = (v: Value): Value => g.op('ReduceMean', [g.op('ReduceMean', [v, g.int64([3])], { keepdims: 1 }), g.int64([2])], { keepdims: 1 });
      const centred = g.op('Sub', [r, mean2(r)]);
      const variance = mean2(g.op('Mul', [centred, centred]));
      const n = g.op('Div', [centred, g.op('Sqrt', [g.op('Add', [variance, g.scalar(1e-6)])])]);
      const back = g.op('Reshape', [n, g.op('Shape', [xin], {}, { type: 'int64' })]);
      y = g.op('Add', [g.op('Mul', [back, g.weight(`${name}.weight`, gamma, [ch, 1, 1])]), g.weight(`${name}.bias`, beta, [ch, 1, 1])], {}, { name });
    } else if (gnForm === 'groupnorm') {
      y = g.op('GroupNormalization', [xin, g.weight(`${name}.weight`, gamma, [ch]), g.weight(`${name}.bias`, beta, [ch])], { epsilon: f(1e-6), num_groups: groups }, { name });
    } else {
      const r = g.op('Reshape', [xin, g.int64([0, groups, -1])]);
      const ones = g.scalar(1, 'float32', [groups]);
      const zeros = g.scalar(0, 'float32', [groups]);
      const n = g.op('InstanceNormalization', [r, ones, zeros], { epsilon: f(1e-6) }, { name: `${name}.in` });
      const back = g.op('Reshape', [n, g.op('Shape', [xin], {}, { type: 'int64' })]);
      const scaled = g.op('Mul', [back, g.weight(`${name}.weight`, gamma, [ch, 1, 1])]);
      y = g.op('Add', [scaled, g.weight(`${name}.bias`, beta, [ch, 1, 1])], {}, { name });
    }
    return cast(y, out);
  };
  const groupNorm = (x: Value, prefix: string, ch: number, out: 'float32' | 'float16' = act): Value => groupNormWith(x, prefix, ch, GROUPS, W(`${prefix}.weight`), W(`${prefix}.bias`), out);
  const swish = (x: Value): Value => g.op('Mul', [x, g.op('Sigmoid', [x])]);

  const resBlock = (x: Value, prefix: string, cin: number, cout: number): Value => {
    let h = swish(groupNorm(x, `${prefix}.norm1`, cin));
    h = conv(h, `${prefix}.conv1`, cin, cout, 3);
    h = swish(groupNorm(h, `${prefix}.norm2`, cout));
    h = conv(h, `${prefix}.conv2`, cout, cout, 3);
    const skip = cin !== cout ? conv(x, `${prefix}.conv_out`, cin, cout, 1) : x;
    return g.op('Add', [h, skip], {}, { name: prefix });
  };

  const concat = (a: Float32Array, b: Float32Array): Float32Array => {
    const out = new Float32Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  /** Columns [from, from + n) of a conv weight [cout, cin, k, k]. */
  const inputSlice = (w: Float32Array, cout: number, cin: number, kk: number, from: number, n: number): Float32Array => {
    const out = new Float32Array(cout * n * kk);
    for (let o = 0; o < cout; o++) out.set(w.subarray((o * cin + from) * kk, (o * cin + from + n) * kk), o * n * kk);
    return out;
  };
  /**
   * The fuse block's ResBlock(2c → c) applied to cat([enc, dec]) without materialising the concatenation:
   * GroupNorm(32) over 2c channels is GroupNorm(16) over each half (groups never straddle the halves), and a
   * conv over the concatenation is the sum of convs over the halves.
   */
  const fuseResBlock = (enc: Value, dec: Value, prefix: string, c: number): Value => {
    const g1 = W(`${prefix}.norm1.weight`);
    const b1 = W(`${prefix}.norm1.bias`);
    const w1 = W(`${prefix}.conv1.weight`);
    const wo = W(`${prefix}.conv_out.weight`);
    const none = new Float32Array(c);
    const half = (v: Value, i: number, name: string): Value => swish(groupNormWith(v, `${prefix}.norm1.${name}`, c, GROUPS / 2, g1.subarray(i * c, (i + 1) * c), b1.subarray(i * c, (i + 1) * c)));
    const hE = convRaw(half(enc, 0, 'enc'), `${prefix}.conv1.enc`, inputSlice(w1, c, 2 * c, 9, 0, c), W(`${prefix}.conv1.bias`), c, c, 3, { pads: [1, 1, 1, 1] });
    const hD = convRaw(half(dec, 1, 'dec'), `${prefix}.conv1.dec`, inputSlice(w1, c, 2 * c, 9, c, c), none, c, c, 3, { pads: [1, 1, 1, 1] });
    let h = g.op('Add', [hE, hD]);
    h = swish(groupNorm(h, `${prefix}.norm2`, c));
    h = conv(h, `${prefix}.conv2`, c, c, 3);
    const sE = convRaw(enc, `${prefix}.conv_out.enc`, inputSlice(wo, c, 2 * c, 1, 0, c), W(`${prefix}.conv_out.bias`), c, c, 1, { pads: [0, 0, 0, 0] });
    const sD = convRaw(dec, `${prefix}.conv_out.dec`, inputSlice(wo, c, 2 * c, 1, c, c), none, c, c, 1, { pads: [0, 0, 0, 0] });
    return g.op('Add', [h, g.op('Add', [sE, sD])], {}, { name: prefix });
  };

  const attnBlock = (x: Value, prefix: string, c: number): Value => {
    // Runs in float32 in both precisions: 16×16 tokens cost little, and the softmax logits stay exact.
    const h = groupNorm(x, `${prefix}.norm`, c, 'float32');
    const wqkv = new Float32Array(3 * c * c);
    const bqkv = new Float32Array(3 * c);
    ['q', 'k', 'v'].forEach((m, i) => {
      wqkv.set(W(`${prefix}.${m}.weight`), i * c * c);
      bqkv.set(W(`${prefix}.${m}.bias`), i * c);
    });
    const qkv = convRaw(h, `${prefix}.qkv`, wqkv, bqkv, 3 * c, c, 1, { pads: [0, 0, 0, 0] });
    const [q, k, v] = g.opN('Split', [qkv, g.int64([c, c, c])], 3, { axis: 1 });
    const flat = g.int64([0, c, -1]);
    const qf = g.op('Transpose', [g.op('Reshape', [q!, flat])], { perm: [0, 2, 1] });
    const kf = g.op('Reshape', [k!, flat]);
    const vf = g.op('Reshape', [v!, flat]);
    let s = g.op('MatMul', [qf, kf]);
    // torch: w_ * int(c) ** -0.5 (a Python float, applied in the tensor's dtype)
    s = g.op('Mul', [s, g.scalar(c ** -0.5)]);
    s = g.op('Softmax', [s], { axis: 2 });
    const o = g.op('MatMul', [vf, g.op('Transpose', [s], { perm: [0, 2, 1] })]);
    const o4 = g.op('Reshape', [o, g.op('Shape', [x], {}, { type: 'int64' })]);
    const p = cast(conv(o4, `${prefix}.proj_out`, c, c, 1), act);
    return g.op('Add', [x, p], {}, { name: prefix });
  };

  const upsampleBlock = (x: Value, prefix: string, c: number): Value => {
    if (upsample === 'resize') {
      const up = g.op('Resize', [x, null, g.weight('up_scales', Float32Array.of(1, 1, 2, 2), [4], 'float32')], {
        mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor',
      });
      return conv(up, `${prefix}.conv`, c, c, 3);
    }
    // Phase (a, b) of the ×2 output: rows a=0 see small rows (i-1: w0, i: w1+w2); a=1 see (i: w0+w1, i+1: w2).
    const w = W(`${prefix}.conv.weight`);
    const bias = W(`${prefix}.conv.bias`);
    const taps = (phase: number): number[][] => (phase === 0 ? [[0], [1, 2]] : [[0, 1], [2]]);
    const outs: Value[] = [];
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < 2; b++) {
        const k = new Float32Array(c * c * 4);
        const rows = taps(a);
        const cols = taps(b);
        for (let o = 0; o < c; o++) {
          for (let i = 0; i < c; i++) {
            const base = (o * c + i) * 9;
            for (let r = 0; r < 2; r++) {
              for (let s = 0; s < 2; s++) {
                let sum = 0;
                for (const rr of rows[r]!) for (const ss of cols[s]!) sum += w[base + rr * 3 + ss]!;
                k[(o * c + i) * 4 + r * 2 + s] = Math.fround(sum);
              }
            }
          }
        }
        outs.push(convRaw(x, `${prefix}.conv.phase${a}${b}`, k, bias, c, c, 2, { pads: [1 - a, 1 - b, a, b] }));
      }
    }
    const cat = g.op('Concat', outs, { axis: 1 });
    return g.op('DepthToSpace', [cat], { blocksize: 2, mode: 'DCR' }, { name: prefix });
  };

  const block = (x: Value, b: Block): Value => {
    switch (b.kind) {
      case 'conv':
        return conv(x, b.prefix, b.inCh, b.outCh, 3);
      case 'norm':
        return groupNorm(x, b.prefix, b.ch);
      case 'res':
        return resBlock(x, b.prefix, b.inCh, b.outCh);
      case 'attn':
        return attnBlock(x, b.prefix, b.ch);
      case 'down':
        return conv(x, `${b.prefix}.conv`, b.ch, b.ch, 3, { strides: [2, 2], pads: [0, 0, 1, 1] });
      case 'up':
        return upsampleBlock(x, b.prefix, b.ch);
    }
  };

  const linear = (x: Value, wName: string, bName: string | null, out: number, inp: number, wData?: Float32Array, bData?: Float32Array): Value => {
    const w = wData ?? W(wName);
    const wt = new Float32Array(inp * out); // [out, in] → [in, out] for x @ W^T
    for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) wt[i * out + o] = w[o * inp + i]!;
    const y = g.op('MatMul', [x, g.weight(`${wName}.T`, wt, [inp, out], 'float32')]);
    if (!bName && !bData) return y;
    return g.op('Add', [y, bData ? g.weight(`${bName}`, bData, [out], 'float32') : param(bName!, [out], 'float32')]);
  };
  const layerNorm = (x: Value, prefix: string, d: number): Value =>
    g.op('LayerNormalization', [x, param(`${prefix}.weight`, [d], 'float32'), param(`${prefix}.bias`, [d], 'float32')], { axis: -1, epsilon: f(1e-5) }, { name: prefix });

  // ---------------------------------------------------------------- graph
  const xIn = options.input ? options.input(g) : g.input('x', 'float32', ['N', 3, S, S]);
  const wIn = call.fixedW === undefined ? g.input('w', 'float32', ['N']) : null;
  let x = fp16 ? cast(xIn, 'float16') : xIn;

  // Encoder, keeping the skip features the fuse blocks need.
  const encFeat = new Map<number, Value>();
  arch.encoder.forEach((b, i) => {
    x = block(x, b);
    for (const fz of arch.fuse) if (fz.encoderIndex === i) encFeat.set(fz.size, x);
  });
  const lqFeat = fp16 ? cast(x, 'float32') : x;

  // Transformer over the latent tokens: [N, E, h, w] → [N, T, E] (batch-first; same arithmetic as (T, N, E)).
  const E = arch.embDim;
  const D = arch.dimEmbd;
  const T = arch.latentTokens;
  const H = arch.nHead;
  const hd = D / H;
  const tokens = g.op('Transpose', [g.op('Reshape', [lqFeat, g.int64([0, E, -1])])], { perm: [0, 2, 1] });
  let q = linear(tokens, 'feat_emb.weight', 'feat_emb.bias', D, E);
  const pos = param('position_emb', [T, D], 'float32');
  for (let l = 0; l < arch.nLayers; l++) {
    const p = `ft_layers.${l}`;
    const inW = W(`${p}.self_attn.in_proj_weight`);
    const inB = W(`${p}.self_attn.in_proj_bias`);
    const t2 = layerNorm(q, `${p}.norm1`, D);
    const qkIn = g.op('Add', [t2, pos]);
    const qk = linear(qkIn, `${p}.self_attn.in_proj_weight.qk`, `${p}.self_attn.in_proj_bias.qk`, 2 * D, D, inW.subarray(0, 2 * D * D), inB.subarray(0, 2 * D));
    const v = linear(t2, `${p}.self_attn.in_proj_weight.v`, `${p}.self_attn.in_proj_bias.v`, D, D, inW.subarray(2 * D * D), inB.subarray(2 * D));
    const [qh, kh] = g.opN('Split', [qk, g.int64([D, D])], 2, { axis: 2 });
    const heads = g.int64([0, T, H, hd]);
    const qs = g.op('Div', [g.op('Transpose', [g.op('Reshape', [qh!, heads])], { perm: [0, 2, 1, 3] }), g.scalar(Math.sqrt(hd))]);
    const ks = g.op('Transpose', [g.op('Reshape', [kh!, heads])], { perm: [0, 2, 3, 1] });
    const vs = g.op('Transpose', [g.op('Reshape', [v, heads])], { perm: [0, 2, 1, 3] });
    const att = g.op('Softmax', [g.op('MatMul', [qs, ks])], { axis: -1 });
    const ctx = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [att, vs])], { perm: [0, 2, 1, 3] }), g.int64([0, T, D])]);
    const o = linear(ctx, `${p}.self_attn.out_proj.weight`, `${p}.self_attn.out_proj.bias`, D, D);
    q = g.op('Add', [q, o]);
    const t3 = layerNorm(q, `${p}.norm2`, D);
    const h1 = g.op('Gelu', [linear(t3, `${p}.linear1.weight`, `${p}.linear1.bias`, arch.dimMlp, D)], { approximate: 'none' });
    q = g.op('Add', [q, linear(h1, `${p}.linear2.weight`, `${p}.linear2.bias`, D, arch.dimMlp)]);
  }
  const logits = linear(layerNorm(q, 'idx_pred_layer.0', D), 'idx_pred_layer.1.weight', null, arch.codebookSize, D);

  // Code lookup and AdaIN.
  const topIdx = g.op('ArgMax', [logits], { axis: 2, keepdims: 0 }, { type: 'int64', name: 'top_idx' });
  const codes = g.op('Gather', [param('quantize.embedding.weight', [arch.codebookSize, E], 'float32'), topIdx], { axis: 0 });
  const side = arch.latentSide;
  const quant = g.op('Reshape', [g.op('Transpose', [codes], { perm: [0, 2, 1] }), g.int64([0, E, side, side])]);
  const axes = g.int64([2, 3]);
  const stats = (v: Value): { centred: Value; mean: Value; std: Value } => {
    const mean = g.op('ReduceMean', [v, axes], { keepdims: 1 });
    const centred = g.op('Sub', [v, mean]);
    const ss = g.op('ReduceSumSquare', [centred, axes], { keepdims: 1 });
    const variance = g.op('Div', [ss, g.scalar(side * side - 1)]);
    const std = g.op('Sqrt', [g.op('Add', [variance, g.scalar(1e-5)])]);
    return { centred, mean, std };
  };
  const content = stats(quant);
  const style = stats(lqFeat);
  const adain = call.adain ? g.op('Add', [g.op('Mul', [g.op('Div', [content.centred, content.std]), style.std]), style.mean]) : quant;

  // Generator with fuse blocks.
  // A fixed w = 1 drops the multiply; a fixed w = 0 never reaches a fuse block (official `if w > 0`).
  const w4 = wIn ? g.op('Reshape', [fp16 ? cast(wIn, 'float16') : wIn, g.int64([-1, 1, 1, 1])]) : null;
  const anyW = skipFuse && wIn ? g.op('Greater', [g.op('ReduceMax', [wIn], { keepdims: 0 }), g.scalar(0)], {}, { type: 'bool', name: 'any_w' }) : null;
  const fuseBlock = (dec: Value, size: number, c: number): Value => {
    const p = `fuse_convs_dict.${size}`;
    const e = fuseResBlock(encFeat.get(size)!, dec, `${p}.encode_enc`, c);
    let scale: Value;
    let shift: Value;
    const branch2 = (h: Value, name: string): Value => conv(h, `${p}.${name}.2`, c, c, 3);
    if (mergeFuse) {
      // scale.0 and shift.0 read the same tensor: one Conv with both weight sets, then one LeakyReLU.
      const h0 = convRaw(e, `${p}.scale_shift.0`, concat(W(`${p}.scale.0.weight`), W(`${p}.shift.0.weight`)), concat(W(`${p}.scale.0.bias`), W(`${p}.shift.0.bias`)), 2 * c, c, 3, { pads: [1, 1, 1, 1] });
      const [hs, hh] = g.opN('Split', [g.op('LeakyRelu', [h0], { alpha: f(0.2) }), g.int64([c, c])], 2, { axis: 1 });
      scale = branch2(hs!, 'scale');
      shift = branch2(hh!, 'shift');
    } else {
      const branch = (name: string): Value => branch2(g.op('LeakyRelu', [conv(e, `${p}.${name}.0`, c, c, 3)], { alpha: f(0.2) }), name);
      scale = branch('scale');
      shift = branch('shift');
    }
    const sft = g.op('Add', [g.op('Mul', [dec, scale]), shift]);
    const residual = w4 ? g.op('Mul', [w4, sft]) : sft;
    return g.op('Add', [dec, residual], {}, { name: p });
  };
  x = fp16 ? cast(adain, 'float16') : adain;
  arch.generator.forEach((b, i) => {
    x = block(x, b);
    const fz = arch.fuse.find((z) => z.generatorIndex === i);
    if (!fz || call.fixedW === 0) return;
    if (!anyW) {
      x = fuseBlock(x, fz.size, fz.ch);
      return;
    }
    const dec = x;
    const p = `fuse_convs_dict.${fz.size}`;
    const thenBranch = root.subgraph(`${p}.fused`, (sub) => [inBranch(sub, () => fuseBlock(dec, fz.size, fz.ch))]);
    const elseBranch = root.subgraph(`${p}.skipped`, () => [dec]);
    x = g.op('If', [anyW], { then_branch: thenBranch, else_branch: elseBranch }, { type: dec.type, name: `${p}.if` });
  });
  const out = fp16 ? cast(x, 'float32') : x;

  if (options.uint8Output) {
    // (out + 1) · 127.5 clamped, rounded half up, NHWC: what nchwToCrop does on the host (Math.round). Floor(v + 0.5)
    // rather than Round (half to even), which ONNX Runtime's WebGPU provider also lacks.
    const levels = g.op('Floor', [g.op('Add', [g.op('Clip', [g.op('Mul', [g.op('Add', [out, g.scalar(1)]), g.scalar(127.5)]), g.scalar(0), g.scalar(255)]), g.scalar(0.5)])]);
    g.output('restored', g.op('Cast', [g.op('Transpose', [levels], { perm: [0, 2, 3, 1] })], { to: 2 }, { type: 'uint8' }), ['N', S, S, 3]);
  } else g.output('out', out, ['N', 3, S, S]);
  if (options.extraOutputs) {
    g.output('logits', logits, ['N', T, arch.codebookSize]);
    g.output('lq_feat', lqFeat, ['N', E, side, side]);
    g.output('top_idx', topIdx, ['N', T]);
  }
  return g.encode({
    graphName: 'codeformer',
    docString: `CodeFormer (sczhou/CodeFormer) ${kind} forward (adain=${call.adain ? 'True' : 'False'}, w=${call.fixedW ?? 'per face'}), built by facerestore from a PyTorch checkpoint.`,
    metadata: {
      'facerestore.model': 'codeformer',
      'facerestore.kind': kind,
      'facerestore.precision': fp16 ? 'float16' : 'float32',
      'facerestore.params': String(arch.params),
    },
  });
}
