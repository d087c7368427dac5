import { alignmentFor, applyAffine } from '../compose/align.ts';
import { faceRegionPoints, hullRegion } from '../compose/faceMask.ts';
import { grayCrop, isGrayscale } from '../compose/chroma.ts';
import { compositeHoles, maskInCrop, whiteHoles, type FrameMask } from '../compose/inpaintMask.ts';
import { pasteCrop, type CropWeight } from '../compose/paste.ts';
import { warpToCrop } from '../compose/warp.ts';
import type { Restorer } from '../restore/restorer.ts';
import type { FaceDetector } from '../detect/detector.ts';
import type { FaceTracker } from '../track/tracker.ts';
import { detectInRegions } from './regionDetect.ts';
import { alignmentAtScale, alignmentAtScaleBoth, type FrameUpscaler } from './upscale.ts';
import { CROP_SIZE } from '../types.ts';
import type { AlignedFace, AnalyzedFrame, Box, Face, StageTimes, VideoFrame } from '../types.ts';
import { StageCpuMeter } from '../util/cpuMeter.ts';
import type { FaceChoiceResult, FaceChooser } from './faceChoice.ts';

/** A frame with its faces aligned and cropped, waiting for restoration (no crops without a restorer: nothing would read them). */
export interface PreparedFrame extends AnalyzedFrame {
  aligned: AlignedFace[];
  /** With a face chooser: which faces it chose (only those are aligned). */
  choice?: FaceChoiceResult;
}

/** Optional work around restoration (file mode flags). */
export interface FaceProcessorExtras {
  /** `--upscale`: each composed frame is this one's output, with the restored faces pasted at its scale. */
  upscaler?: FrameUpscaler;
  /** `--face-upsample`: restored faces also go through the upsampler and are pasted from its larger crops. */
  faceUpsample?: boolean;
  /**
   * `--colorize`: the faces of every frame (`on`) or of grayscale frames (`auto`) go, as gray crops, to this
   * restorer (the CodeFormer colorization graph) instead of the normal one.
   */
  colorizer?: { restorer: Restorer; mode: 'on' | 'auto' };
  /**
   * `--inpaint-mask`: faces whose aligned crop holds mask pixels go, with those pixels white, to this
   * restorer (the CodeFormer inpainting graph); its output replaces the crop in the hole only (the script's
   * composite) and is pasted within the mask's feathered band only. Other faces take the normal path.
   */
  inpaint?: { restorer: Restorer; mask: FrameMask };
  /** `--faces`, `--min-face`, `--reference`: only the faces it chooses are aligned and restored. */
  chooser?: FaceChooser;
  /**
   * Paste the restorer's change only inside the face: the convex hull of the face's 68 landmarks (and the
   * forehead above the brows, see faceRegionPoints), feathered
   * inwards (FACE_MASK_FEATHER crop px); crop pixels outside it (hair, collar, background) stay the frame's
   * own. Faces without 68 landmarks are pasted whole. The classic restorer's setting.
   */
  faceRegion?: boolean;
  /**
   * Reuse the crop buffers of composed frames for the next frames' crops (a few 768 KiB buffers instead of a
   * new one per face and frame, which came as fresh zeroed pages and drove major GCs). The caller must not
   * read a PreparedFrame's crops after `compose` returned. Default false.
   */
  reuseCrops?: boolean;
  /** With reuseCrops: crop buffers kept for reuse at most (a batch's worth in file mode). Default 4. */
  spareCrops?: number;
}

/** Feather of the face-region mask, in pixels of the 512 crop (about a tenth of the hull's width). */
export const FACE_MASK_FEATHER = 24;

/** The face-region weights of one aligned face (CROP_SIZE² crop), or undefined when it has no 68 landmarks. */
export function faceRegionWeights(a: AlignedFace): CropWeight | undefined {
  const lm = a.face.landmarks68;
  if (!lm) return undefined;
  // With where the weight is 0 and where it is 1, which the paste does not evaluate, and the hull's edges, of
  // which the paste evaluates only those near each row's pixels (same bytes, less time).
  const { at, support, oneWhere, hull } = hullRegion(faceRegionPoints(lm).map((p) => applyAffine(a.toCrop, p)), FACE_MASK_FEATHER);
  return support && hull ? { side: CROP_SIZE, at, support, oneWhere, hull } : { side: CROP_SIZE, at };
}

