/**
 * face-api's original 128-D face descriptor network (FaceRecognitionNet) on TF.js's CPU backend, for the
 * parity test of the ONNX conversion (models/faceRecognition.ts). The bundle is loaded as in
 * faceApiTfjs.ts (browser bundle evaluated with `process` hidden, a minimal platform set by hand).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { faceApiModelDir } from '../../src/models/faceLandmark68.ts';

export interface FaceApiDescriptor {
  /** Runs N×150×150×3 float RGB (0–255) and returns the descriptors (N×128). */
  run(input: Float32Array, n: number): Promise<Float32Array>;
  /** face-api's own computeFaceDescriptor on one 150×150 input tensor. */
  compute(input: Float32Array): Promise<Float32Array>;
  /** Shapes (NHWC) after each stage, for diagnosis. */
  backend: string;
  tf: any;
}

export async function loadFaceApiDescriptor(): Promise<FaceApiDescriptor> {
  const req = createRequire(import.meta.url);
  const dist = path.join(path.dirname(req.resolve('@vladmandic/face-api/package.json')), 'dist', 'face-api.js');
  const src = await readFile(dist, 'utf8');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const faceapi = new Function('require', 'process', `${src}\nreturn faceapi;`)(req, undefined) as any;
  const tf = faceapi.tf;
  tf.setPlatform('node-plain', {
    fetch,
    now: () => performance.now(),
    encode: (s: string) => new TextEncoder().encode(s),
    decode: (b: Uint8Array, e: string) => new TextDecoder(e).decode(b),
    isTypedArray: (a: unknown) => ArrayBuffer.isView(a) && !(a instanceof DataView),
  });
  if (!(await tf.setBackend('cpu'))) throw new Error('TF.js CPU backend did not start');
  await tf.ready();
  class None {}
  faceapi.env.setEnv({ Canvas: None, CanvasRenderingContext2D: None, Image: None, ImageData: None, Video: None, createCanvasElement: () => { throw new Error('no canvas'); }, createImageElement: () => { throw new Error('no image'); }, fetch, readFile });
  const dir = faceApiModelDir();
  const manifest = JSON.parse(await readFile(path.join(dir, 'face_recognition_model-weights_manifest.json'), 'utf8'));
  const bins = await Promise.all(manifest[0].paths.map((p: string) => readFile(path.join(dir, p))));
  const bin = Buffer.concat(bins);
  const map = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), manifest[0].weights);
  const net = faceapi.nets.faceRecognitionNet;
  net.loadFromWeightMap(map);
  return {
    backend: tf.getBackend(),
    tf,
    async run(input, n) {
      const x = tf.tensor4d(input, [n, 150, 150, 3]);
      const netInput = await faceapi.toNetInput(tf.unstack(x));
      const out = net.forwardInput(netInput);
      const data = Float32Array.from(await out.data());
      tf.dispose([x, out]);
      return data;
    },
    async compute(input) {
      const x = tf.tensor3d(input, [150, 150, 3]);
      const d = await net.computeFaceDescriptor(x);
      tf.dispose(x);
      return Float32Array.from(d as Float32Array);
    },
  };
}
