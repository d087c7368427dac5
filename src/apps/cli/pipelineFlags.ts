import { InvalidArgumentError, type Command } from 'commander';
import { LANDMARKS_DEFAULT, type PipelineOptionsInput, type PortableOptions } from '../../engine/options.ts';
import { resolveModelRef } from '../../models/store.ts';
import { numberIn, oneOf } from './parse.ts';

/** Adds the flags that configure a pipeline (shared by restore, bench, track and the job commands). */
export function addPipelineFlags(cmd: Command): Command {
  return cmd
    .option('-w, --fidelity <w>', 'fidelity weight w in [0,1]: 0 = strongest restoration, 1 = closest to the input', numberIn(0, 1), 0.5)
    .option('--restorer <kind>', 'classic | onnx | none (default: onnx with --model, else classic)', oneOf('classic', 'onnx', 'none'))
    .option('--model <file>', 'restorer model: CodeFormer-compatible ONNX, an official CodeFormer .pth (built and cached), or a registry name once pulled (`models list`)')
    .option('--detector <kind>', 'auto (bundled BlazeFace: photos through tiles at several scales, finding crowds and faces from 20 px; video frames in one pass) | blazeface (one pass, photos too) | blazeface-tiled (tiles for every frame; slow) | blazeface-reseed (video: one pass plus a tiled pass every 30 frames) | yunet (needs --detector-model)', oneOf('auto', 'blazeface', 'blazeface-tiled', 'blazeface-reseed', 'yunet'), 'auto')
    .option('--detector-model <file>', 'detector ONNX file')
    .option('--detector-threshold <score>', 'minimum face score in [0,1]', numberIn(0, 1))
    .option('--landmarks', 'refine each face\'s five points with the 68-point landmark net (face-api, bundled)')
    .option('--no-landmarks', 'use the detector\'s own five points (no 68-point refinement)')
    .option('--device <device>', 'cpu | webgpu (Vulkan GPU, or lavapipe on the CPU) | cuda (needs the CUDA provider libraries) | auto (cuda, then webgpu, then cpu; says why)', oneOf('cpu', 'webgpu', 'cuda', 'auto'), 'cpu')
    .option('--precision <p>', 'CodeFormer .pth graph: auto (fp16 on cuda, fp32 elsewhere) | fp32 | fp16 (webgpu: needs shader-f16, else fp32 with a warning)', oneOf('auto', 'fp32', 'fp16'), 'auto')
    .option('--warp <where>', 'where face crops are warped: cpu (default) | graph (in the CodeFormer .pth graph on --device: the frame uploaded once, uint8 crops back; batches per frame)', oneOf('cpu', 'graph'), 'cpu')
    .option('--batch <n>', 'faces per restorer run', numberIn(1, 256, true), 4)
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)', numberIn(1, 256, true))
    .option('--no-thread-spinning', 'ONNX Runtime idle threads sleep instead of busy-waiting (less CPU, slower back-to-back runs)')
    .option('--detector-thread', 'run the face detector on a worker thread of its own, so its inference never stalls the codecs\' pipes (for machines with cores to spare; default: main thread)')
    .option('--queue-depth <n>', 'frames buffered between stages (memory bound; default 4)', numberIn(1, 64, true))
    .option('--no-track', 'no tracking: detect every frame on its own, no smoothing (stateless per frame)')
    .option('--look-ahead <frames>', 'file mode: frames of look-ahead for landmark smoothing (fixed-lag RTS; 0 = causal like live mode)', numberIn(0, 60, true), 8)
    .option('--reid', 're-identification (restore and track of a video): a face back after a cut takes its earlier track id, so --fidelity-override and the tracks JSON follow the person (face-api descriptor net; docs/identity.md)')
    .option('--detect-every <k>', 'full face detection every k-th frame; tracks are predicted and re-detected locally in between', numberIn(1, 1000, true), 1)
    .option('--fidelity-mode <mode>', 'fixed (--fidelity for every face) | auto (w per track from face size and sharpness)', oneOf('fixed', 'auto'), 'fixed')
    .option('--fidelity-override <id=w>', 'w for one track id (repeatable; ids as in --tracks-json)', collectOverride, {})
    .option('--upscale <s>', 'output size = s × input size: 1 | 2 | 4 (faces pasted at the output scale; bicubic without --bg-upsampler)', oneOf('1', '2', '4'))
    .option('--bg-upsampler <file>', 'Real-ESRGAN RealESRGAN_x2plus.pth / x4plus.pth (or its ONNX graph) that upscales each frame in tiles')
    .option('--face-upsample', 'also run the --bg-upsampler on the restored faces')
    .option('--colorize [mode]', 'restore faces in colour with --colorize-model: on (the flag alone) | auto (only frames whose chroma is flat: grayscale footage) | off', (v: string) => oneOf('on', 'auto', 'off')(v))
    .option('--colorize-model <file>', 'CodeFormer colorization checkpoint (codeformer_colorization.pth) or its ONNX graph')
    .option('--inpaint-mask <png>', 'mask image in frame coordinates (white = missing): faces it covers are completed there by --inpaint-model')
    .option('--inpaint-model <file>', 'CodeFormer inpainting checkpoint (codeformer_inpainting.pth) or its ONNX graph');
}