/** Restored frame plus the rectangles that paste-back may have changed. */
export interface ComposedFrame extends AnalyzedFrame {
  changed: Box[];
}

/** Crop buffers FaceProcessor keeps for reuse by default (reuseCrops): a live frame rarely has more faces. */
const SPARE_CROPS = 4;

/** What an aligned face holds when its restorer warps the frame itself (FaceProcessor's frame-warp mode). */
const NO_CROP = new Uint8Array(0);

/**
 * The per-frame work shared by file and live modes: detect → track → align (warp crops), and
 * restore (batched across frames) → paste back, all on I420 frames (only the faces' crops are RGB).
 * Holds no frames between calls; wall time goes to `times`, main-thread CPU time per stage to `cpu`.
 */
export class FaceProcessor {
  readonly detector: FaceDetector;
  readonly tracker: FaceTracker;
  readonly restorer: Restorer | undefined;
  readonly times: StageTimes;
  /** Re-detect inside tracked regions on frames between full detections. */
  readonly regionDetection: boolean;
  readonly cpu: StageCpuMeter;
  readonly upscaler: FrameUpscaler | undefined;
  readonly colorizer: FaceProcessorExtras['colorizer'];
  readonly inpaint: FaceProcessorExtras['inpaint'];
  readonly faceUpsample: boolean;
  readonly chooser: FaceChooser | undefined;
  readonly faceRegion: boolean;
  readonly reuseCrops: boolean;
  /** With reuseCrops: crop buffers of composed frames, for the next align (at most #maxSpare). */
  readonly #maxSpare: number;
  readonly #spareCrops: Uint8Array[] = [];

  constructor(detector: FaceDetector, tracker: FaceTracker, restorer: Restorer | undefined, times: StageTimes, regionDetection = true, cpu = new StageCpuMeter(), extras: FaceProcessorExtras = {}) {
    this.upscaler = extras.upscaler;
    this.faceUpsample = !!extras.faceUpsample && !!extras.upscaler?.upscaleCrops;
    this.colorizer = extras.colorizer;
    this.inpaint = extras.inpaint;
    this.chooser = extras.chooser && !extras.chooser.choosesAll ? extras.chooser : undefined;
    this.faceRegion = !!extras.faceRegion;
    this.reuseCrops = !!extras.reuseCrops;
    this.#maxSpare = Math.max(0, extras.spareCrops ?? SPARE_CROPS);
    this.regionDetection = regionDetection;
    this.detector = detector;
    this.tracker = tracker;
    this.restorer = restorer;
    this.times = times;
    this.cpu = cpu;
    this.#frameWarp = !!restorer?.restoreFrame && !this.colorizer && !this.inpaint && !this.faceUpsample;
  }

  /** The restorer warps each frame's crops itself (restoreFrame, e.g. on the GPU): no crops are made here. */
  readonly #frameWarp: boolean;

  /**
   * Detects and tracks the faces of one frame. Frames must come in order. Follows the tracker's
   * detection cadence: a full pass when it asks for one, else re-detection inside its tracks' regions
   * (when `regionDetection`), else prediction alone.
   */
  async analyze(frame: VideoFrame): Promise<AnalyzedFrame> {
    const cpu = this.cpu;
    const t = performance.now();
    let c = cpu.now();
    let faces: Face[];
    const full = this.tracker.needsDetection?.(frame) ?? true;
    c = cpu.add('track', c);
    if (full) {
      // The detector's synchronous part (building its input from the planes) runs before its first await.
      const pending = this.detector.detect(frame);
      c = cpu.add('detect', c);
      const found = await pending;
      c = cpu.now();
      faces = this.tracker.update(frame, found);
      c = cpu.add('track', c);
    } else {
      const regions = this.regionDetection ? (this.tracker.regions?.(frame.width, frame.height) ?? []) : [];
      c = cpu.add('track', c);
      if (regions.length > 0) {
        const pending = detectInRegions(this.detector, frame, regions);
        c = cpu.add('detect', c);
        const found = await pending;
        c = cpu.now();
        faces = this.tracker.update(frame, found, { partial: true });
      } else faces = this.tracker.update(frame, undefined);
      c = cpu.add('track', c);
    }
    this.times.detect += performance.now() - t;
    return { frame, faces };
  }

