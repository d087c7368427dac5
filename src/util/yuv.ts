/**
 * I420 (YUV 4:2:0 planar) layout and colour matrices: the pixel facts every stage that reads or writes a
 * frame shares. Frames travel as I420 from the decoder to the encoder; only the few places that need RGB
 * (a face's crop, the detector's small input, a histogram sample) convert, and only the samples they use.
 */

/** The YCbCr ↔ RGB matrix of a stream (ffmpeg's `color_space`): which luma weights (Kr, Kb) it uses. */
export type ColourMatrix = 'bt601' | 'bt709' | 'bt2020';

/** How a stream's frames encode colour. Default (absent): BT.601 limited range, what ffmpeg assumes for untagged video and WebRTC uses. */
export interface YuvColour {
  matrix: ColourMatrix;
  /** `limited`: Y in 16–235, chroma in 16–240 (ffmpeg `tv`); `full`: 0–255 (`pc`, `jpeg`). */
  range: 'limited' | 'full';
}

/** BT.601 limited range: the default for untagged video. */
export const BT601_LIMITED: YuvColour = Object.freeze({ matrix: 'bt601', range: 'limited' });

/**
 * Maps ffprobe/showinfo colour names to a YuvColour: `bt709` → BT.709, `bt2020nc`/`bt2020c` → BT.2020,
 * anything else (`bt470bg`, `smpte170m`, `unknown`, absent) → BT.601, as ffmpeg's scaler does; `pc`/`jpeg`
 * range → full, anything else → limited.
 */
export function colourFromNames(space: string | undefined, range: string | undefined): YuvColour {
  const matrix: ColourMatrix = space === 'bt709' ? 'bt709' : space === 'bt2020nc' || space === 'bt2020c' ? 'bt2020' : 'bt601';
  return { matrix, range: range === 'pc' || range === 'jpeg' ? 'full' : 'limited' };
}

/** Where the planes of a width × height I420 buffer lie (chroma planes are ⌈w/2⌉ × ⌈h/2⌉). */
export interface I420Layout {
  width: number;
  height: number;
  /** Chroma plane width, ⌈width/2⌉. */
  cw: number;
  /** Chroma plane height, ⌈height/2⌉. */
  ch: number;
  /** Offset of the U plane (the Y plane starts at 0). */
  uOff: number;
  /** Offset of the V plane. */
  vOff: number;
  /** Total bytes. */
  size: number;
}

/** The plane layout of a width × height I420 frame. */
export function i420Layout(width: number, height: number): I420Layout {
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const uOff = width * height;
  return { width, height, cw, ch, uOff, vOff: uOff + cw * ch, size: uOff + 2 * cw * ch };
}

/**
 * Float coefficients of one colour: R = yk·(Y − y0) + rv·(V − 128), G = yk·(Y − y0) − gu·(U − 128) − gv·(V − 128),
 * B = yk·(Y − y0) + bu·(U − 128); and back, Y = y0 + ky·(kr·R + kg·G + kb·B), U = 128 + ku·(B − Y'), V = 128 + kv·(R − Y').
 */
export interface YuvCoefficients {
  y0: number;
  yk: number;
  rv: number;
  gu: number;
  gv: number;
  bu: number;
  kr: number;
  kg: number;
  kb: number;
  /** Luma scale RGB → Y (219/255 limited, 1 full). */
  ky: number;
  /** Chroma scale: (224/255 limited, 1 full) / (2·(1 − kb)). */
  ku: number;
  /** Chroma scale: (224/255 limited, 1 full) / (2·(1 − kr)). */
  kv: number;
}

const KR_KB: Record<ColourMatrix, [number, number]> = { bt601: [0.299, 0.114], bt709: [0.2126, 0.0722], bt2020: [0.2627, 0.0593] };

/** The conversion coefficients of a colour (default BT.601 limited range). */
export function yuvCoefficients(colour: YuvColour = BT601_LIMITED): YuvCoefficients {
  const [kr, kb] = KR_KB[colour.matrix];
  const kg = 1 - kr - kb;
  const full = colour.range === 'full';
  const yk = full ? 1 : 255 / 219;
  const ck = full ? 1 : 255 / 224;
  return {
    y0: full ? 0 : 16,
    yk,
    rv: ck * 2 * (1 - kr),
    gu: (ck * 2 * (1 - kb) * kb) / kg,
    gv: (ck * 2 * (1 - kr) * kr) / kg,
    bu: ck * 2 * (1 - kb),
    kr,
    kg,
    kb,
    ky: 1 / yk,
    ku: 1 / ck / (2 * (1 - kb)),
    kv: 1 / ck / (2 * (1 - kr)),
  };
}

/** Luma of an RGB colour (0–255 floats) as a Y sample (float, unclamped). */
export function lumaOf(k: YuvCoefficients, r: number, g: number, b: number): number {
  return k.y0 + k.ky * (k.kr * r + k.kg * g + k.kb * b);
}

/**
 * I420 samples of packed RGB24 (`width * height * 3` bytes) in `colour`: luma per pixel, chroma from each
 * 2×2 block's mean colour (a plain box filter, as a still's conversion needs no more). Default colour: BT.601 limited.
 */
export function i420FromRgbSamples(rgb: Uint8Array, width: number, height: number, colour?: YuvColour): Uint8Array {
  const L = i420Layout(width, height);
  const k = yuvCoefficients(colour);
  const data = new Uint8Array(L.size);
  const byte = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));
  for (let p = 0; p < width * height; p++) data[p] = byte(lumaOf(k, rgb[3 * p]!, rgb[3 * p + 1]!, rgb[3 * p + 2]!));
  for (let cy = 0; cy < L.ch; cy++) {
    for (let cx = 0; cx < L.cw; cx++) {
      let r = 0, g = 0, b = 0, n = 0;
      for (let y = 2 * cy; y < Math.min(height, 2 * cy + 2); y++) {
        for (let x = 2 * cx; x < Math.min(width, 2 * cx + 2); x++) {
          const i = (y * width + x) * 3;
          r += rgb[i]!; g += rgb[i + 1]!; b += rgb[i + 2]!; n++;
        }
      }
      r /= n; g /= n; b /= n;
      const l = k.kr * r + k.kg * g + k.kb * b;
      data[L.uOff + cy * L.cw + cx] = byte(128 + k.ku * (b - l));
      data[L.vOff + cy * L.cw + cx] = byte(128 + k.kv * (r - l));
    }
  }
  return data;
}
