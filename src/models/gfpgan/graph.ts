/**
 * Builds the ONNX graph of GFPGANv1Clean's forward pass `image, _ = net(x, return_rgb=False)` (as
 * GFPGANer.enhance calls it; gfpganv1_clean_arch.py + stylegan2_clean_arch.py) from an inferred
 * architecture and its weights, with a dynamic batch and one `w` per face.
 *
 * Interface: `x` float32 [N,3,512,512] RGB in [-1,1], `w` float32 [N]; `out` float32 [N,3,512,512]:
 *   out = v·clip(image, −1, 1) + (1 − v)·x,  v = min(1, 2·(1 − w))
 * GFPGAN's forward has no fidelity input (GFPGANer passes `weight`, which the clean arch ignores), so `w` is
 * mapped onto a blend with the input crop: w ≤ 0.5 (the product's default 0.5 included) gives GFPGAN's own
 * output exactly, w = 1 gives the input back, and between them the restored face fades linearly into the
 * input (as A1111's "GFPGAN visibility" does, with visibility v). Clipping first is what GFPGANer's
 * tensor2img does before its conversion to 8 bits.
 *
 * Noise: GFPGANer calls with `randomize_noise=True`, so every call draws fresh noise maps; restoring video
 * that way makes fine detail flicker from frame to frame. The graph uses the checkpoint's stored noise
 * buffers instead (`randomize_noise=False`: the same maps for every face and frame), or takes the maps as
 * inputs `noise0..14` with `noise: 'inputs'` (parity checks against a recorded random draw).
 *
 * What each official module becomes:
 * - ModulatedConv2d: the official code scales the weight per sample and runs a grouped conv with
 *   groups = batch, which ONNX cannot express for a dynamic batch (`group` is an attribute). Default
 *   `modulation: 'activations'`: conv(W ⊙ s) x = conv(W)(x ⊙ s) per input channel, and the
 *   demodulation factor rsqrt(Σ_{i,k} (W_oik·s_i)² + 1e-8) = rsqrt((s²) · (Σ_k W_oik²)ᵀ + 1e-8) is a
 *   [N,Ci]×[Ci,Co] MatMul that multiplies the conv's output per channel: one shared-weight Conv for the
 *   whole batch, exact in real arithmetic. `'grouped'` builds the official form for a fixed batch (for
 *   measuring both);
 * - upsampling StyleConvs: bilinear ×2 (Resize linear, pytorch_half_pixel = align_corners False) of the
 *   modulated input (a per-channel scale commutes with interpolation, so it runs on the smaller tensor),
 *   then the 3×3 conv; the U-Net's 0.5× bilinear is a 2×2 AveragePool (exactly what it computes);
 * - StyleConv: conv·demod·√2 + weight·noise + bias, LeakyReLU 0.2; ToRGB: 1×1 modulated conv without
 *   demodulation + bias + bilinear-upsampled skip;
 * - SFT (sft_half): the second half of the channels becomes half·scale + shift (Slice, Concat);
 * - condition_scale.i / condition_shift.i: their first convs read the same tensor and run as one Conv,
 *   their second convs as one grouped Conv (group 2): the same sums per output channel.
 */
import { GraphBuilder, f, type Value } from '../graphBuilder.ts';
import type { GfpganArch } from './arch.ts';

/** Weights by state-dict name, as contiguous float32. */
export type WeightMap = ReadonlyMap<string, Float32Array>;

/** Options for {@link buildGfpganGraph}. */
export interface GfpganGraphOptions {
  /** `buffers` (default): the checkpoint's noise maps; `inputs`: graph inputs `noise0..` [1,1,r,r]. */
  noise?: 'buffers' | 'inputs';
  /** Modulated convolution form (see the module comment). Default `activations`. */
  modulation?: 'activations' | 'grouped';
  /** Fixed batch of the `grouped` form. Default 1. */
  groupedBatch?: number;
  /** Also output `image` (the network's raw output, before clip and blend) and `latent` [N,rows,S]. */
  extraOutputs?: boolean;
}

/** Version of the graph layout; part of the cache key. */
export const GFPGAN_GRAPH_VERSION = 1;

