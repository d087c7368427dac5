/**
 * Infers a GFPGANv1Clean (the architecture of the released GFPGANv1.3.pth / GFPGANv1.4.pth;
 * TencentARC/GFPGAN gfpgan/archs/gfpganv1_clean_arch.py + stylegan2_clean_arch.py) from a state dict's
 * names and shapes, then checks every tensor against the shape that network has, in file order, so a
 * checkpoint that fits no GFPGANv1Clean is refused (E_CHECKPOINT) naming the first tensor at fault.
 *
 * What the shapes give:
 * - output size: 2^(down blocks + 2) (`conv_body_down.*`; 7 blocks: 512);
 * - U-Net channels per resolution (`conv_body_first`, `conv_body_down.i.conv2`), decoder channels per
 *   resolution (`stylegan_decoder.style_conv1` / `style_convs.*`), style width (`modulation.weight`'s
 *   second dimension), style-MLP depth (`style_mlp.*`);
 * - `sft_half`: `condition_scale.i.2` gives as many channels as the U-Net level (half of the decoder's)
 *   or twice as many (all of them);
 * - `different_w`: `final_linear` gives one style row per latent layer (2·log2(size) − 2) or one row.
 * Not in a state dict: `input_is_latent` (GFPGANer's 'clean' arch passes True, so the style MLP is loaded
 * but never run); that is what the graph assumes.
 */
import { FaceRestoreError } from '../../errors.ts';

/** Everything needed to build the network. */
export interface GfpganArch {
  /** Input and output side (512 for the releases). */
  outSize: number;
  /** log2(outSize). */
  logSize: number;
  numStyleFeat: number;
  /** Layers of the (unused) style MLP. */
  numMlp: number;
  /** U-Net channels by resolution 4, 8, …, outSize (index k: resolution 2^(k+2)). */
  unetCh: number[];
  /** StyleGAN2 decoder channels by resolution 4, 8, …, outSize. */
  decCh: number[];
  /** SFT on the second half of the decoder's channels only (the releases: true). */
  sftHalf: boolean;
  /** One style row per decoder layer (the releases: true). */
  differentW: boolean;
  /** Rows of the W+ latent the decoder reads: 2·logSize − 2. */
  numLatent: number;
  /** Noise layers: 2·(logSize − 2) + 1. */
  numNoise: number;
  /** Numbers in the state dict (parameters and noise buffers). */
  params: number;
}

/** Most numbers accepted (the releases have 87.1 M); bounds what a build may allocate. */
export const MAX_GFPGAN_PARAMS = 200_000_000;

/** Configuration the official builder takes; channels follow from it as in the official constructors. */
export interface GfpganConfig {
  outSize: number;
  numStyleFeat: number;
  channelMultiplier: number;
  narrow: number;
  numMlp: number;
  sftHalf: boolean;
  differentW: boolean;
}

/** GFPGANer(arch='clean', channel_multiplier=2) as v1.3 / v1.4 are built. */
export const OFFICIAL_GFPGAN: Readonly<GfpganConfig> = { outSize: 512, numStyleFeat: 512, channelMultiplier: 2, narrow: 1, numMlp: 8, sftHalf: true, differentW: true };

/** Channels by resolution 4 … outSize, as the official `channels` dicts compute them for a narrow ratio. */
function channelList(outSize: number, channelMultiplier: number, narrow: number): number[] {
  const base: Record<number, number> = { 4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * channelMultiplier, 128: 128 * channelMultiplier, 256: 64 * channelMultiplier, 512: 32 * channelMultiplier, 1024: 16 * channelMultiplier };
  const out: number[] = [];
  for (let r = 4; r <= outSize; r *= 2) out.push(Math.trunc(base[r]! * narrow));
  return out;
}

/** The architecture a configuration gives (params counted). */
export function archFromConfig(c: GfpganConfig): GfpganArch {
  const logSize = Math.log2(c.outSize);
  if (!Number.isInteger(logSize) || c.outSize < 8 || c.outSize > 1024) throw new RangeError(`Expected a power of two in [8, 1024] for outSize but received ${c.outSize}`);
  const arch: GfpganArch = {
    outSize: c.outSize,
    logSize,
    numStyleFeat: c.numStyleFeat,
    numMlp: c.numMlp,
    unetCh: channelList(c.outSize, c.channelMultiplier, c.narrow * 0.5),
    decCh: channelList(c.outSize, c.channelMultiplier, c.narrow),
    sftHalf: c.sftHalf,
    differentW: c.differentW,
    numLatent: 2 * logSize - 2,
    numNoise: 2 * (logSize - 2) + 1,
    params: 0,
  };
  for (const s of gfpganShapes(arch).values()) arch.params += s.reduce((a, b) => a * b, 1);
  return arch;
}

