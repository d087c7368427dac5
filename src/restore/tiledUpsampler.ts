/**
 * Whole-frame super-resolution with an RRDBNet (Real-ESRGAN) graph, tile by tile, on I420 frames.
 *
 * The frame is cut into `tile`×`tile` cores; each core is run with `pad` pixels of context on every side
 * (one fixed window size, so tiles batch like faces do) and only the core's output is kept, so every output
 * pixel comes from exactly one tile and saw at least `pad` input pixels of context (or the frame edge): no
 * seams beyond what the network's receptive field past `pad` contributes (the test bounds it). Memory is a
 * batch of windows (input and ×scale output, float32), not the frame. Cores are even-sized, so each 2×2 chroma
 * block of the output lies in one tile and is written from its four RGB pixels.
 */
import { FaceRestoreError } from '../errors.ts';
import type { VideoFrame } from '../types.ts';
import { OrtModel, sessionChoice, type OrtSessionChoice, type TensorSpec } from '../runtime/ort.ts';
import { i420Layout, lumaOf, yuvCoefficients, type YuvCoefficients } from '../util/yuv.ts';

/** Options for {@link TiledUpsampler.create}. */
export interface TiledUpsamplerOptions extends OrtSessionChoice {
  /** Side of a tile's core in input pixels (multiple of 4). Default 384: a 640×360 frame is two 416×360 windows (1.3× its pixels; 192 px tiles recompute 1.7×); one window's largest activations (the dense blocks' concatenations) are about 30 MB each in float32 at the official widths. */
  tile?: number;
  /** Context around each core in input pixels (even). Default 16. */
  pad?: number;
  /** Tiles per inference. Default 4. */
  batch?: number;
}

interface Tile {
  /** Core rectangle in input pixels. */
  cx: number;
  cy: number;
  cw: number;
  ch: number;
  /** Window origin in input pixels (the window may extend past the frame: edge pixels repeat). */
  wx: number;
  wy: number;
}

/** An RRDBNet graph (x [N,3,H,W] in [0,1] → out [N,3,sH,sW]) applied to whole frames in tiles. */
export class TiledUpsampler {
  readonly name: string;
  readonly scale: number;
  readonly tile: number;
  readonly pad: number;
  readonly batch: number;
  readonly #model: OrtModel;
  readonly #input: TensorSpec;
  readonly #output: TensorSpec;

  private constructor(model: OrtModel, scale: number, o: Required<Pick<TiledUpsamplerOptions, 'tile' | 'pad' | 'batch'>>) {
    this.#model = model;
    this.#input = model.inputs[0]!;
    this.#output = model.outputs[0]!;
    this.scale = scale;
    this.tile = o.tile;
    this.pad = o.pad;
    this.batch = o.batch;
    this.name = `upsampler:${model.name} (x${scale}, tile ${o.tile}+${o.pad}, batch ${o.batch}, ${model.provider})`;
  }

  /**
   * Loads an upsampler graph (path or bytes). Its scale is read from the graph's `facerestore.scale`
   * metadata when the file was built here, else measured with one 8×8 run. Errors: those of
   * OrtModel.create; E_MODEL_CONTRACT when the graph is not image → ×s image.
   */
  static async create(source: string | Uint8Array, options: TiledUpsamplerOptions = {}): Promise<TiledUpsampler> {
    const tile = options.tile ?? 384;
    const pad = options.pad ?? 16;
    const batch = options.batch ?? 4;
    for (const [name, v, min] of [['tile', tile, 8], ['pad', pad, 0], ['batch', batch, 1]] as const) {
      if (!(Number.isInteger(v) && v >= min)) throw new TypeError(`Expected an integer ≥ ${min} for ${name} but received ${v}`);
    }
    if (tile % 4 || pad % 4) throw new TypeError(`Expected multiples of 4 for tile and pad but received ${tile} and ${pad}`);
    const model = await OrtModel.create(source, sessionChoice(options));
    try {
      const input = model.inputs[0];
      if (model.inputs.length !== 1 || !input || input.type !== 'float32' || input.shape.length !== 4) {
        throw new FaceRestoreError('E_MODEL_CONTRACT', `upsampler ${model.name} must take one float32 [N,3,H,W] image input`);
      }
      const probe = await model.run({ [input.name]: { type: 'float32', dims: [1, 3, 8, 8], data: new Float32Array(192) } });
      const dims = probe[model.outputs[0]!.name]!.dims;
      const scale = dims[2]! / 8;
      if (dims.length !== 4 || dims[1] !== 3 || ![2, 4].includes(scale) || dims[3] !== dims[2]) {
        throw new FaceRestoreError('E_MODEL_CONTRACT', `upsampler ${model.name}: an 8×8 image gave [${dims.join(',')}], expected [1,3,8s,8s] with s 2 or 4`);
      }
      return new TiledUpsampler(model, scale, { tile, pad, batch });
    } catch (e) {
      await model.close();
      throw e;
    }
  }