/** Builds the ONNX model bytes. */
export function buildGfpganGraph(arch: GfpganArch, weights: WeightMap, options: GfpganGraphOptions = {}): Uint8Array {
  const g = new GraphBuilder();
  const grouped = options.modulation === 'grouped';
  const B = options.groupedBatch ?? 1;
  if (grouped && !(Number.isInteger(B) && B >= 1)) throw new TypeError(`Expected a positive integer for groupedBatch but received ${B}`);
  const W = (name: string): Float32Array => {
    const w = weights.get(name);
    if (!w) throw new Error(`internal: weight ${name} missing after architecture check`);
    return w;
  };
  const S = arch.numStyleFeat;
  const size = arch.outSize;
  const levels = arch.logSize - 1;
  const U = arch.unetCh;
  const D = arch.decCh;
  const batch: number | string = grouped ? B : 'N';

  const lrelu = (x: Value): Value => g.op('LeakyRelu', [x], { alpha: f(0.2) });
  const conv = (x: Value, stem: string, cout: number, cin: number, k: number, bias = true): Value => {
    const inputs: Value[] = [x, g.weight(`${stem}.weight`, W(`${stem}.weight`), [cout, cin, k, k])];
    if (bias) inputs.push(g.weight(`${stem}.bias`, W(`${stem}.bias`), [cout]));
    const p = (k - 1) / 2;
    return g.op('Conv', inputs, { kernel_shape: [k, k], pads: [p, p, p, p] }, { name: stem });
  };
  const up2 = g.weight('up2_scales', Float32Array.of(1, 1, 2, 2), [4]);
  const upsample = (x: Value): Value => g.op('Resize', [x, null, up2], { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' });
  const downsample = (x: Value): Value => g.op('AveragePool', [x], { kernel_shape: [2, 2], strides: [2, 2] });
  const resBlock = (x: Value, p: string, cin: number, cout: number, mode: 'down' | 'up'): Value => {
    const resample = mode === 'down' ? downsample : upsample;
    const h = lrelu(conv(resample(lrelu(conv(x, `${p}.conv1`, cin, cin, 3))), `${p}.conv2`, cout, cin, 3));
    return g.op('Add', [h, conv(resample(x), `${p}.skip`, cout, cin, 1, false)]);
  };

  // ---------------------------------------------------------------- U-Net encoder
  const x = g.input('x', 'float32', [batch, 3, size, size]);
  const wIn = g.input('w', 'float32', [batch]);
  let feat = lrelu(conv(x, 'conv_body_first', U[levels - 1]!, 3, 1));
  const skips: Value[] = [];
  for (let i = 0; i < arch.logSize - 2; i++) {
    feat = resBlock(feat, `conv_body_down.${i}`, U[levels - 1 - i]!, U[levels - 2 - i]!, 'down');
    skips.unshift(feat);
  }
  feat = lrelu(conv(feat, 'final_conv', U[0]!, U[0]!, 3));

  // ---------------------------------------------------------------- style code (W+ latent)
  const rows = arch.differentW ? arch.numLatent : 1;
  const flat = g.op('Flatten', [feat], { axis: 1 });
  const code = g.op('Gemm', [flat, g.weight('final_linear.weight', W('final_linear.weight'), [rows * S, U[0]! * 16]), g.weight('final_linear.bias', W('final_linear.bias'), [rows * S])], { transB: 1 }, { name: 'final_linear' });
  const latent = g.op('Reshape', [code, g.int64([0, rows, S])], {}, { name: 'latent' });
  const rowCache = new Map<number, Value>();
  const row = (j: number): Value => {
    const r = arch.differentW ? j : 0;
    let v = rowCache.get(r);
    if (!v) {
      v = g.op('Gather', [latent, g.int64([r], [])], { axis: 1 }, { name: `latent_row${r}` });
      rowCache.set(r, v);
    }
    return v;
  };

  // ---------------------------------------------------------------- SFT conditions
  const conditions: Array<{ scale: Value; shift: Value }> = [];
  for (let i = 0; i < arch.logSize - 2; i++) {
    feat = g.op('Add', [feat, skips[i]!]);
    const c = U[i + 1]!;
    feat = resBlock(feat, `conv_body_up.${i}`, U[i]!, c, 'up');
    const cs = arch.sftHalf ? c : 2 * c;
    // condition_scale.i.0 and condition_shift.i.0 as one conv; their .2 convs as one grouped conv.
    const w0 = new Float32Array(2 * c * c * 9);
    w0.set(W(`condition_scale.${i}.0.weight`));
    w0.set(W(`condition_shift.${i}.0.weight`), c * c * 9);
    const b0 = new Float32Array(2 * c);
    b0.set(W(`condition_scale.${i}.0.bias`));
    b0.set(W(`condition_shift.${i}.0.bias`), c);
    const h = lrelu(g.op('Conv', [feat, g.weight(`condition.${i}.0.weight`, w0, [2 * c, c, 3, 3]), g.weight(`condition.${i}.0.bias`, b0, [2 * c])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: `condition.${i}.0` }));
    const w2 = new Float32Array(2 * cs * c * 9);
    w2.set(W(`condition_scale.${i}.2.weight`));
    w2.set(W(`condition_shift.${i}.2.weight`), cs * c * 9);
    const b2 = new Float32Array(2 * cs);
    b2.set(W(`condition_scale.${i}.2.bias`));
    b2.set(W(`condition_shift.${i}.2.bias`), cs);
    const both = g.op('Conv', [h, g.weight(`condition.${i}.2.weight`, w2, [2 * cs, c, 3, 3]), g.weight(`condition.${i}.2.bias`, b2, [2 * cs])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 2 }, { name: `condition.${i}.2` });
    const [scale, shift] = g.opN('Split', [both, g.int64([cs, cs])], 2, { axis: 1 }, { name: `condition.${i}` });
    conditions.push({ scale: scale!, shift: shift! });
  }

  // ---------------------------------------------------------------- StyleGAN2 decoder
  const d = 'stylegan_decoder';
  /** Modulated conv of `x` (cin channels) with latent row `j`: output × demodulation × gain (demod off: × gain). */
  const modConv = (xv: Value, p: string, cin: number, cout: number, k: number, j: number, demod: boolean, up: boolean, gain: number): Value => {
    const wt = W(`${p}.modulated_conv.weight`); // [1, cout, cin, k, k]
    const s = g.op('Gemm', [row(j), g.weight(`${p}.modulation.weight`, W(`${p}.modulated_conv.modulation.weight`), [cin, S]), g.weight(`${p}.modulation.bias`, W(`${p}.modulated_conv.modulation.bias`), [cin])], { transB: 1 }, { name: `${p}.modulation` });
    const pad = (k - 1) / 2;
    if (!grouped) {
      let xs = g.op('Mul', [xv, g.op('Reshape', [s, g.int64([0, cin, 1, 1])])]);
      if (up) xs = upsample(xs);
      let y = g.op('Conv', [xs, g.weight(`${p}.weight`, wt, [cout, cin, k, k])], { kernel_shape: [k, k], pads: [pad, pad, pad, pad] }, { name: p });
      if (demod) {
        // Σ_k W² per (out, in), transposed to [cin, cout] for s² · Wsqᵀ.
        const wsq = new Float32Array(cin * cout);
        for (let o = 0; o < cout; o++) {
          for (let i = 0; i < cin; i++) {
            let acc = 0;
            for (let t = 0; t < k * k; t++) acc += wt[(o * cin + i) * k * k + t]! ** 2;
            wsq[i * cout + o] = acc;
          }
        }
        const sum = g.op('MatMul', [g.op('Mul', [s, s]), g.weight(`${p}.weight_sq`, wsq, [cin, cout])]);
        let factor = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [sum, g.scalar(1e-8)])])]);
        if (gain !== 1) factor = g.op('Mul', [factor, g.scalar(gain)]);
        y = g.op('Mul', [y, g.op('Reshape', [factor, g.int64([0, cout, 1, 1])])], {}, { name: `${p}.demod` });
      } else if (gain !== 1) {
        y = g.op('Mul', [y, g.scalar(gain)]);
      }
      return y;
    }
    // The official form: per-sample weights, one grouped conv with groups = batch.
    let wv = g.op('Mul', [g.weight(`${p}.weight`, wt, [1, cout, cin, k, k]), g.op('Reshape', [s, g.int64([B, 1, cin, 1, 1])])]);
    if (demod) {
      const sq = g.op('ReduceSum', [g.op('Mul', [wv, wv]), g.int64([2, 3, 4])], { keepdims: 1 });
      wv = g.op('Mul', [wv, g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [sq, g.scalar(1e-8)])])])]);
    }
    wv = g.op('Reshape', [wv, g.int64([B * cout, cin, k, k])]);
    let xs = xv;
    if (up) xs = upsample(xs);
    const hw = g.op('Shape', [xs], { start: 2 }, { type: 'int64' });
    xs = g.op('Reshape', [xs, g.op('Concat', [g.int64([1, B * cin]), hw], { axis: 0 })]);
    let y = g.op('Conv', [xs, wv], { kernel_shape: [k, k], pads: [pad, pad, pad, pad], group: B }, { name: p });
    y = g.op('Reshape', [y, g.op('Concat', [g.int64([B, cout]), hw], { axis: 0 })]);
    if (gain !== 1) y = g.op('Mul', [y, g.scalar(gain)]);
    return y;
  };
  const noiseInputs: Value[] = [];
  const noiseOf = (i: number, p: string): Value => {
    const r = 2 ** ((i + 5) >> 1);
    const strength = W(`${p}.weight`)[0]!;
    if (options.noise === 'inputs') {
      const n = g.input(`noise${i}`, 'float32', [1, 1, r, r]);
      noiseInputs.push(n);
      return g.op('Mul', [g.weight(`${p}.weight`, Float32Array.of(strength), []), n]);
    }
    const buf = W(`${d}.noises.noise${i}`);
    const scaled = new Float32Array(buf.length);
    for (let t = 0; t < buf.length; t++) scaled[t] = strength * buf[t]!;
    return g.weight(`${p}.noise`, scaled, [1, 1, r, r]);
  };
  const styleConv = (xv: Value, p: string, cin: number, cout: number, j: number, noiseIndex: number, up: boolean): Value => {
    let y = modConv(xv, p, cin, cout, 3, j, true, up, Math.SQRT2);
    y = g.op('Add', [y, noiseOf(noiseIndex, p)]);
    y = g.op('Add', [y, g.weight(`${p}.bias`, W(`${p}.bias`), [1, cout, 1, 1])]);
    return lrelu(y);
  };
  const toRgb = (xv: Value, p: string, cin: number, j: number, skip: Value | undefined): Value => {
    const y = g.op('Add', [modConv(xv, p, cin, 3, 1, j, false, false, 1), g.weight(`${p}.bias`, W(`${p}.bias`), [1, 3, 1, 1])]);
    return skip ? g.op('Add', [y, upsample(skip)]) : y;
  };

  let out: Value = g.weight(`${d}.constant_input`, W(`${d}.constant_input.weight`), [1, D[0]!, 4, 4]);
  if (grouped) out = g.op('Expand', [out, g.int64([B, D[0]!, 4, 4])]);
  out = styleConv(out, `${d}.style_conv1`, D[0]!, D[0]!, 0, 0, false);
  let skip = toRgb(out, `${d}.to_rgb1`, D[0]!, 1, undefined);
  for (let k = 1; k < levels; k++) {
    const i = 2 * k - 1;
    out = styleConv(out, `${d}.style_convs.${2 * k - 2}`, D[k - 1]!, D[k]!, i, i, true);
    const { scale, shift } = conditions[k - 1]!;
    if (arch.sftHalf) {
      const half = Math.trunc(D[k]! / 2);
      const [same, sft] = g.opN('Split', [out, g.int64([half, D[k]! - half])], 2, { axis: 1 }, { name: `sft${k}` });
      out = g.op('Concat', [same!, g.op('Add', [g.op('Mul', [sft!, scale]), shift])], { axis: 1 });
    } else {
      out = g.op('Add', [g.op('Mul', [out, scale]), shift]);
    }
    out = styleConv(out, `${d}.style_convs.${2 * k - 1}`, D[k]!, D[k]!, i + 1, i + 1, false);
    skip = toRgb(out, `${d}.to_rgbs.${k - 1}`, D[k]!, i + 2, skip);
  }
  const image = skip;

  // ---------------------------------------------------------------- w: blend with the input crop
  const v = g.op('Clip', [g.op('Sub', [g.scalar(2), g.op('Mul', [wIn, g.scalar(2)])]), g.scalar(0), g.scalar(1)]);
  const v4 = g.op('Reshape', [v, g.int64([-1, 1, 1, 1])]);
  const restored = g.op('Clip', [image, g.scalar(-1), g.scalar(1)]);
  const blended = g.op('Add', [g.op('Mul', [restored, v4]), g.op('Mul', [x, g.op('Sub', [g.scalar(1), v4])])]);
  g.output('out', blended, [batch, 3, size, size]);
  if (options.extraOutputs) {
    g.output('image', image, [batch, 3, size, size]);
    g.output('latent', latent, [batch, rows, S]);
  }
  return g.encode({
    graphName: 'gfpgan',
    docString: 'GFPGANv1Clean (GFPGAN v1.3 / v1.4), built by facerestore from a PyTorch checkpoint. out = v·clip(image) + (1 − v)·x with v = min(1, 2(1 − w)).',
    metadata: {
      'facerestore.model': 'gfpgan',
      'facerestore.params': String(arch.params),
      'facerestore.noise': options.noise ?? 'buffers',
      'facerestore.modulation': grouped ? `grouped-batch${B}` : 'activations',
      'facerestore.w': 'blend: out = v*clip(image) + (1-v)*x, v = min(1, 2(1-w)); w <= 0.5 gives the network output',
    },
  });
}
