/**
 * face-api's 68-point face landmark network (FaceLandmark68Net, @vladmandic/face-api, MIT) as an ONNX graph,
 * built from the package's TF.js weights (a weights manifest and one uint8-quantised .bin) with the
 * product's GraphBuilder. The architecture is face-api's (src/faceFeatureExtractor, src/faceLandmarkNet):
 *
 *   x (N×112×112×3 RGB, 0–255) − mean RGB (122.782, 117.001, 104.298), ÷ 255
 *   → 4 dense blocks (32, 64, 128, 256 channels; each: a stride-2 conv, then three depthwise-separable
 *     convs whose outputs are summed densely, ReLU after each sum) → 7×7 average pool → fully connected 256→136.
 *
 * The output, `landmarks` (N×136), is x0, y0, x1, y1, … as fractions of the 112 px input side. Convolutions
 * use TF's 'same' padding (the extra row and column of a stride-2 conv at the end), explicit in `pads`.
 * Weights are dequantised exactly as TF.js does (q·scale + min, rounded once to float32), so the graph holds
 * the very numbers TF.js computes with.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { FaceRestoreError } from '../errors.ts';
import { GraphBuilder, type Value } from './graphBuilder.ts';

/** Side of the network's square input. */
export const LANDMARK68_INPUT = 112;
/** face-api's per-channel mean (RGB), subtracted before dividing by 255. */
export const LANDMARK68_MEAN_RGB = [122.782, 117.001, 104.298] as const;

/** One entry of a TF.js weights manifest. */
interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale: number; min: number };
}

/** Dequantised weights by name, with their TF.js shapes. */
export type WeightMap = Map<string, { shape: number[]; data: Float32Array }>;

/** Folder of face-api's model files inside node_modules. */
export function faceApiModelDir(): string {
  const req = createRequire(import.meta.url);
  return path.join(path.dirname(req.resolve('@vladmandic/face-api/package.json')), 'model');
}

/**
 * Reads and dequantises a TF.js weights manifest and its .bin files (the `paths` of each group, in order).
 * @throws FaceRestoreError E_MODEL_MISSING when a file is missing, E_MODEL_INVALID when the bytes do not match the manifest
 */
export async function readTfjsWeights(manifestPath: string): Promise<WeightMap> {
  let groups: Array<{ paths: string[]; weights: WeightSpec[] }>;
  try {
    groups = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new FaceRestoreError(missing ? 'E_MODEL_MISSING' : 'E_MODEL_INVALID', `cannot read TF.js weights manifest ${manifestPath}: ${(e as Error).message}`, { cause: e });
  }
  const out: WeightMap = new Map();
  for (const g of groups) {
    const parts = await Promise.all(g.paths.map((p) => readFile(path.join(path.dirname(manifestPath), p))));
    const bin = Buffer.concat(parts);
    let off = 0;
    for (const w of g.weights) {
      const count = w.shape.reduce((a, b) => a * b, 1);
      const q = w.quantization;
      const data = new Float32Array(count);
      if (w.dtype !== 'float32') throw new FaceRestoreError('E_MODEL_INVALID', `weight ${w.name}: dtype ${w.dtype} (float32 expected)`);
      if (q && q.dtype === 'uint8') {
        if (off + count > bin.length) throw new FaceRestoreError('E_MODEL_INVALID', `weights file too short for ${w.name}`);
        for (let i = 0; i < count; i++) data[i] = bin[off + i]! * q.scale + q.min;
        off += count;
      } else if (!q) {
        if (off + 4 * count > bin.length) throw new FaceRestoreError('E_MODEL_INVALID', `weights file too short for ${w.name}`);
        data.set(new Float32Array(bin.buffer.slice(bin.byteOffset + off, bin.byteOffset + off + 4 * count)));
        off += 4 * count;
      } else throw new FaceRestoreError('E_MODEL_INVALID', `weight ${w.name}: quantisation ${q.dtype} is not supported`);
      out.set(w.name, { shape: w.shape, data });
    }
    if (off !== bin.length) throw new FaceRestoreError('E_MODEL_INVALID', `weights file has ${bin.length - off} bytes beyond the manifest's weights`);
  }
  return out;
}

/** TF.js [kh, kw, in, out] (or depthwise [kh, kw, C, 1] read as out = C, in = 1) → ONNX [out, in, kh, kw]. */
export function toOihw(data: Float32Array, shape: readonly number[], depthwise: boolean): { data: Float32Array; dims: number[] } {
  const [kh, kw, ci, co] = shape as [number, number, number, number];
  const outC = depthwise ? ci : co;
  const inC = depthwise ? 1 : ci;
  const res = new Float32Array(data.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) {
    const src = ((y * kw + x) * ci + i) * co + o;
    const oc = depthwise ? i : o;
    const ic = depthwise ? 0 : i;
    res[((oc * inC + ic) * kh + y) * kw + x] = data[src]!;
  }
  return { data: res, dims: [outC, inC, kh, kw] };
}

/** Options of buildLandmark68Graph. */
export interface Landmark68GraphOptions {
  /**
   * Sum each dense block's branches as running totals (3 Adds per block, fused into the Convs by ONNX Runtime)
   * instead of in face-api's nesting (6 Adds). Float sums in another order: the 136 outputs differ by
   * ≤ 1e-5 of the input side (test/landmark68.test.ts). Default true.
   */
  runningSums?: boolean;
}

