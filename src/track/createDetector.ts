import type { Device } from '../types.ts';
import { BlazeFaceDetector } from './blazeface.ts';
import type { FaceDetector } from './detector.ts';
import { YuNetDetector } from './yunet.ts';

/** Options for createDetector. */
export interface DetectorChoice {
  kind: 'blazeface' | 'yunet';
  modelPath?: string;
  scoreThreshold?: number;
  device?: Device;
  intraOpThreads?: number;
  /** ORT idle threads busy-wait (OrtModelOptions.threadSpinning). Default true. */
  threadSpinning?: boolean;
  onWarning?: (message: string) => void;
}

/** Loads the chosen detector. */
export async function createDetector(c: DetectorChoice): Promise<FaceDetector> {
  const common = { scoreThreshold: c.scoreThreshold, device: c.device, intraOpThreads: c.intraOpThreads, threadSpinning: c.threadSpinning, onWarning: c.onWarning };
  if (c.kind === 'yunet') return YuNetDetector.create({ modelPath: c.modelPath!, ...common });
  return BlazeFaceDetector.create({ modelPath: c.modelPath, ...common });
}
