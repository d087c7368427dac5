/**
 * face-api's original 68-point landmark network on TF.js's CPU backend (both bundled in
 * @vladmandic/face-api's dist/face-api.js), for parity tests of the ONNX conversion. The bundle's Node
 * platform needs `util.TextEncoder` from a `require` its ESM build lacks, so the browser bundle is evaluated
 * with `process` hidden (TF.js then registers no platform) and a minimal platform is set by hand; face-api's
 * own environment gets placeholder media classes (only tensors are passed in).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { faceApiModelDir } from '../../src/models/faceLandmark68.ts';

/** The 68 points (x, y in input pixels) per input of one TF.js run of face-api's FaceLandmark68Net. */
export interface FaceApiLandmarks {
  /** Runs N×112×112×3 float RGB (0–255) and returns the net's raw output (N×136, fractions of 112). */
  run(input: Float32Array, n: number): Promise<Float32Array>;
  /** face-api's own detectLandmarks on the same input (positions in input pixels), for the post-processing. */
  detect(input: Float32Array, n: number): Promise<Array<Array<[number, number]>>>;
  backend: string;
}

/**
 * face-api's bundle on TF.js's CPU backend (see above), with the weights of one of its nets (`manifestName`,
 * e.g. `face_landmark_68_model`) decoded into a weight map. Returns face-api, TF.js and that map.
 */
export async function loadFaceApiWeights(manifestName: string): Promise<{ faceapi: any; tf: any; map: any }> {
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
  const manifest = JSON.parse(await readFile(path.join(dir, `${manifestName}-weights_manifest.json`), 'utf8'));
  const bins = await Promise.all(manifest[0].paths.map((p: string) => readFile(path.join(dir, p))));
  const bin = Buffer.concat(bins);
  const map = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), manifest[0].weights);
  return { faceapi, tf, map };
}

export async function loadFaceApiLandmarks(): Promise<FaceApiLandmarks> {
  const { faceapi, tf, map } = await loadFaceApiWeights('face_landmark_68_model');
  const net = faceapi.nets.faceLandmark68Net;
  net.loadFromWeightMap(map);
  return {
    backend: tf.getBackend(),
    async run(input, n) {
      const x = tf.tensor4d(input, [n, 112, 112, 3]);
      const netInput = await faceapi.toNetInput(tf.unstack(x));
      const out = net.runNet(netInput);
      const data = Float32Array.from(await out.data());
      tf.dispose([x, out]);
      return data;
    },
    async detect(input, n) {
      const x = tf.tensor4d(input, [n, 112, 112, 3]);
      const res = await net.detectLandmarks(tf.unstack(x));
      tf.dispose(x);
      return (Array.isArray(res) ? res : [res]).map((l: any) => l.positions.map((p: any) => [p.x, p.y] as [number, number]));
    },
  };
}