/** Commander collector for repeated `--fidelity-override id=w`. */
function collectOverride(value: string, previous: Record<string, number>): Record<string, number> {
  const m = /^(\d+)=(\d*\.?\d+(?:e[-+]?\d+)?)$/i.exec(value.trim()); // w as JavaScript prints it, exponent included
  const w = m ? Number(m[2]) : NaN;
  if (!m || !(w >= 0 && w <= 1)) throw new InvalidArgumentError(`Expected id=w with an integer id and w in [0, 1] but received '${value}'.`);
  return { ...previous, [m[1]!]: w };
}

/** Pipeline options from parsed flags. */
export function pipelineOptionsFromFlags(f: Record<string, unknown>, cacheDir: string, ffmpeg: { ffmpegPath: string; ffprobePath: string }): PipelineOptionsInput {
  return {
    fidelity: f.fidelity as number,
    restorer: f.restorer as PipelineOptionsInput['restorer'],
    model: resolveModelRef(f.model as string | undefined, cacheDir),
    detector: f.detector as PipelineOptionsInput['detector'],
    detectorModel: f.detectorModel as string | undefined,
    detectorThreshold: f.detectorThreshold as number | undefined,
    landmarks: f.landmarks as boolean | undefined,
    device: f.device as PipelineOptionsInput['device'],
    precision: f.precision as PipelineOptionsInput['precision'],
    warp: f.warp as PipelineOptionsInput['warp'],
    batch: f.batch as number,
    threads: f.threads as number | undefined,
    threadSpinning: f.threadSpinning as boolean | undefined,
    detectorThread: f.detectorThread as boolean | undefined,
    queueDepth: f.queueDepth as number | undefined,
    track: f.track !== false,
    detectEvery: f.detectEvery as number,
    reid: f.reid === true ? true : undefined,
    lookAhead: f.lookAhead as number | undefined,
    fidelityMode: f.fidelityMode as 'fixed' | 'auto',
    fidelityOverrides: f.fidelityOverride as Record<string, number>,
    upscale: f.upscale === undefined ? undefined : (Number(f.upscale) as 1 | 2 | 4),
    bgUpsampler: resolveModelRef(f.bgUpsampler as string | undefined, cacheDir),
    faceUpsample: f.faceUpsample === true,
    colorize: f.colorize === true ? 'on' : (f.colorize as 'on' | 'auto' | 'off' | undefined),
    colorizeModel: resolveModelRef(f.colorizeModel as string | undefined, cacheDir),
    inpaintMask: f.inpaintMask as string | undefined,
    inpaintModel: resolveModelRef(f.inpaintModel as string | undefined, cacheDir),
    cacheDir,
    ffmpegPath: ffmpeg.ffmpegPath,
    ffprobePath: ffmpeg.ffprobePath,
  };
}

/** One option's flags; `undefined` (an unset optional field) gives none. */
type ToFlags<T> = (value: T) => string[];
const valued = (flag: string) => (v: string | number | undefined): string[] => (v === undefined ? [] : [flag, String(v)]);

/**
 * Every portable option's flags. The mapped type makes a portable field without an entry here a type
 * error, and the round-trip test in test/bench.test.ts catches an entry whose flag reads back differently.
 */
const FLAGS: { [K in keyof PortableOptions]-?: ToFlags<PortableOptions[K]> } = {
  restorer: valued('--restorer'),
  model: valued('--model'),
  fidelity: valued('--fidelity'),
  detector: valued('--detector'),
  detectorModel: valued('--detector-model'),
  detectorThreshold: valued('--detector-threshold'),
  landmarks: (v) => (v === undefined || v === LANDMARKS_DEFAULT ? [] : [v ? '--landmarks' : '--no-landmarks']),
  device: valued('--device'),
  precision: valued('--precision'),
  warp: (v) => (v === 'graph' ? ['--warp', 'graph'] : []),
  batch: valued('--batch'),
  threads: valued('--threads'),
  threadSpinning: (v) => (v === false ? ['--no-thread-spinning'] : []),
  detectorThread: (v) => (v === true ? ['--detector-thread'] : []),
  queueDepth: valued('--queue-depth'),
  track: (v) => (v === false ? ['--no-track'] : []),
  detectEvery: valued('--detect-every'),
  reid: (v) => (v === true ? ['--reid'] : []),
  lookAhead: valued('--look-ahead'),
  fidelityMode: valued('--fidelity-mode'),
  fidelityOverrides: (v) => Object.entries(v ?? {}).flatMap(([id, w]) => ['--fidelity-override', `${id}=${w}`]),
  upscale: valued('--upscale'),
  bgUpsampler: valued('--bg-upsampler'),
  faceUpsample: (v) => (v ? ['--face-upsample'] : []),
  colorize: valued('--colorize'),
  colorizeModel: valued('--colorize-model'),
  inpaintMask: valued('--inpaint-mask'),
  inpaintModel: valued('--inpaint-model'),
};

/**
 * CLI arguments that make a child `facerestore restore|track|…` run with exactly these options (the
 * inverse of addPipelineFlags + pipelineOptionsFromFlags over the portable options). Numbers are
 * written with JavaScript's shortest round-trip form, so they read back bit-identical.
 */
export function pipelineFlagsFromOptions(portable: PortableOptions): string[] {
  return (Object.keys(FLAGS) as Array<keyof PortableOptions>).flatMap((k) => (FLAGS[k] as ToFlags<unknown>)(portable[k]));
}
