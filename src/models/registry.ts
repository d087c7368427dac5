/**
 * The known official model releases: names, files, release URLs, sizes, sha256 values and licences.
 *
 * None of the upstream projects publishes sha256 values on its release page, so a value here is one that
 * independent downloaders pin and check against the official asset (sources in each entry's comment);
 * `sha256Confirmed: false` marks an entry with no such value: its download still works, says the hash
 * could not be checked against a published value, and records the downloaded hash.
 */

/** What a model is, which decides the flag it serves. */
export type ModelKind = 'codeformer' | 'codeformer-inpainting' | 'codeformer-colorization' | 'gfpgan' | 'realesrgan';

/** One official release file. */
export interface RegistryEntry {
  /** Registry name, used by `models pull <name>` and `--model <name>`. */
  name: string;
  kind: ModelKind;
  /** Architecture as the upstream code names it. */
  architecture: string;
  /** Official file name of the release asset. */
  file: string;
  /** Release asset URL. */
  url: string;
  /** Size in bytes, where published; undefined when no published figure was found. */
  bytes: number | undefined;
  /** sha256 of the official asset, where published; undefined otherwise. */
  sha256: string | undefined;
  /** True when `sha256` comes from published data (see the entry's comment). */
  sha256Confirmed: boolean;
  licence: string;
  /** What using it needs (the flag it goes to, and restrictions). */
  needs: string;
}

const CODEFORMER_LICENCE = 'NTU S-Lab License 1.0 (non-commercial use only; redistribution under the same licence)';