  /** The tiles of a width × height frame, in raster order. */
  tilesFor(width: number, height: number): { tiles: Tile[]; winW: number; winH: number } {
    // One window size for every tile (so they batch); smaller frames get one window of their (even) size.
    const even = (v: number): number => v + (v & 1);
    const winW = Math.min(this.tile + 2 * this.pad, even(width));
    const winH = Math.min(this.tile + 2 * this.pad, even(height));
    const tiles: Tile[] = [];
    for (let cy = 0; cy < height; cy += this.tile) {
      for (let cx = 0; cx < width; cx += this.tile) {
        const cw = Math.min(this.tile, width - cx);
        const ch = Math.min(this.tile, height - cy);
        // Centred on the core where it fits, else against the frame edge (it always covers the core).
        const place = (c: number, win: number, total: number): number => Math.max(0, Math.min(c - this.pad, total - win));
        tiles.push({ cx, cy, cw, ch, wx: place(cx, winW, width), wy: place(cy, winH, height) });
      }
    }
    return { tiles, winW, winH };
  }

  /** The frame upscaled by `scale` (I420, same index, pts and colour). */
  async upscale(frame: VideoFrame): Promise<VideoFrame> {
    const s = this.scale;
    const W = frame.width * s;
    const H = frame.height * s;
    const out = new Uint8Array(i420Layout(W, H).size);
    const k = yuvCoefficients(frame.colour);
    const { tiles, winW, winH } = this.tilesFor(frame.width, frame.height);
    const plane = winW * winH;
    for (let t0 = 0; t0 < tiles.length; t0 += this.batch) {
      const group = tiles.slice(t0, t0 + this.batch);
      const x = new Float32Array(group.length * 3 * plane);
      group.forEach((t, n) => windowToRgb(frame, k, t.wx, t.wy, winW, winH, x.subarray(n * 3 * plane, (n + 1) * 3 * plane)));
      const r = await this.#model.run({ [this.#input.name]: { type: 'float32', dims: [group.length, 3, winH, winW], data: x } });
      const y = r[this.#output.name]!.data as Float32Array;
      const oplane = plane * s * s;
      group.forEach((t, n) => coreToI420(y.subarray(n * 3 * oplane, (n + 1) * 3 * oplane), winW * s, winH * s, t, s, k, out, W, H));
    }
    return { index: frame.index, pts: frame.pts, width: W, height: H, data: out, ...(frame.colour ? { colour: frame.colour } : {}) };
  }

  /**
   * Upscales whole RGB24 crops (`size`² each, e.g. restored 512 faces for `--face-upsample`), `batch` per
   * run, each as one window (no tiling: a crop is small). Returns RGB24 crops of side size·scale.
   */
  async upscaleCrops(crops: readonly Uint8Array[], size: number): Promise<Uint8Array[]> {
    const plane = size * size;
    const S = size * this.scale;
    const out: Uint8Array[] = [];
    for (let i = 0; i < crops.length; i += this.batch) {
      const group = crops.slice(i, i + this.batch);
      const x = new Float32Array(group.length * 3 * plane);
      group.forEach((c, n) => {
        for (let p = 0; p < plane; p++) for (let ch = 0; ch < 3; ch++) x[(n * 3 + ch) * plane + p] = c[p * 3 + ch]! / 255;
      });
      const r = await this.#model.run({ [this.#input.name]: { type: 'float32', dims: [group.length, 3, size, size], data: x } });
      const y = r[this.#output.name]!.data as Float32Array;
      group.forEach((_, n) => {
        const o = new Uint8Array(S * S * 3);
        for (let p = 0; p < S * S; p++) for (let ch = 0; ch < 3; ch++) o[p * 3 + ch] = byte(clamp01(y[(n * 3 + ch) * S * S + p]!) * 255);
        out.push(o);
      });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.#model.close();
  }
}

/** RGB in [0,1], NCHW, of the window at (wx, wy); coordinates past the frame repeat its edge. */
function windowToRgb(f: VideoFrame, k: YuvCoefficients, wx: number, wy: number, ww: number, wh: number, dst: Float32Array): void {
  const { cw, uOff, vOff } = i420Layout(f.width, f.height);
  const plane = ww * wh;
  const d = f.data;
  for (let j = 0; j < wh; j++) {
    const y = Math.min(f.height - 1, wy + j);
    for (let i = 0; i < ww; i++) {
      const x = Math.min(f.width - 1, wx + i);
      const yy = k.yk * (d[y * f.width + x]! - k.y0);
      const c = (y >> 1) * cw + (x >> 1);
      const u = d[uOff + c]! - 128;
      const v = d[vOff + c]! - 128;
      const o = j * ww + i;
      dst[o] = clamp01((yy + k.rv * v) / 255);
      dst[plane + o] = clamp01((yy - k.gu * u - k.gv * v) / 255);
      dst[2 * plane + o] = clamp01((yy + k.bu * u) / 255);
    }
  }
}

/** Writes the core of one tile's output (RGB NCHW, ow × oh) into the I420 output frame. */
function coreToI420(y: Float32Array, ow: number, oh: number, t: Tile, s: number, k: YuvCoefficients, out: Uint8Array, W: number, H: number): void {
  const { cw, uOff, vOff } = i420Layout(W, H);
  const plane = ow * oh;
  const x0 = t.cx * s;
  const y0 = t.cy * s;
  const ox = (t.cx - t.wx) * s;
  const oy = (t.cy - t.wy) * s;
  const w = t.cw * s;
  const h = t.ch * s;
  const px = (X: number, Y: number, c: number): number => clamp01(y[c * plane + (Y - y0 + oy) * ow + (X - x0 + ox)]!) * 255;
  for (let Y = y0; Y < y0 + h; Y += 2) {
    for (let X = x0; X < x0 + w; X += 2) {
      let rs = 0;
      let gs = 0;
      let bs = 0;
      for (let dy = 0; dy < 2; dy++) {
        for (let dx = 0; dx < 2; dx++) {
          const r = px(X + dx, Y + dy, 0);
          const g = px(X + dx, Y + dy, 1);
          const b = px(X + dx, Y + dy, 2);
          out[(Y + dy) * W + X + dx] = byte(lumaOf(k, r, g, b));
          rs += r;
          gs += g;
          bs += b;
        }
      }
      const r = rs / 4;
      const g = gs / 4;
      const b = bs / 4;
      const yl = k.kr * r + k.kg * g + k.kb * b;
      const c = (Y >> 1) * cw + (X >> 1);
      out[uOff + c] = byte(128 + k.ku * (b - yl));
      out[vOff + c] = byte(128 + k.kv * (r - yl));
    }
  }
}

function clamp01(v: number): number {
  return v <= 0 ? 0 : v >= 1 ? 1 : v;
}
function byte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}
