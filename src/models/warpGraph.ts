/**
 * The warp pre-graph: an ONNX graph that takes a whole frame and one crop→frame affine matrix per face and
 * produces the restorer's input, float32 [N,3,512,512] in [-1, 1], so that on a GPU provider the frame is
 * uploaded once and the crops never exist on the host. It reproduces `warpToCrop` (compose/warp.ts):
 * - coordinates are continuous with pixel centres at +0.5: crop pixel (u, v) samples the frame at
 *   M·(u + 0.5, v + 0.5, 1), bilinearly between the four pixels around that point;
 * - positions outside the frame are clamped into it first (cv2's BORDER_REPLICATE, as warpToCrop does): crop
 *   pixels outside the frame repeat its edge, and no fill colour is mixed into pixels inside it;
 * - two samplers: ONNX `GridSample` (align_corners = 0 is that pixel-centre convention once positions are
 *   normalised as 2·x/W − 1), which ONNX Runtime's CPU and CUDA providers run and its WebGPU provider (1.30)
 *   does not; and `gather` (Floor, Gather and arithmetic on a zero-padded frame), which every provider runs;
 * - an I420 frame has its chroma repeated over each 2×2 block and is converted to RGB with the frame's
 *   colour matrix without clamping, interpolated, then clamped to 0–255, as warpToCrop does inside the frame
 *   (near the border warpToCrop clamps each tap first: the two can differ there where a tap saturates), up to
 *   warpToCrop's rounding to whole levels.
 * All faces share one sampling pass over N·512·512 positions, so the frame is never copied per face.
 */
import { GraphBuilder, type Value } from './graphBuilder.ts';

/** How the frame is fed. */
export type WarpFrameLayout =
  /** uint8 [H, W, 3], RGB. */
  | 'rgb24'
  /** float32 [1, 3, H, W], RGB in 0–255. */
  | 'nchw'
  /** uint8 [H·W + 2·⌈W/2⌉·⌈H/2⌉], the decoder's I420 planes as they are. */
  | 'i420';

/** What a warp graph is built for (its input shapes are fixed: one graph per frame size and layout). */
export interface WarpGraphSpec {
  width: number;
  height: number;
  layout: WarpFrameLayout;
  /** Crop side; default 512. */
  size?: number;
  /** `gather` (default: runs on every provider) or `gridsample` (ONNX GridSample; not on WebGPU). */
  sampler?: 'gather' | 'gridsample';
  /** I420 → RGB coefficients (R = yk·(Y − y0) + rv·(V − 128), …), for layout 'i420'. */
  yuv?: { y0: number; yk: number; rv: number; gu: number; gv: number; bu: number };
}

/** Names of the graph's inputs and output. */
export const WARP_IO = { frame: 'frame', matrices: 'crop_to_frame', output: 'crops' } as const;

/**
 * Builds the warp graph. Inputs: `frame` (per layout) and `crop_to_frame` float32 [N, 2, 3] (each face's
 * crop-pixel → frame-pixel matrix, the inverse of its alignment). Output: `crops` float32 [N, 3, size, size],
 * RGB / 127.5 − 1.
 */
export function buildWarpGraph(spec: WarpGraphSpec): Uint8Array {
  const g = new GraphBuilder();
  g.output(WARP_IO.output, warpInto(g, spec), ['N', 3, spec.size ?? 512, spec.size ?? 512]);
  return g.encode({ graphName: `warp_${spec.layout}_${spec.width}x${spec.height}_${spec.sampler ?? 'gather'}`, docString: `frame + crop→frame matrices → restorer input (${spec.sampler ?? 'gather'} sampler, pixel centres, replicated edge)` });
}

/**
 * Adds the warp to graph `g`: declares its inputs `frame` and `crop_to_frame` and returns the crops value, float32
 * [N, 3, size, size] in [-1, 1] (what buildWarpGraph outputs; a CodeFormer graph takes it as its input).
 */
