/**
 * Types shared by the stages. Stages (ingest, track, restore, compose, stream) exchange only these.
 * Pixel coordinates are in the decoded frame's pixel grid, x to the right, y down, origin at the
 * top-left corner of the top-left pixel (a pixel's centre is at +0.5).
 */
import type { YuvColour } from './util/yuv.ts';

export type { YuvColour } from './util/yuv.ts';

/** A 2-D point in pixels. */
export type Point = readonly [x: number, y: number];

/**
 * The five alignment points, always in this order, named as they appear in an upright, unmirrored
 * image: [eye on the image's left, eye on the image's right, nose tip, mouth corner on the image's
 * left, mouth corner on the image's right]. This is the order of the FFHQ template.
 */
export type FivePoints = readonly [Point, Point, Point, Point, Point];

/** Axis-aligned rectangle in pixels. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Stream facts from probing an input. */
export interface VideoInfo {
  /** Path of the probed file. */
  path: string;
  /** Display width after rotation, in pixels. */
  width: number;
  /** Display height after rotation, in pixels. */
  height: number;
  /** Frame rate used for output, as a rational string ffmpeg accepts (e.g. `30000/1001`). */
  frameRate: string;
  /** The same frame rate as a number (frames per second). */
  fps: number;
  /** True when the stream's frame timing varies (r_frame_rate and avg_frame_rate disagree). */
  variableFrameRate: boolean;
  /** Duration in seconds (container or stream). */
  duration: number;
  /** Seconds from the container's start to the video's first frame (`--start`/`--duration` count from the container's start). Default 0. */
  videoStart?: number;
  /** Frame count the container declares, or an estimate from duration × fps. */
  frameCount: number;
  /** Whether `frameCount` was declared by the container (true) or estimated (false). */
  frameCountExact: boolean;
  /** Rotation in degrees from the display matrix (0, 90, 180, 270). Decoding applies it. */
  rotation: number;
  /** Video codec name. */
  codec: string;
  /** Audio stream facts, when the file has audio. */
  audio: { codec: string; channels: number; sampleRate: number } | undefined;
  /** Colour of the decoded frames, once known (the file runner sets it from the first frame before a sink starts). */
  colour?: YuvColour;
}

/**
 * One decoded frame, I420 (YUV 4:2:0 planar, ffmpeg's `yuv420p`) as the decoder gives it and the encoder
 * takes it: no colour conversion on the way; stages convert only the samples they read (see util/yuv.ts).
 */
export interface VideoFrame {
  /** 0-based position of the frame in decode order (which is presentation order after decoding). */
  index: number;
  /** Presentation time in seconds. */
  pts: number;
  /** Width in pixels (any size ≥ 1, odd included). */
  width: number;
  /** Height in pixels (any size ≥ 1, odd included). */
  height: number;
  /**
   * I420 planes, contiguous and unpadded: Y (width × height), then U, then V (each ⌈width/2⌉ × ⌈height/2⌉;
   * chroma sample (i, j) covers luma pixels 2i…2i+1, 2j…2j+1). `i420Layout` gives the offsets.
   */
  data: Uint8Array;
  /** How the samples encode colour (the stream's matrix and range). Default: BT.601 limited range. */
  colour?: YuvColour;
}

/** One detected face. */
export interface FaceDetection {
  box: Box;
  /** Detector confidence in [0, 1]. */
  score: number;
  /** Alignment points (see FivePoints for the order). */
  points: FivePoints;
  /**
   * The 68 iBUG landmarks (frame px) when the landmark net refined this face (`points` derive from them).
   * On a tracked face they are the last detection's, moved with the face's (smoothed or predicted) points.
   */
  landmarks68?: readonly Point[];
}

/** A face as the restore and compose stages see it: detected, tracked, with its fidelity weight. */
export interface Face extends FaceDetection {
  /** Track identity; stable across frames within a shot when a tracker runs, else the detection's position. */
  trackId: number;
  /** Detector's points before smoothing (equal to `points` without a smoother). */
  rawPoints: FivePoints;
  /** CodeFormer fidelity weight w in [0, 1]: 0 favours quality, 1 favours fidelity to the input. */
  fidelity: number;
}

/** A frame with the faces found in it. */
export interface AnalyzedFrame {
  frame: VideoFrame;
  faces: Face[];
}

/** Side of the square aligned face crop, in pixels. */
export const CROP_SIZE = 512;

/** An aligned 512×512 RGB24 face crop plus the similarity transform that made it. */
export interface AlignedFace {
  face: Face;
  /** 2×3 affine matrix mapping frame pixels to crop pixels (row-major [a, b, tx, c, d, ty]). */
  toCrop: Affine;
  /** Crop pixels, RGB24, CROP_SIZE × CROP_SIZE × 3. */
  crop: Uint8Array;
}

/** Row-major 2×3 affine matrix [a, b, tx, c, d, ty]: x' = a·x + b·y + tx, y' = c·x + d·y + ty. */
export type Affine = readonly [number, number, number, number, number, number];

/** Wall-clock milliseconds spent per stage (awaited time: includes waiting for the event loop and other threads). */
export interface StageTimes {
  decode: number;
  detect: number;
  align: number;
  restore: number;
  paste: number;
  encode: number;
}

/**
 * Main-thread CPU milliseconds per stage (thread CPU time of the stage's synchronous sections, not awaited
 * time). `detect` is building the detector's input from the planes; `track` the tracker (smoothing, shot
 * cuts, fidelity); `other` is main-thread CPU outside every stage: mostly ONNX Runtime's inference, which
 * its Node binding runs synchronously on the main thread inside a setImmediate (so no stage's bracket can
 * hold it), plus pipe I/O, garbage collection and the detectors' post-processing.
 */
export interface StageCpu {
  decode: number;
  detect: number;
  track: number;
  align: number;
  restore: number;
  paste: number;
  encode: number;
  other: number;
}

/** An ONNX Runtime execution provider the product can run on. */
export type Provider = 'cpu' | 'webgpu' | 'cuda';

/**
 * Device choice for ONNX Runtime: a provider, or `auto`, which tries CUDA, then WebGPU (Vulkan), then the CPU,
 * and reports which one runs and why the others did not.
 */
export type Device = Provider | 'auto';

/** Float precision of a built CodeFormer graph: `auto` picks per provider (fp16 on CUDA, fp32 on WebGPU and the CPU). */
export type Precision = 'auto' | 'fp32' | 'fp16';
