/**
 * face-api's 128-D face descriptor network (FaceRecognitionNet, @vladmandic/face-api, MIT; a ResNet-34-like
 * net ported from dlib's face recognition model) as an ONNX graph, built from the package's TF.js weights
 * with the product's GraphBuilder, as models/faceLandmark68.ts does for the 68-point net. The architecture
 * is face-api's (src/faceRecognitionNet):
 *
 *   x (N×150×150×3 RGB, 0–255) − mean RGB (122.782, 117.001, 104.298), ÷ 255
 *   → conv 7×7/2 'valid' (32) → max pool 3×3/2 'valid'
 *   → residual ×3 (32) → residual-down + ×3 (64) → residual-down + ×2 (128) → residual-down + ×2 (256)
 *   → residual-down (256) → spatial mean → fully connected 256→128 (no bias).
 *
 * Every conv is conv + bias, then a "scale" layer (· weights + biases), ReLU except the second of a residual
 * pair. A residual-down block runs its first conv 3×3/2 'valid' and adds a 2×2/2 average pool of its input
 * (zero channels appended when the width doubles); where the conv branch comes out one row/column smaller
 * than the pool, face-api appends a zero row and column. At 150 px the last block's conv branch is empty
 * (2×2 input, 3×3 kernel): face-api then adds zeros, so that block is relu(avgPool(x)), as here.
 * Weights are dequantised as TF.js does (readTfjsWeights).
 */
import path from 'node:path';
import { FaceRestoreError } from '../errors.ts';
import { faceApiModelDir, readTfjsWeights, toOihw, type WeightMap } from './faceLandmark68.ts';
import { GraphBuilder, type Value } from './graphBuilder.ts';

/** Side of the network's square input. */
export const DESCRIPTOR_INPUT = 150;
/** Length of a descriptor. */
export const DESCRIPTOR_LENGTH = 128;
/** face-api's per-channel mean (RGB), subtracted before dividing by 255. */
export const DESCRIPTOR_MEAN_RGB = [122.782, 117.001, 104.298] as const;

/** Output side of a 'valid' convolution or pool (TF: ceil((n − k + 1) / s)). */
function validSide(n: number, k: number, s: number): number {
  return Math.max(Math.ceil((n - k + 1) / s), 0);
}

/** Builds the ONNX graph (bytes) of the descriptor network from its dequantised weights. */
export function buildFaceDescriptorGraph(weights: WeightMap): Uint8Array {
  const b = new GraphBuilder();
  const get = (name: string) => {
    const w = weights.get(name);
    if (!w) throw new FaceRestoreError('E_MODEL_INVALID', `the face descriptor weights lack ${name}`);
    return w;
  };
  const stem = (name: string) => name.replace(/\//g, '_');
  // conv + bias, then the scale layer (· weights + biases); 'same' (3×3/1: pads 1) or 'valid'.
  const convLayer = (x: Value, name: string, stride: number, relu: boolean, same: boolean): Value => {
    const w = get(`${name}/conv/filters`);
    const { data, dims } = toOihw(w.data, w.shape, false);
    const k = dims[2]!;
    const p = same ? (k - 1) / 2 : 0;
    const c = dims[0]!;
    let y = b.op('Conv', [x, b.weight(`${stem(name)}_w`, data, dims), b.weight(`${stem(name)}_b`, get(`${name}/conv/bias`).data, [c])], {
      kernel_shape: [k, k], strides: [stride, stride], pads: [p, p, p, p], group: 1, dilations: [1, 1],
    });
    y = b.op('Mul', [y, b.weight(`${stem(name)}_scale`, get(`${name}/scale/weights`).data, [c, 1, 1])]);
    y = b.op('Add', [y, b.weight(`${stem(name)}_shift`, get(`${name}/scale/biases`).data, [c, 1, 1])]);
    return relu ? b.op('Relu', [y]) : y;
  };
  const residual = (x: Value, name: string): Value => {
    const out = convLayer(convLayer(x, `${name}/conv1`, 1, true, true), `${name}/conv2`, 1, false, true);
    return b.op('Relu', [b.op('Add', [out, x])]);
  };
  // Returns the block's output and its side; `side`, `channels`: the input's.
  const residualDown = (x: Value, name: string, side: number, channels: number): { y: Value; side: number; channels: number } => {
    const outC = get(`${name}/conv1/conv/filters`).shape[3]!;
    const convSide = validSide(side, 3, 2);
    const poolSide = validSide(side, 2, 2);
    let pooled = b.op('AveragePool', [x], { kernel_shape: [2, 2], strides: [2, 2] });
    if (outC !== channels) pooled = b.op('Pad', [pooled, b.int64([0, 0, 0, 0, 0, outC - channels, 0, 0])], { mode: 'constant' });
    if (convSide === 0) return { y: b.op('Relu', [pooled]), side: poolSide, channels: outC };
    let out = convLayer(convLayer(x, `${name}/conv1`, 2, true, false), `${name}/conv2`, 1, false, true);
    if (convSide !== poolSide) {
      if (poolSide - convSide !== 1) throw new FaceRestoreError('E_MODEL_INVALID', `${name}: conv side ${convSide} against pool side ${poolSide}`);
      out = b.op('Pad', [out, b.int64([0, 0, 0, 0, 0, 0, 1, 1])], { mode: 'constant' });
    }
    return { y: b.op('Relu', [b.op('Add', [pooled, out])]), side: poolSide, channels: outC };
  };

  const input = b.input('input', 'float32', ['N', DESCRIPTOR_INPUT, DESCRIPTOR_INPUT, 3]);
  const nchw = b.op('Transpose', [input], { perm: [0, 3, 1, 2] });
  const mean = b.weight('mean_rgb', Float32Array.from(DESCRIPTOR_MEAN_RGB), [1, 3, 1, 1]);
  let x = b.op('Div', [b.op('Sub', [nchw, mean]), b.scalar(255)]);
  x = convLayer(x, 'conv32_down', 2, true, false);
  x = b.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2] });
  let side = validSide(validSide(DESCRIPTOR_INPUT, 7, 2), 3, 2);
  let channels = 32;
  for (const block of ['conv32_1', 'conv32_2', 'conv32_3', 'conv64_down', 'conv64_1', 'conv64_2', 'conv64_3', 'conv128_down', 'conv128_1', 'conv128_2',
    'conv256_down', 'conv256_1', 'conv256_2', 'conv256_down_out']) {
    if (block.endsWith('_down') || block.endsWith('_down_out')) ({ y: x, side, channels } = residualDown(x, block, side, channels));
    else x = residual(x, block);
  }
  x = b.op('ReduceMean', [x, b.int64([2, 3])], { keepdims: 0 });
  const fc = get('fc');
  x = b.op('MatMul', [x, b.weight('fc_w', fc.data, fc.shape)]);
  b.output('descriptor', x, ['N', 128]);
  return b.encode({ graphName: 'face_descriptor_128', docString: 'face-api FaceRecognitionNet (vladmandic/face-api, MIT), converted from its TF.js weights' });
}

/** The graph of the weights shipped in @vladmandic/face-api (face_recognition_model). */
export async function faceApiDescriptorGraph(manifest = faceApiDescriptorManifest()): Promise<Uint8Array> {
  return buildFaceDescriptorGraph(await readTfjsWeights(manifest));
}

/** Where face-api's descriptor weights manifest lies (in the installed @vladmandic/face-api package). */
export function faceApiDescriptorManifest(): string {
  return path.join(faceApiModelDir(), 'face_recognition_model-weights_manifest.json');
}
