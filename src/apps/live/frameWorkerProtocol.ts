import type { LocalSettingsInput, PortableOptions } from '../../engine/options.ts';
import type { SerializedError } from '../../errors.ts';
import type { FaceInfo } from './protocol.ts';

/** One frame's restore-worker time by part, ms (see RestoreStats.stagesMs; there summed over frames). */
export interface FrameStagesMs {
  detect: number;
  convert: number;
  refine: number;
  warp: number;
  restore: number;
  paste: number;
  total: number;
}

/**
 * Messages between LiveRestorer (the restore peer's main thread) and its worker thread (frameWorker.ts).
 * Structured clone carries them; errors cross as SerializedError (serializeError → reviveError), never as
 * text to be parsed back.
 */

/** Messages to the worker. */
export type ToWorker =
  | {
      type: 'init';
      /** What to run (validated by the sender). */
      options: PortableOptions;
      /** This machine's settings (cache folder), added with withLocalSettings. */
      local: LocalSettingsInput;
      /** Full detection every this many frames (the tracker predicts in between). */
      detectEvery: number;
      /** The 68-point landmark refinement (with `landmarks`) on every this many full detections (see LiveDetector). */
      refineEvery: number;
    }
  | {
      type: 'frame';
      /** Arrival order of the frame (0-based). */
      index: number;
      /** Presentation time, seconds (see I420Frame.pts). */
      pts: number;
      width: number;
      height: number;
      /** I420 pixels; transferred, and transferred back restored in `done`. */
      data: Uint8Array;
    }
  | { type: 'fidelity'; trackId: number | null; w: number | null }
  | { type: 'close' };

/** Messages from the worker. */
export type FromWorker =
  | { type: 'ready'; restorer: string; detector: string; restoring: boolean }
  | { type: 'done'; index: number; pts: number; width: number; height: number; data: Uint8Array; restored: boolean; faces: FaceInfo[]; ms: number; stagesMs: FrameStagesMs }
  /** One frame could not be restored (it goes out unrestored); the worker carries on. */
  | { type: 'failed'; index: number; error: SerializedError }
  /** The worker cannot go on (loading failed, or a message it cannot handle). */
  | { type: 'fatal'; error: SerializedError }
  | { type: 'closed' };