  /**
   * Which of an analysed frame's faces to restore (undefined: all of them). Call in frame order, once per
   * frame: the chooser keeps its choice per track.
   */
  async choose(analyzed: AnalyzedFrame): Promise<FaceChoiceResult | undefined> {
    if (!this.chooser) return undefined;
    const c = this.cpu.now();
    const t = performance.now();
    const choice = await this.chooser.choose(analyzed.frame, analyzed.faces);
    this.cpu.add('align', c);
    this.times.align += performance.now() - t;
    return choice;
  }

  /** Detects, tracks, chooses and aligns the faces of one frame (analyze, choose, align). Frames must come in order. */
  async prepare(frame: VideoFrame): Promise<PreparedFrame> {
    const analyzed = await this.analyze(frame);
    return this.align(analyzed, await this.choose(analyzed));
  }

  /** Warps the crops of a frame's chosen faces (none without a restorer: nothing would read them). */
  align(analyzed: AnalyzedFrame, choice?: FaceChoiceResult): PreparedFrame {
    const { frame, faces } = analyzed;
    const c = this.cpu.now();
    const t = performance.now();
    // Without a restorer nothing reads the crops: no warp at all.
    const aligned: AlignedFace[] = this.restorer
      ? faces.filter((face) => !choice || choice.chosen.has(face)).map((face) => {
          const toCrop = alignmentFor(face.points);
          return { face, toCrop, crop: this.#frameWarp ? NO_CROP : warpToCrop(frame, toCrop, CROP_SIZE, this.#spareCrops.pop()) };
        })
      : [];
    this.cpu.add('align', c);
    this.times.align += performance.now() - t;
    return choice ? { frame, faces, aligned, choice } : { frame, faces, aligned };
  }

  /**
   * Restores every face of `frames` in one restorer call (one w per face), then pastes each back into
   * its frame in place. Returns the frames in the order given.
   */
  async compose(frames: readonly PreparedFrame[]): Promise<ComposedFrame[]> {
    const cpu = this.cpu;
    const all = frames.flatMap((f) => f.aligned);
    const restored: Array<Uint8Array | undefined> = new Array(all.length);
    // Which restorer each face goes to: the colorizer for the faces of frames it takes, else the normal one.
    const col = this.colorizer;
    const toColour = new Set<number>();
    // Faces the inpainting mask reaches (their crop mask), checked first: they take neither other path.
    const holes = new Map<number, Uint8Array>();
    if (this.inpaint) {
      all.forEach((a, i) => {
        const m = maskInCrop(this.inpaint!.mask, a.toCrop);
        if (m.includes(1)) holes.set(i, m);
      });
    }
    if (col) {
      let k = 0;
      for (const f of frames) {
        const take = col.mode === 'on' || isGrayscale(f.frame);
        for (let i = 0; i < f.aligned.length; i++, k++) if (take && !holes.has(k)) toColour.add(k);
      }
    }
    /** The main restorer's results, given back to it after the paste (reuseCrops). */
    let mainResults: Uint8Array[] = [];
    const runOn = async (r: Restorer | undefined, idx: number[], crop: (c: Uint8Array, i: number) => Uint8Array): Promise<void> => {
      if (!r || idx.length === 0) return;
      const t = performance.now();
      const c = cpu.now();
      const pending = r.restore(idx.map((i) => crop(all[i]!.crop, i)), idx.map((i) => all[i]!.face.fidelity));
      cpu.add('restore', c);
      const outs = await pending;
      if (r === this.restorer) mainResults = outs;
      outs.forEach((out, j) => (restored[idx[j]!] = out));
      this.times.restore += performance.now() - t;
    };
    const ids = all.map((_, i) => i);
    if (this.#frameWarp) {
      // One run per frame: the restorer takes the frame and its faces' alignments (the crops never exist here).
      let k = 0;
      for (const f of frames) {
        const n = f.aligned.length;
        if (n > 0) {
          const t = performance.now();
          const c = cpu.now();
          const pending = this.restorer!.restoreFrame!(f.frame, f.aligned.map((a) => a.toCrop), f.aligned.map((a) => a.face.fidelity));
          cpu.add('restore', c);
          (await pending).forEach((out, j) => (restored[k + j] = out));
          this.times.restore += performance.now() - t;
        }
        k += n;
      }
    } else await runOn(this.restorer, ids.filter((i) => !toColour.has(i) && !holes.has(i)), (c) => c);
    await runOn(col?.restorer, ids.filter((i) => toColour.has(i)), grayCrop);
    await runOn(this.inpaint?.restorer, [...holes.keys()], (c, i) => whiteHoles(c, holes.get(i)!));
    for (const [i, m] of holes) if (restored[i]) restored[i] = compositeHoles(all[i]!.crop, restored[i]!, m);
    const s = this.upscaler?.scale ?? 1;
    if (this.faceUpsample && s > 1) {
      const idx = ids.filter((i) => restored[i]);
      const t = performance.now();
      const big = await this.upscaler!.upscaleCrops!(idx.map((i) => restored[i]!), CROP_SIZE);
      idx.forEach((i, j) => (restored[i] = big[j]));
      this.times.restore += performance.now() - t;
    }
    // Upscaling (whole frames, before the faces go in) is counted as restoration: it is a model run too.
    const targets: VideoFrame[] = [];
    for (const f of frames) {
      if (!this.upscaler) {
        targets.push(f.frame);
        continue;
      }
      const t = performance.now();
      const c = cpu.now();
      const pending = this.upscaler.upscale(f.frame);
      cpu.add('restore', c);
      targets.push(await pending);
      this.times.restore += performance.now() - t;
    }
    // Only a frame that gets a face pasted is bracketed: thread CPU comes in scheduler ticks, and an empty
    // bracket (no restorer, every face late) would now and then catch one and charge paste for nothing.
    const pasting = restored.some((r) => r !== undefined);
    const t = performance.now();
    const c = pasting ? cpu.now() : 0;
    const cropSide = this.faceUpsample && s > 1 ? CROP_SIZE * s : CROP_SIZE;
    let k = 0;
    const out = frames.map((f, i) => {
      const changed: Box[] = [];
      const frame = targets[i]!;
      for (const a of f.aligned) {
        const hole = holes.has(k);
        const r = restored[k++];
        // Nothing restored (no restorer, a late or failed face): no paste, and no face-region geometry to build.
        if (!r) continue;
        const toCrop = s === 1 ? a.toCrop : cropSide > CROP_SIZE ? alignmentAtScaleBoth(a.toCrop, s) : alignmentAtScale(a.toCrop, s);
        const region = this.faceRegion && !hole ? faceRegionWeights(a) : undefined;
        changed.push(pasteCrop(frame, r, toCrop, cropSide, hole ? this.inpaint!.mask.weights : undefined, region));
      }
      // Faces keep the input frame's coordinates (tracks export, summary); `changed` is in output pixels.
      return { frame, faces: f.faces, changed };
    });
    if (pasting) {
      cpu.add('paste', c);
      this.times.paste += performance.now() - t;
    }
    // Every restorer call above has finished with these crops (its promises resolved before the paste).
    if (this.reuseCrops) {
      for (const a of all) if (a.crop.length === CROP_SIZE * CROP_SIZE * 3 && this.#spareCrops.length < this.#maxSpare) this.#spareCrops.push(a.crop);
      // The paste has read the restored crops and nothing keeps them (composed frames carry pixels only).
      if (mainResults.length) this.restorer?.release?.(mainResults);
    }
    return out;
  }
}

/** Zeroed stage timings. */
export function emptyStageTimes(): StageTimes {
  return { decode: 0, detect: 0, align: 0, restore: 0, paste: 0, encode: 0 };
}
