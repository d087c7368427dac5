/**
 * Which of the three published CodeFormer networks a checkpoint is. Nothing in a state dict says whether the
 * forward pass uses AdaIN or which `w` it was trained for, so the kind is recognised from what does differ
 * (sczhou/CodeFormer v0.1.0, inference_*.py):
 *
 * | kind | checkpoint | codebook | fuse sizes | forward call |
 * |---|---|---|---|---|
 * | `restoration` | codeformer.pth | 1024 | 32, 64, 128, 256 | `net(x, w=w, adain=True)`, w per face |
 * | `inpainting` | codeformer_inpainting.pth | 512 | 32, 64, 128 | `net(x, w=1, adain=False)` |
 * | `colorization` | codeformer_colorization.pth | 1024 | 32, 64, 128 | `net(x, w=0, adain=True)` |
 *
 * Anything else is treated as `restoration` (the general form); `--model-kind` overrides.
 */
import { FaceRestoreError } from '../../errors.ts';
import type { CodeFormerArch } from './arch.ts';

/** The published CodeFormer variants. */
export const CODEFORMER_KINDS = ['restoration', 'inpainting', 'colorization'] as const;
export type CodeFormerKind = (typeof CODEFORMER_KINDS)[number];

/** How a kind's forward pass is called. */
export interface KindCall {
  /** AdaIN of the quantized feature to the encoder feature's statistics. */
  adain: boolean;
  /** The fixed `w` of the official script; undefined: per-face `w` is a graph input. */
  fixedW: number | undefined;
}

/** The official script's call for each kind. */
export const KIND_CALL: Readonly<Record<CodeFormerKind, KindCall>> = {
  restoration: { adain: true, fixedW: undefined },
  inpainting: { adain: false, fixedW: 1 },
  colorization: { adain: true, fixedW: 0 },
};

/** The kind an architecture's shapes point to (see the table above). */
export function recogniseKind(arch: Pick<CodeFormerArch, 'codebookSize' | 'fuse'>): CodeFormerKind {
  const sizes = arch.fuse.map((f) => f.size).join(',');
  if (sizes === '32,64,128' && arch.codebookSize === 512) return 'inpainting';
  if (sizes === '32,64,128' && arch.codebookSize === 1024) return 'colorization';
  return 'restoration';
}

/** Parses a `--model-kind` value: a kind or `auto` (undefined). Throws E_CONFIG otherwise. */
export function parseKind(value: string | undefined): CodeFormerKind | undefined {
  if (value === undefined || value === 'auto') return undefined;
  if ((CODEFORMER_KINDS as readonly string[]).includes(value)) return value as CodeFormerKind;
  throw new FaceRestoreError('E_CONFIG', `Expected auto, ${CODEFORMER_KINDS.join(', ')} for model kind but received '${value}'`);
}