export function warpInto(g: GraphBuilder, spec: WarpGraphSpec): Value {
  const { width: W, height: H } = spec;
  const S = spec.size ?? 512;
  if (!(Number.isInteger(W) && Number.isInteger(H) && W >= 1 && H >= 1)) throw new TypeError(`Expected a positive integer frame size but received ${W}x${H}`);
  const rgb = frameToNchw(g, spec); // float32 [1,3,H,W], 0–255
  const m = g.input(WARP_IO.matrices, 'float32', ['N', 2, 3]);

  // Pixel-centre grid of the crop, (u + 0.5, v + 0.5, 1) for every crop pixel, row-major: [1, S·S, 3].
  const lin = g.weight('centres', Float32Array.from({ length: S }, (_, i) => i + 0.5), [S]);
  const full = g.int64([S, S, 1]);
  const gx = g.op('Expand', [g.op('Reshape', [lin, g.int64([1, S, 1])]), full]);
  const gy = g.op('Expand', [g.op('Reshape', [lin, g.int64([S, 1, 1])]), full]);
  const one = g.op('Expand', [g.scalar(1, 'float32', [1, 1, 1]), full]);
  const base = g.op('Reshape', [g.op('Concat', [gx, gy, one], { axis: 2 }), g.int64([1, S * S, 3])]);
  // Frame positions [N, S·S, 2] of the crop pixels' centres, shifted to integer-centred sampling coordinates.
  const pos = g.op('Sub', [g.op('MatMul', [base, g.op('Transpose', [m], { perm: [0, 2, 1] })]), g.scalar(0.5)]);
  // Replicated edge: every position clamped into [0, W−1] × [0, H−1] (Max/Min: Clip takes scalar bounds only).
  const clamped = g.op('Min', [g.op('Max', [pos, g.scalar(0)]), g.weight('max_pos', Float32Array.from([W - 1, H - 1]), [2])]);
  const coord = (axis: number) => g.op('Reshape', [g.op('Slice', [clamped, g.int64([axis]), g.int64([axis + 1]), g.int64([2])]), g.int64([-1])]);
  let sampled: Value; // [3, N·S·S] or [1, 3, N·S, S]
  if (spec.sampler === 'gridsample') {
    const unitPos = g.op('Sub', [g.op('Mul', [g.op('Add', [clamped, g.scalar(0.5)]), g.weight('to_unit', Float32Array.from([2 / W, 2 / H]), [2])]), g.scalar(1)]);
    const grid = g.op('Reshape', [unitPos, g.int64([1, -1, S, 2])]); // faces stacked along the grid's height
    sampled = g.op('GridSample', [rgb, grid], { mode: 'linear', padding_mode: 'border', align_corners: 0 });
  } else {
    sampled = bilinear(g, rgb, coord(0), coord(1), W, H);
  }
  // Clamped after sampling, as warpToCrop clamps after interpolating (an I420 frame converts to RGB outside 0–255
  // near saturated colours).
  const inRange = g.op('Clip', [g.op('Reshape', [sampled, g.int64([1, 3, -1, S])]), g.scalar(0), g.scalar(255)]);
  const unit = g.op('Sub', [g.op('Mul', [inRange, g.scalar(1 / 127.5)]), g.scalar(1)]);
  return g.op('Transpose', [g.op('Reshape', [unit, g.int64([3, -1, S, S])])], { perm: [1, 0, 2, 3] });
}

/**
 * Bilinear samples of `img` [1, 3, H, W] at sampling coordinates (x, y) (integer-centred: pixel (i, j) at (i, j)),
 * each [K], already clamped into the frame (a tap past the last column or row has weight 0 and reads the zero
 * padding). Returns [3, K]. Built from Floor, Gather and arithmetic, which
 * every provider runs (ONNX Runtime's WebGPU provider has no GridSample): the frame gets a one-pixel zero
 * border and each tap's column and row are clamped into it, so a tap anywhere outside reads a zero.
 */
