import { sessionChoice, type OrtSessionChoice } from '../runtime/ort.ts';
import { BlazeFaceDetector } from './blazeface.ts';
import type { FaceDetector } from './detector.ts';
import { YuNetDetector } from './yunet.ts';

/** Options for createDetector. */
export interface DetectorChoice extends OrtSessionChoice {
  kind: 'blazeface' | 'yunet';
  modelPath?: string;
  scoreThreshold?: number;
}

/** Loads the chosen detector. */
export async function createDetector(c: DetectorChoice): Promise<FaceDetector> {
  const common = { scoreThreshold: c.scoreThreshold, ...sessionChoice(c) };
  if (c.kind === 'yunet') return YuNetDetector.create({ modelPath: c.modelPath!, ...common });
  return BlazeFaceDetector.create({ modelPath: c.modelPath, ...common });
}
