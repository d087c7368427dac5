/**
 * Infers an RRDBNet (ESRGAN's Residual-in-Residual Dense Block network, as Real-ESRGAN's
 * `RealESRGAN_x2plus.pth` / `RealESRGAN_x4plus.pth` use it; basicsr/archs/rrdbnet_arch.py) from a state
 * dict's names and shapes: feature width, block count, growth width, output channels and scale, then checks
 * every tensor against the shape that network has, in file order, so a checkpoint that fits no RRDBNet is
 * refused (E_CHECKPOINT) naming the first tensor at fault.
 *
 * The scale follows from `conv_first`'s input channels: the network always upsamples ×4 (two nearest ×2
 * steps), and for scale 2 / 1 it first pixel-unshuffles the input by 2 / 4, so conv_first sees 3·4 / 3·16
 * channels.
 */
import { FaceRestoreError } from '../../errors.ts';

/** Everything needed to build the network. */
export interface RrdbArch {
  /** Image channels in and out (3 for RGB). */
  inCh: number;
  outCh: number;
  /** Output side / input side: 1, 2 or 4. */
  scale: 1 | 2 | 4;
  /** Pixel-unshuffle factor before conv_first (4 / scale). */
  unshuffle: 1 | 2 | 4;
  numFeat: number;
  numBlock: number;
  numGrowCh: number;
  /** Parameter count. */
  params: number;
}

/** Most parameters accepted (the official x4plus has 16.7 M); bounds what a build may allocate. */
export const MAX_RRDB_PARAMS = 100_000_000;

/** Tensor names and shapes of an RRDBNet state dict in `state_dict()` order. */
export function rrdbShapes(a: Pick<RrdbArch, 'inCh' | 'outCh' | 'scale' | 'numFeat' | 'numBlock' | 'numGrowCh'>): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const conv = (p: string, cout: number, cin: number): void => {
    m.set(`${p}.weight`, [cout, cin, 3, 3]);
    m.set(`${p}.bias`, [cout]);
  };
  const un = 4 / a.scale;
  const F = a.numFeat;
  const G = a.numGrowCh;
  conv('conv_first', F, a.inCh * un * un);
  for (let b = 0; b < a.numBlock; b++) {
    for (let r = 1; r <= 3; r++) {
      for (let c = 1; c <= 4; c++) conv(`body.${b}.rdb${r}.conv${c}`, G, F + (c - 1) * G);
      conv(`body.${b}.rdb${r}.conv5`, F, F + 4 * G);
    }
  }
  conv('conv_body', F, F);
  conv('conv_up1', F, F);
  conv('conv_up2', F, F);
  conv('conv_hr', F, F);
  conv('conv_last', a.outCh, F);
  return m;
}

/**
 * Infers the architecture and checks every tensor. Throws E_CHECKPOINT naming the first tensor that does not
 * fit (or the first missing one).
 */
export function inferRrdbArch(shapes: ReadonlyMap<string, readonly number[]>, options: { source?: string; maxParams?: number } = {}): RrdbArch {
  const src = options.source ?? 'checkpoint';
  const fail = (message: string): never => {
    throw new FaceRestoreError('E_CHECKPOINT', `${src} does not fit the RRDBNet (Real-ESRGAN) architecture: ${message}`);
  };
  const known = /^(conv_first|conv_body|conv_up1|conv_up2|conv_hr|conv_last|body\.\d+\.rdb[123]\.conv[1-5])\.(weight|bias)$/;
  for (const [name, shape] of shapes) if (!known.test(name)) fail(`unexpected tensor ${name} [${shape.join(', ')}] (not part of RRDBNet)`);
  const conv4 = (name: string): readonly number[] => {
    const s = shapes.get(name);
    if (!s) fail(`missing tensor ${name}`);
    if (s!.length !== 4) fail(`tensor ${name} has shape [${s!.join(', ')}], expected a 4-D conv weight`);
    return s!;
  };
  const first = conv4('conv_first.weight');
  const last = conv4('conv_last.weight');
  const numFeat = first[0]!;
  const outCh = last[0]!;
  const inCh = outCh;
  const unshuffle = ({ 1: 1, 4: 2, 16: 4 } as const)[first[1]! / inCh] as 1 | 2 | 4 | undefined;
  if (first[1]! % inCh !== 0 || !unshuffle) {
    fail(`tensor conv_first.weight has ${first[1]} input channels: ${inCh}, ${inCh * 4} or ${inCh * 16} (scale 4, 2 or 1 for ${inCh}-channel images) expected`);
  }
  const numGrowCh = conv4('body.0.rdb1.conv1.weight')[0]!;
  let numBlock = 0;
  while (shapes.has(`body.${numBlock}.rdb1.conv1.weight`)) numBlock++;
  const arch = { inCh, outCh, scale: (4 / unshuffle!) as 1 | 2 | 4, unshuffle: unshuffle!, numFeat, numBlock, numGrowCh, params: 0 };
  const expected = rrdbShapes(arch);
  for (const [name, shape] of shapes) {
    const want = expected.get(name);
    if (!want) fail(`unexpected tensor ${name} [${shape.join(', ')}] (the blocks before it imply ${numBlock} RRDB blocks)`);
    if (want!.length !== shape.length || want!.some((d, i) => d !== shape[i])) fail(`tensor ${name} has shape [${shape.join(', ')}], expected [${want!.join(', ')}]`);
  }
  for (const name of expected.keys()) if (!shapes.has(name)) fail(`missing tensor ${name}`);
  for (const s of expected.values()) arch.params += s.reduce((a, b) => a * b, 1);
  const maxParams = options.maxParams ?? MAX_RRDB_PARAMS;
  if (arch.params > maxParams) fail(`its tensors add up to ${arch.params} parameters, more than the ${maxParams} accepted (official: 16.7 M)`);
  return arch;
}