/** Builds the ONNX graph (bytes) of the 68-point network from its dequantised weights. */
export function buildLandmark68Graph(weights: WeightMap, graphOptions: Landmark68GraphOptions = {}): Uint8Array {
  const options = { runningSums: graphOptions.runningSums ?? true };
  const b = new GraphBuilder();
  const get = (name: string) => {
    const w = weights.get(name);
    if (!w) throw new FaceRestoreError('E_MODEL_INVALID', `the 68-point landmark weights lack ${name}`);
    return w;
  };
  const conv = (x: Value, name: string, stride: number, depthwise: boolean, withBias: boolean): Value => {
    const w = get(`${name}/${depthwise ? 'depthwise_filter' : withBias ? 'filters' : 'pointwise_filter'}`);
    const { data, dims } = toOihw(w.data, w.shape, depthwise);
    const k = dims[2]!;
    // TF 'same': total padding max((ceil(n/s) − 1)·s + k − n, 0), the smaller half first. The input sides
    // here are even (112, 56, 28, 14), so stride 2 pads (0, 1), stride 1 with k = 3 pads (1, 1).
    const total = stride === 2 ? Math.max(k - 2, 0) : k - 1;
    const p0 = Math.floor(total / 2), p1 = total - p0;
    const inputs = [x, b.weight(`${name.replace(/\//g, '_')}_w`, data, dims)];
    if (withBias) inputs.push(b.weight(`${name.replace(/\//g, '_')}_b`, get(`${name}/bias`).data, [dims[0]!]));
    return b.op('Conv', inputs, { kernel_shape: [k, k], strides: [stride, stride], pads: [p0, p0, p1, p1], group: depthwise ? dims[0]! : 1, dilations: [1, 1] });
  };
  // tf.separableConv2d then + bias: depthwise, pointwise (1×1, no padding), bias.
  const separable = (x: Value, name: string, stride: number): Value => {
    const dw = conv(x, name, stride, true, false);
    const pw = conv(dw, name, 1, false, false);
    return b.op('Add', [pw, b.weight(`${name.replace(/\//g, '_')}_b`, get(`${name}/bias`).data, [get(`${name}/bias`).data.length, 1, 1])]);
  };
  const relu = (x: Value) => b.op('Relu', [x]);
  const add = (x: Value, y: Value) => b.op('Add', [x, y]);
  const denseBlock4 = (x: Value, name: string, first: boolean): Value => {
    const out1 = relu(first ? conv(x, `${name}/conv0`, 2, false, true) : separable(x, `${name}/conv0`, 2));
    const out2 = separable(out1, `${name}/conv1`, 1);
    if (!options.runningSums) {
      // face-api's own order of the sums.
      const in3 = relu(add(out1, out2));
      const out3 = separable(in3, `${name}/conv2`, 1);
      const in4 = relu(add(out1, add(out2, out3)));
      const out4 = separable(in4, `${name}/conv3`, 1);
      return relu(add(out1, add(out2, add(out3, out4))));
    }
    // The same sums as running totals (s2 = out1 + out2, s3 = s2 + out3, s4 = s3 + out4): 3 Adds per block
    // instead of 6, each the Add right after a pointwise Conv, which ORT's NCHWc transformer fuses into the
    // Conv (its Sum input). Measured: one 112 px face 1.47 → 1.20 ms (one thread, load 5; bench/detect-path.ts).
    const s2 = add(out2, out1);
    const out3 = separable(relu(s2), `${name}/conv2`, 1);
    const s3 = add(out3, s2);
    const out4 = separable(relu(s3), `${name}/conv3`, 1);
    return relu(add(out4, s3));
  };
  const input = b.input('input', 'float32', ['N', LANDMARK68_INPUT, LANDMARK68_INPUT, 3]);
  const nchw = b.op('Transpose', [input], { perm: [0, 3, 1, 2] });
  const mean = b.weight('mean_rgb', Float32Array.from(LANDMARK68_MEAN_RGB), [1, 3, 1, 1]);
  let x = b.op('Div', [b.op('Sub', [nchw, mean]), b.scalar(255)]);
  for (const [i, name] of ['dense0', 'dense1', 'dense2', 'dense3'].entries()) x = denseBlock4(x, name, i === 0);
  x = b.op('AveragePool', [x], { kernel_shape: [7, 7], strides: [2, 2] });
  x = b.op('Flatten', [x], { axis: 1 });
  const fcW = get('fc/weights');
  x = b.op('Add', [b.op('MatMul', [x, b.weight('fc_w', fcW.data, fcW.shape)]), b.weight('fc_b', get('fc/bias').data, [136])]);
  b.output('landmarks', x, ['N', 136]);
  return b.encode({ graphName: 'face_landmark_68', docString: 'face-api FaceLandmark68Net (vladmandic/face-api, MIT), converted from its TF.js weights' });
}

/** The graph of the weights shipped in @vladmandic/face-api (face_landmark_68_model). */
export async function faceApiLandmark68Graph(options: Landmark68GraphOptions = {}): Promise<Uint8Array> {
  return buildLandmark68Graph(await readTfjsWeights(path.join(faceApiModelDir(), 'face_landmark_68_model-weights_manifest.json')), options);
}