/** Tensor names and shapes of a GFPGANv1Clean state dict, in `state_dict()` order. */
export function gfpganShapes(a: Omit<GfpganArch, 'params'>): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const levels = a.logSize - 1; // resolutions 4 … outSize
  const U = (k: number): number => a.unetCh[k]!;
  const D = (k: number): number => a.decCh[k]!;
  const top = levels - 1;
  const conv = (p: string, cout: number, cin: number, k: number, bias = true): void => {
    m.set(`${p}.weight`, [cout, cin, k, k]);
    if (bias) m.set(`${p}.bias`, [cout]);
  };
  const resBlock = (p: string, cin: number, cout: number): void => {
    conv(`${p}.conv1`, cin, cin, 3);
    conv(`${p}.conv2`, cout, cin, 3);
    conv(`${p}.skip`, cout, cin, 1, false);
  };
  conv('conv_body_first', U(top), 3, 1);
  for (let i = 0; i < a.logSize - 2; i++) resBlock(`conv_body_down.${i}`, U(top - i), U(top - i - 1));
  conv('final_conv', U(0), U(0), 3);
  for (let i = 0; i < a.logSize - 2; i++) resBlock(`conv_body_up.${i}`, U(i), U(i + 1));
  for (let i = 0; i < a.logSize - 2; i++) conv(`toRGB.${i}`, 3, U(i + 1), 1);
  const S = a.numStyleFeat;
  const rows = a.differentW ? a.numLatent : 1;
  m.set('final_linear.weight', [rows * S, U(0) * 16]);
  m.set('final_linear.bias', [rows * S]);
  const d = 'stylegan_decoder';
  for (let i = 0; i < a.numMlp; i++) {
    m.set(`${d}.style_mlp.${2 * i + 1}.weight`, [S, S]);
    m.set(`${d}.style_mlp.${2 * i + 1}.bias`, [S]);
  }
  m.set(`${d}.constant_input.weight`, [1, D(0), 4, 4]);
  const modConv = (p: string, cin: number, cout: number, k: number): void => {
    m.set(`${p}.modulated_conv.weight`, [1, cout, cin, k, k]);
    m.set(`${p}.modulated_conv.modulation.weight`, [cin, S]);
    m.set(`${p}.modulated_conv.modulation.bias`, [cin]);
  };
  const styleConv = (p: string, cin: number, cout: number): void => {
    m.set(`${p}.weight`, [1]);
    m.set(`${p}.bias`, [1, cout, 1, 1]);
    modConv(p, cin, cout, 3);
  };
  const toRgb = (p: string, cin: number): void => {
    m.set(`${p}.bias`, [1, 3, 1, 1]);
    modConv(p, cin, 3, 1);
  };
  styleConv(`${d}.style_conv1`, D(0), D(0));
  toRgb(`${d}.to_rgb1`, D(0));
  for (let k = 1; k < levels; k++) {
    styleConv(`${d}.style_convs.${2 * k - 2}`, D(k - 1), D(k));
    styleConv(`${d}.style_convs.${2 * k - 1}`, D(k), D(k));
  }
  for (let k = 1; k < levels; k++) toRgb(`${d}.to_rgbs.${k - 1}`, D(k));
  for (let i = 0; i < a.numNoise; i++) {
    const r = 2 ** ((i + 5) >> 1);
    m.set(`${d}.noises.noise${i}`, [1, 1, r, r]);
  }
  for (const which of ['condition_scale', 'condition_shift']) {
    for (let k = 1; k < levels; k++) {
      conv(`${which}.${k - 1}.0`, U(k), U(k), 3);
      conv(`${which}.${k - 1}.2`, a.sftHalf ? U(k) : 2 * U(k), U(k), 3);
    }
  }
  return m;
}

/** Whether a state dict's names look like GFPGAN's (without checking shapes). */
export function looksLikeGfpgan(names: Iterable<string>): boolean {
  for (const n of names) if (n.startsWith('stylegan_decoder.') || n.startsWith('conv_body_first.')) return true;
  return false;
}

/**
 * Infers the architecture and checks every tensor. Throws E_CHECKPOINT naming the first tensor that does not
 * fit (or the first missing one).
 */