function bilinear(g: GraphBuilder, img: Value, x: Value, y: Value, W: number, H: number): Value {
  const flat = g.op('Reshape', [g.op('Pad', [g.op('Reshape', [img, g.int64([3, H, W])]), g.int64([0, 1, 1, 0, 1, 1])], { mode: 'constant' }), g.int64([3, (H + 2) * (W + 2)])]);
  const x0 = g.op('Floor', [x]);
  const y0 = g.op('Floor', [y]);
  const fx = g.op('Sub', [x, x0]);
  const fy = g.op('Sub', [y, y0]);
  // Padded column / row of a tap: clamp(t, −1, W) + 1.
  const col = (t: Value, max: number) => g.op('Add', [g.op('Clip', [t, g.scalar(-1), g.scalar(max)]), g.scalar(1)]);
  const xa = col(x0, W), xb = col(g.op('Add', [x0, g.scalar(1)]), W);
  const ya = g.op('Mul', [col(y0, H), g.scalar(W + 2)]), yb = g.op('Mul', [col(g.op('Add', [y0, g.scalar(1)]), H), g.scalar(W + 2)]);
  const tap = (row: Value, c: Value) => g.op('Gather', [flat, g.op('Cast', [g.op('Add', [row, c])], { to: 6 }, { type: 'int32' })], { axis: 1 });
  const lerp = (a: Value, b: Value, t: Value) => g.op('Add', [a, g.op('Mul', [g.op('Sub', [b, a]), t])]);
  return lerp(lerp(tap(ya, xa), tap(ya, xb), fx), lerp(tap(yb, xa), tap(yb, xb), fx), fy);
}

/** The frame input as float32 [1, 3, H, W] RGB in 0–255. */
function frameToNchw(g: GraphBuilder, spec: WarpGraphSpec): Value {
  const { width: W, height: H } = spec;
  if (spec.layout === 'nchw') return g.input(WARP_IO.frame, 'float32', [1, 3, H, W]);
  if (spec.layout === 'rgb24') {
    const x = g.op('Cast', [g.input(WARP_IO.frame, 'uint8', [H, W, 3])], { to: 1 }, { type: 'float32' });
    return g.op('Unsqueeze', [g.op('Transpose', [x], { perm: [2, 0, 1] }), g.int64([0])]);
  }
  const k = spec.yuv;
  if (!k) throw new TypeError('Expected yuv coefficients for an i420 warp graph');
  const cw = (W + 1) >> 1, ch = (H + 1) >> 1;
  const bytes = g.op('Cast', [g.input(WARP_IO.frame, 'uint8', [W * H + 2 * cw * ch])], { to: 1 }, { type: 'float32' });
  const plane = (start: number, end: number) => g.op('Slice', [bytes, g.int64([start]), g.int64([end])]);
  const y = g.op('Reshape', [plane(0, W * H), g.int64([H, W])]);
  // Chroma: each sample repeated over its 2×2 block (the last row/column cut off for odd sizes).
  const up = (start: number) => {
    const c = g.op('Reshape', [plane(start, start + cw * ch), g.int64([ch, 1, cw, 1])]);
    const rep = g.op('Reshape', [g.op('Expand', [c, g.int64([ch, 2, cw, 2])]), g.int64([2 * ch, 2 * cw])]);
    const cut = 2 * ch === H && 2 * cw === W ? rep : g.op('Slice', [rep, g.int64([0, 0]), g.int64([H, W])]);
    return g.op('Sub', [cut, g.scalar(128)]);
  };
  const u = up(W * H);
  const v = up(W * H + cw * ch);
  const l = g.op('Mul', [g.op('Sub', [y, g.scalar(k.y0)]), g.scalar(k.yk)]);
  const r = g.op('Add', [l, g.op('Mul', [v, g.scalar(k.rv)])]);
  const gg = g.op('Sub', [l, g.op('Add', [g.op('Mul', [u, g.scalar(k.gu)]), g.op('Mul', [v, g.scalar(k.gv)])])]);
  const b = g.op('Add', [l, g.op('Mul', [u, g.scalar(k.bu)])]);
  const stacked = g.op('Concat', [r, gg, b].map((c) => g.op('Unsqueeze', [c, g.int64([0, 1])])), { axis: 1 });
  return stacked;
}
