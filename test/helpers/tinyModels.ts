import { GraphBuilder } from '../../src/models/graphBuilder.ts';

/** Options for a tiny restorer-shaped ONNX model. */
export interface TinyRestorerOptions {
  /** Image input name. Default `x`. */
  imageName?: string;
  /** Weight input name, or null for a model without one. Default `w`. */
  weightName?: string | null;
  /** Weight element type. Default float32. */
  weightType?: 'float32' | 'float64';
  /** Weight shape: 'batch' → [N], 'one' → [1], 'scalar' → []. Default 'batch'. */
  weightShape?: 'batch' | 'one' | 'scalar';
  /** Batch dimension: 'dynamic' or a fixed 1. Default dynamic. */
  batch?: 'dynamic' | 1;
}

/**
 * A restorer-shaped model with a known closed form: out = x · (1 − 0.5·w), with w broadcast per face.
 * Small enough to build in a test, exact enough to check batching and per-face weights.
 */
export function tinyRestorerModel(o: TinyRestorerOptions = {}): Uint8Array {
  const g = new GraphBuilder();
  const n = o.batch === 1 ? 1 : 'N';
  const x = g.input(o.imageName ?? 'x', 'float32', [n, 3, 512, 512]);
  let out = x;
  const weightName = o.weightName === undefined ? 'w' : o.weightName;
  if (weightName !== null) {
    const shape = o.weightShape === 'scalar' ? [] : o.weightShape === 'one' ? [1] : [n];
    let w = g.input(weightName, 'float32', shape);
    if (o.weightType === 'float64') {
      // GraphBuilder declares float32; the declared type is switched to DOUBLE (11) and cast back inside.
      g.inputs[g.inputs.length - 1]!.type.tensorType.elemType = 11;
      w = g.op('Cast', [{ name: w.name, type: 'float32' }], { to: 1 }, { type: 'float32' });
    }
    const w4 = o.weightShape === 'scalar' ? w : g.op('Reshape', [w, g.int64([-1, 1, 1, 1])]);
    const k = g.op('Sub', [g.scalar(1), g.op('Mul', [w4, g.scalar(0.5)])]);
    out = g.op('Mul', [x, k]);
  } else {
    out = g.op('Mul', [x, g.scalar(0.75)]);
  }
  g.output('out', out, [n, 3, 512, 512]);
  return g.encode({ graphName: 'tiny_restorer' });
}

/** Expected output of tinyRestorerModel for one RGB24 crop and weight, as RGB24. */
export function tinyRestorerExpected(crop: Uint8Array, w: number | null): Uint8Array {
  const k = w === null ? 0.75 : 1 - 0.5 * w;
  const out = new Uint8Array(crop.length);
  for (let i = 0; i < crop.length; i++) {
    const v = (Math.fround(crop[i]! / 127.5 - 1) * k + 1) * 127.5;
    out[i] = Math.min(255, Math.max(0, Math.round(v)));
  }
  return out;
}

/**
 * A tiny deterministic face-embedding model (ArcFace-shaped contract: float32 [N,3,112,112] → [N,192]):
 * the aligned face averaged over 14×14 blocks (an 8×8 thumbnail per channel), minus its mean. Its cosine
 * similarity is the normalised correlation of two aligned faces' thumbnails: crude, but it tells a face
 * from itself in another photo apart from another person's in a test.
 */
export function tinyEmbeddingModel(o: { batch?: 'dynamic' | 1 } = {}): Uint8Array {
  const g = new GraphBuilder();
  const n = o.batch === 1 ? 1 : 'N';
  const x = g.input('input', 'float32', [n, 3, 112, 112]);
  const pooled = g.op('AveragePool', [x], { kernel_shape: [14, 14], strides: [14, 14] });
  const flat = g.op('Flatten', [pooled], { axis: 1 });
  const mean = g.op('ReduceMean', [flat, g.int64([1])], { keepdims: 1 });
  g.output('embedding', g.op('Sub', [flat, mean]), [n, 192]);
  return g.encode({ graphName: 'tiny_embedding' });
}
