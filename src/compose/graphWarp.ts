import { buildWarpGraph, WARP_IO, type WarpFrameLayout } from '../models/warpGraph.ts';
import { OrtModel, sessionChoice, type OrtSessionChoice, type TensorData } from '../runtime/ort.ts';
import type { Affine, VideoFrame } from '../types.ts';
import { CROP_SIZE } from '../types.ts';
import { yuvCoefficients } from '../util/yuv.ts';
import { invertAffine } from './align.ts';
import { SessionCache } from '../runtime/sessionCache.ts';

/** A frame as the warp graph takes it. */
export type WarpFrame =
  | { layout: 'i420'; frame: VideoFrame }
  | { layout: 'rgb24'; width: number; height: number; data: Uint8Array }
  | { layout: 'nchw'; width: number; height: number; data: Float32Array };

/**
 * Warps the 512 crops of a frame's faces with the warp pre-graph (models/warpGraph.ts) on an ONNX Runtime
 * provider, producing the restorer's input tensor directly: on a GPU provider the frame goes up once per
 * frame, whatever the number of faces. One session per frame size, layout and colour, kept until close().
 */
export interface GraphWarperOptions extends OrtSessionChoice {
  /** Refuse to load when a node would fall back to the CPU (proves where the warp ran). Default false. */
  strictDevice?: boolean;
  /** The warp graph's sampler: `gather` (default, every provider) or `gridsample` (ONNX GridSample: CPU, CUDA). */
  sampler?: 'gather' | 'gridsample';
}

export class GraphWarper {
  readonly #options: GraphWarperOptions;
  readonly #models = new SessionCache();
  #closed = false;

  private constructor(options: GraphWarperOptions) {
    this.#options = options;
  }

  static async create(options: GraphWarperOptions = {}): Promise<GraphWarper> {
    return new GraphWarper(options);
  }

  /** The provider of the sessions (after the first warp). */
  async provider(frame: WarpFrame): Promise<string> {
    return (await this.#model(frame)).provider;
  }

  /**
   * The crops of `toCrops` (frame → crop alignments) as float32 [N, 3, 512, 512] in [-1, 1]
   * (what OnnxRestorer feeds CodeFormer). N = 0 gives an empty tensor without running.
   */
  async warp(frame: WarpFrame, toCrops: readonly Affine[]): Promise<TensorData> {
    if (this.#closed) throw new TypeError('GraphWarper is closed');
    const n = toCrops.length;
    const dims = [n, 3, CROP_SIZE, CROP_SIZE];
    if (n === 0) return { type: 'float32', dims, data: new Float32Array(0) };
    const m = new Float32Array(n * 6);
    toCrops.forEach((t, i) => m.set(invertAffine(t), i * 6));
    const model = await this.#model(frame);
    const out = await model.run({ [WARP_IO.frame]: frameTensor(frame), [WARP_IO.matrices]: { type: 'float32', dims: [n, 2, 3], data: m } });
    return out[WARP_IO.output]!;
  }

  #model(frame: WarpFrame): Promise<OrtModel> {
    const { width, height } = frame.layout === 'i420' ? frame.frame : frame;
    const colour = frame.layout === 'i420' ? frame.frame.colour : undefined;
    const key = `${frame.layout} ${width}x${height} ${colour ? `${colour.matrix}/${colour.range}` : ''}`;
    return this.#models.get(key, () => {
      const bytes = buildWarpGraph({ width, height, layout: frame.layout as WarpFrameLayout, sampler: this.#options.sampler, yuv: frame.layout === 'i420' ? yuvCoefficients(colour) : undefined });
      return OrtModel.create(bytes, { ...sessionChoice(this.#options), strictDevice: this.#options.strictDevice, name: `warp pre-graph ${key.trim()}` });
    });
  }

  /** Releases every session. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#models.close();
  }
}

function frameTensor(f: WarpFrame): TensorData {
  switch (f.layout) {
    case 'i420':
      return { type: 'uint8', dims: [f.frame.data.length], data: f.frame.data };
    case 'rgb24':
      return { type: 'uint8', dims: [f.height, f.width, 3], data: f.data };
    case 'nchw':
      return { type: 'float32', dims: [1, 3, f.height, f.width], data: f.data };
  }
}
