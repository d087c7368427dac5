/**
 * face-api's original 128-D face descriptor network (FaceRecognitionNet) on TF.js's CPU backend, for the
 * parity test of the ONNX conversion (models/faceRecognition.ts). The bundle is loaded as in
 * faceApiTfjs.ts (browser bundle evaluated with `process` hidden, a minimal platform set by hand).
 */
import { loadFaceApiWeights } from './faceApiTfjs.ts';

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
  const { faceapi, tf, map } = await loadFaceApiWeights('face_recognition_model');
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
