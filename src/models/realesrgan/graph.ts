/**
 * Builds the ONNX graph of RRDBNet's forward pass (basicsr/archs/rrdbnet_arch.py) from an inferred
 * architecture and its weights: input `x` float32 [N, 3, H, W] in [0, 1] RGB (as RealESRGANer feeds it; H and
 * W divisible by the unshuffle factor), output `out` float32 [N, 3, H·s, W·s], the raw network output
 * (RealESRGANer clamps to [0, 1] afterwards; so does the caller). Batch, height and width are dynamic.
 *
 * - pixel_unshuffle (x2plus: by 2): ONNX SpaceToDepth orders channels (dy·u + dx)·C + c where basicsr's
 *   view/permute gives c·u² + dy·u + dx, so conv_first's input channels are permuted to match instead of
 *   rearranging the image;
 * - ResidualDenseBlock: each conv reads the Concat of the block input and every earlier output, LeakyReLU
 *   0.2 after conv1..4, `x5·0.2 + x`; RRDB: three of them, `out·0.2 + x`;
 * - upsampling: nearest ×2 (Resize, asymmetric/floor, which is F.interpolate's nearest) + conv + LeakyReLU, twice.
 */
import { GraphBuilder, f, type Value } from '../graphBuilder.ts';
import type { RrdbArch } from './arch.ts';

/** Weights by state-dict name, as contiguous float32. */
export type WeightMap = ReadonlyMap<string, Float32Array>;

/** Builds the ONNX model bytes. */
export function buildRrdbGraph(arch: RrdbArch, weights: WeightMap): Uint8Array {
  const g = new GraphBuilder();
  const W = (name: string): Float32Array => {
    const w = weights.get(name);
    if (!w) throw new Error(`internal: weight ${name} missing after architecture check`);
    return w;
  };
  const convWith = (x: Value, stem: string, wt: Float32Array, cout: number, cin: number): Value =>
    g.op('Conv', [x, g.weight(`${stem}.weight`, wt, [cout, cin, 3, 3]), g.weight(`${stem}.bias`, W(`${stem}.bias`), [cout])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: stem });
  const conv = (x: Value, stem: string, cout: number, cin: number): Value => convWith(x, stem, W(`${stem}.weight`), cout, cin);
  const lrelu = (x: Value): Value => g.op('LeakyRelu', [x], { alpha: f(0.2) });
  const scaled = (x: Value, skip: Value): Value => g.op('Add', [g.op('Mul', [x, g.scalar(0.2)]), skip]);
  const F = arch.numFeat;
  const G = arch.numGrowCh;
  const u = arch.unshuffle;
  const C = arch.inCh;

  const xIn = g.input('x', 'float32', ['N', C, 'H', 'W']);
  let feat: Value;
  if (u === 1) {
    feat = conv(xIn, 'conv_first', F, C);
  } else {
    const src = W('conv_first.weight');
    const cin = C * u * u;
    const permuted = new Float32Array(src.length);
    for (let o = 0; o < F; o++) {
      for (let c = 0; c < C; c++) {
        for (let b = 0; b < u * u; b++) {
          const from = (o * cin + c * u * u + b) * 9;
          permuted.set(src.subarray(from, from + 9), (o * cin + b * C + c) * 9);
        }
      }
    }
    feat = convWith(g.op('SpaceToDepth', [xIn], { blocksize: u }), 'conv_first', permuted, F, cin);
  }

  const rdb = (x: Value, p: string): Value => {
    const parts: Value[] = [x];
    for (let c = 1; c <= 4; c++) {
      const input = parts.length === 1 ? x : g.op('Concat', parts, { axis: 1 });
      parts.push(lrelu(conv(input, `${p}.conv${c}`, G, F + (c - 1) * G)));
    }
    const x5 = conv(g.op('Concat', parts, { axis: 1 }), `${p}.conv5`, F, F + 4 * G);
    return scaled(x5, x);
  };
  let body = feat;
  for (let b = 0; b < arch.numBlock; b++) {
    let h = body;
    for (let r = 1; r <= 3; r++) h = rdb(h, `body.${b}.rdb${r}`);
    body = scaled(h, body);
  }
  let x = g.op('Add', [feat, conv(body, 'conv_body', F, F)]);
  const scales = g.weight('up_scales', Float32Array.of(1, 1, 2, 2), [4]);
  const up = (v: Value, stem: string): Value =>
    lrelu(conv(g.op('Resize', [v, null, scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }), stem, F, F));
  x = up(x, 'conv_up1');
  x = up(x, 'conv_up2');
  const out = conv(lrelu(conv(x, 'conv_hr', F, F)), 'conv_last', arch.outCh, F);
  g.output('out', out, ['N', arch.outCh, 'HS', 'WS']);
  return g.encode({
    graphName: 'rrdbnet',
    docString: `RRDBNet x${arch.scale} (Real-ESRGAN), built by facerestore from a PyTorch checkpoint.`,
    metadata: {
      'facerestore.model': 'rrdbnet',
      'facerestore.scale': String(arch.scale),
      'facerestore.params': String(arch.params),
    },
  });
}