/** Every known release, in listing order. */
export const MODEL_REGISTRY: readonly RegistryEntry[] = Object.freeze([
  // sha256/size: pinned by ComfyUI installers (runpod flux installer "FaceRestore_Models/codeformer.pth")
  // and checked by this project's OFFICIAL_CHECKPOINT (src/models/codeformer/index.ts).
  {
    name: 'codeformer',
    kind: 'codeformer',
    architecture: 'CodeFormer (VQGAN codebook 1024, 9-layer transformer, fuse levels 32-256)',
    file: 'codeformer.pth',
    url: 'https://github.com/sczhou/CodeFormer/releases/download/v0.1.0/codeformer.pth',
    bytes: 376_637_898,
    sha256: '1009e537e0c2a07d4cabce6355f53cb66767cd4b4297ec7a4a64ca4b8a5684b7',
    sha256Confirmed: true,
    licence: CODEFORMER_LICENCE,
    needs: '--model codeformer (built into an ONNX graph on first use); non-commercial use only',
  },
  // No published sha256 or size found for the inpainting and colorization assets.
  {
    name: 'codeformer-inpainting',
    kind: 'codeformer-inpainting',
    architecture: 'CodeFormer inpainting (codebook 512, fuse levels 32/64/128, no AdaIN, w fixed at 1)',
    file: 'codeformer_inpainting.pth',
    url: 'https://github.com/sczhou/CodeFormer/releases/download/v0.1.0/codeformer_inpainting.pth',
    bytes: undefined,
    sha256: undefined,
    sha256Confirmed: false,
    licence: CODEFORMER_LICENCE,
    needs: '--inpaint-model codeformer-inpainting with --inpaint-mask; non-commercial use only',
  },
  {
    name: 'codeformer-colorization',
    kind: 'codeformer-colorization',
    architecture: 'CodeFormer colorization (codebook 1024, fuse levels 32/64/128, w fixed at 0)',
    file: 'codeformer_colorization.pth',
    url: 'https://github.com/sczhou/CodeFormer/releases/download/v0.1.0/codeformer_colorization.pth',
    bytes: undefined,
    sha256: undefined,
    sha256Confirmed: false,
    licence: CODEFORMER_LICENCE,
    needs: '--colorize-model codeformer-colorization with --colorize; non-commercial use only',
  },
  // sha256: pinned by a downloader script checking the asset (files_normal list, "GFPGANv1.3.pth"); a single
  // source, no published size.
  {
    name: 'gfpgan-1.3',
    kind: 'gfpgan',
    architecture: 'GFPGANv1Clean (U-Net encoder, StyleGAN2 clean generator, channel-split SFT)',
    file: 'GFPGANv1.3.pth',
    url: 'https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.3.pth',
    bytes: undefined,
    sha256: 'c953a88f2727c85c3d9ae72e2bd4846bbaf59fe6972ad94130e23e7017524a70',
    sha256Confirmed: true,
    licence: 'Apache-2.0 (GFPGAN code and weights; trained on FFHQ, see the GFPGAN README)',
    needs: '--model gfpgan-1.3 (built into an ONNX graph on first use; w ≤ 0.5 gives GFPGAN\'s output, higher w blends toward the input: docs/gfpgan.md)',
  },
  // sha256: pinned by three independent downloaders (a Modal photo-restorer's STANDARD_WEIGHTS, a ComfyUI
  // installer, the same GFPGAN downloader list). No published size.
  {
    name: 'gfpgan-1.4',
    kind: 'gfpgan',
    architecture: 'GFPGANv1Clean (U-Net encoder, StyleGAN2 clean generator, channel-split SFT)',
    file: 'GFPGANv1.4.pth',
    url: 'https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.4.pth',
    bytes: undefined,
    sha256: 'e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad',
    sha256Confirmed: true,
    licence: 'Apache-2.0 (GFPGAN code and weights; trained on FFHQ, see the GFPGAN README)',
    needs: '--model gfpgan-1.4 (built into an ONNX graph on first use; w ≤ 0.5 gives GFPGAN\'s output, higher w blends toward the input: docs/gfpgan.md)',
  },
  // sha256: pinned by many downloaders (one records "reverified" against the official v0.2.1 asset); size from a
  // model catalog that records it with the same sha256.
  {
    name: 'realesrgan-x2plus',
    kind: 'realesrgan',
    architecture: 'RRDBNet x2 (23 RRDB blocks, 64 features, pixel-unshuffle input)',
    file: 'RealESRGAN_x2plus.pth',
    url: 'https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.1/RealESRGAN_x2plus.pth',
    bytes: 67_061_725,
    sha256: '49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb',
    sha256Confirmed: true,
    licence: 'BSD-3-Clause (Real-ESRGAN)',
    needs: '--upscale 2 --bg-upsampler realesrgan-x2plus',
  },
  // sha256: pinned by the Modal photo-restorer's STANDARD_WEIGHTS and a model catalog (which also records the size).
  {
    name: 'realesrgan-x4plus',
    kind: 'realesrgan',
    architecture: 'RRDBNet x4 (23 RRDB blocks, 64 features)',
    file: 'RealESRGAN_x4plus.pth',
    url: 'https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth',
    bytes: 67_040_989,
    sha256: '4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1',
    sha256Confirmed: true,
    licence: 'BSD-3-Clause (Real-ESRGAN)',
    needs: '--upscale 4 --bg-upsampler realesrgan-x4plus',
  },
]);

/** The entry with this registry name, or undefined. */
export function findRegistryEntry(name: string, registry: readonly RegistryEntry[] = MODEL_REGISTRY): RegistryEntry | undefined {
  return registry.find((e) => e.name === name);
}

/** The entry whose published sha256 is `sha256`, or undefined. */
export function registryEntryBySha256(sha256: string, registry: readonly RegistryEntry[] = MODEL_REGISTRY): RegistryEntry | undefined {
  return registry.find((e) => e.sha256 !== undefined && e.sha256 === sha256.toLowerCase());
}

/** The asset URL, or the same file name under `baseUrl` (a mirror; tests point it at a local server). */
export function entryUrl(entry: RegistryEntry, baseUrl?: string): string {
  return baseUrl ? `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(entry.file)}` : entry.url;
}