export function inferGfpganArch(shapes: ReadonlyMap<string, readonly number[]>, options: { source?: string; maxParams?: number } = {}): GfpganArch {
  const src = options.source ?? 'checkpoint';
  const fail = (message: string): never => {
    throw new FaceRestoreError('E_CHECKPOINT', `${src} does not fit the GFPGANv1Clean (GFPGAN v1.3 / v1.4) architecture: ${message}`);
  };
  const need = (name: string, rank: number): readonly number[] => {
    const s = shapes.get(name);
    if (!s) return fail(`missing tensor ${name}`);
    if (s.length !== rank) fail(`tensor ${name} has shape [${s.join(', ')}], expected ${rank} dimensions`);
    return s;
  };
  const known = /^(conv_body_first|final_conv|final_linear|(conv_body_down|conv_body_up)\.\d+\.(conv1|conv2|skip)|toRGB\.\d+|(condition_scale|condition_shift)\.\d+\.[02]|stylegan_decoder\.(style_mlp\.\d+|constant_input|style_conv1(\.modulated_conv(\.modulation)?)?|to_rgb1(\.modulated_conv(\.modulation)?)?|(style_convs|to_rgbs)\.\d+(\.modulated_conv(\.modulation)?)?))\.(weight|bias)$|^stylegan_decoder\.noises\.noise\d+$/;
  for (const [name, shape] of shapes) if (!known.test(name)) fail(`unexpected tensor ${name} [${shape.join(', ')}] (not part of GFPGANv1Clean)`);

  let down = 0;
  while (shapes.has(`conv_body_down.${down}.conv1.weight`)) down++;
  if (down < 1) fail('missing tensor conv_body_down.0.conv1.weight');
  const logSize = down + 2;
  const levels = logSize - 1;
  // U-Net channels: the first conv gives the top resolution, each down block's conv2 the next one down.
  const unetCh = new Array<number>(levels).fill(0);
  unetCh[levels - 1] = need('conv_body_first.weight', 4)[0]!;
  for (let i = 0; i < down; i++) unetCh[levels - 2 - i] = need(`conv_body_down.${i}.conv2.weight`, 4)[0]!;
  const d = 'stylegan_decoder';
  const decCh = new Array<number>(levels).fill(0);
  const first = need(`${d}.style_conv1.modulated_conv.weight`, 5);
  decCh[0] = first[1]!;
  for (let k = 1; k < levels; k++) decCh[k] = need(`${d}.style_convs.${2 * k - 2}.modulated_conv.weight`, 5)[1]!;
  const numStyleFeat = need(`${d}.style_conv1.modulated_conv.modulation.weight`, 2)[1]!;
  let numMlp = 0;
  while (shapes.has(`${d}.style_mlp.${2 * numMlp + 1}.weight`)) numMlp++;
  const scaleOut = need('condition_scale.0.2.weight', 4)[0]!;
  const sftHalf = scaleOut === unetCh[1];
  const numLatent = 2 * logSize - 2;
  const rowsOut = need('final_linear.weight', 2)[0]!;
  const differentW = rowsOut !== numStyleFeat;
  const arch: GfpganArch = { outSize: 2 ** logSize, logSize, numStyleFeat, numMlp, unetCh, decCh, sftHalf, differentW, numLatent, numNoise: 2 * (logSize - 2) + 1, params: 0 };

  const expected = gfpganShapes(arch);
  for (const [name, shape] of shapes) {
    const want = expected.get(name);
    if (!want) fail(`unexpected tensor ${name} [${shape.join(', ')}] (the tensors before it imply a ${arch.outSize}×${arch.outSize} network with a ${numMlp}-layer style MLP)`);
    if (want!.length !== shape.length || want!.some((v, i) => v !== shape[i])) fail(`tensor ${name} has shape [${shape.join(', ')}], expected [${want!.join(', ')}]`);
  }
  for (const name of expected.keys()) if (!shapes.has(name)) fail(`missing tensor ${name}`);
  // The SFT multiplies decoder features by U-Net conditions: the decoder level must be twice the U-Net one
  // (half of it modulated with sft_half, or the conditions twice as wide without).
  for (let k = 1; k < levels; k++) {
    if (decCh[k] !== 2 * unetCh[k]!) fail(`tensor ${d}.style_convs.${2 * k - 2}.modulated_conv.weight gives ${decCh[k]} decoder channels at ${2 ** (k + 2)}×${2 ** (k + 2)}, expected twice the U-Net's ${unetCh[k]} for the SFT`);
  }
  if (arch.outSize !== 512) fail(`its ${down} down blocks make a ${arch.outSize}×${arch.outSize} network; the product restores 512×512 crops`);
  for (const s of expected.values()) arch.params += s.reduce((a, b) => a * b, 1);
  const maxParams = options.maxParams ?? MAX_GFPGAN_PARAMS;
  if (arch.params > maxParams) fail(`its tensors add up to ${arch.params} numbers, more than the ${maxParams} accepted (official: 87.1 M)`);
  return arch;
}
