import { z } from 'zod';
import { FaceRestoreError } from '../errors.ts';

/** Whether the 68-point landmark refinement runs unless asked otherwise (see docs/landmarks.md for the measurements). */
export const LANDMARKS_DEFAULT = true;

/**
 * The settings that say what to do (restorer, model, detector, fidelity, …). These cross process and
 * machine boundaries (job data, restore-peer config, worker messages, the bench's child runs) as they
 * are: plain JSON, validated by this schema on both sides. Model paths name inputs, like a job's
 * input file; the machine-local settings (tool paths, cache folder) are in `localSettingsShape` and
 * never travel.
 */
const portableShape = {
    /** Which restorer: `classic` (default without a model), `onnx` (default with a model), `none` (passthrough). */
    restorer: z.enum(['classic', 'onnx', 'none']).optional(),
    /** Model file: a CodeFormer-compatible ONNX export, or an official CodeFormer `.pth` (built to ONNX and cached). */
    model: z.string().min(1).optional(),
    /** Default fidelity weight w ∈ [0, 1] for every face. Default 0.5. */
    fidelity: z.number().min(0).max(1).default(0.5),
    /**
     * Face detector; every BlazeFace kind runs the model that ships through npm. `auto` (default): photos and
     * folder images through tiles (crowds and faces from 20 px; about 25× one pass on a 640 px picture, which a
     * photo can afford), video frames through one pass (the frame path's real-time budget). `blazeface`: one
     * pass for photos too. `blazeface-tiled`: tiles for every frame (engine/tiledDetect.ts). `blazeface-reseed`:
     * video through one pass plus a tiled re-seed every 30 frames (ReseedingDetector; photos tiled). `yunet`: a
     * user-supplied YuNet ONNX (detectorModel). See docs/detectors.md.
     */
    detector: z.enum(['auto', 'blazeface', 'blazeface-tiled', 'blazeface-reseed', 'yunet']).default('auto'),
    /** Detector ONNX file (required for yunet; optional override for blazeface). */
    detectorModel: z.string().min(1).optional(),
    /** Minimum detector score. Default 0.6. */
    detectorThreshold: z.number().min(0).max(1).optional(),
    /**
     * Refine every detection's five points with face-api's 68-point landmark net (eye centres from the eye
     * contours, nose tip, mouth corners; see engine/landmarkRefiner.ts). Default LANDMARKS_DEFAULT.
     */
    landmarks: z.boolean().default(LANDMARKS_DEFAULT),
    /**
     * Execution device for ONNX models (detector and restorer): `cpu`, `webgpu` (Vulkan: NVIDIA, AMD, Intel, or
     * Mesa's software lavapipe), `cuda` (needs the CUDA provider libraries), or `auto` (CUDA, then WebGPU, then
     * the CPU, reporting why the faster ones did not load). Default `cpu`.
     */
    device: z.enum(['cpu', 'webgpu', 'cuda', 'auto']).default('cpu'),
    /**
     * Precision of the graph built from a CodeFormer `.pth`: `auto` is fp16 on CUDA and fp32 elsewhere (WebGPU's
     * fp16 was measured inaccurate on lavapipe); `fp16` where the provider cannot run it falls back to fp32 with a
     * warning. Default `auto`.
     */
    precision: z.enum(['auto', 'fp32', 'fp16']).default('auto'),
    /**
     * Where the 512 face crops are warped: `cpu` (default: warpToCrop, only the faces' pixels are read) or `graph`
     * (a CodeFormer `.pth` only: the warp runs as part of the restorer's ONNX graph on its device, which takes the
     * whole I420 frame once per frame and returns uint8 crops; faces are then batched per frame, not across
     * frames). Not with colorize, inpaint or face-upsample.
     */
    warp: z.enum(['cpu', 'graph']).default('cpu'),
    /** Faces per restorer call (file mode fills it across frames). Default 4. */
    batch: z.number().int().min(1).max(256).default(4),
    /** ONNX Runtime intra-op threads; default all cores. */
    threads: z.number().int().min(1).max(256).optional(),
    /** ONNX Runtime's idle threads busy-wait for the next run (faster back to back, costs CPU). Default true; live mode sets false. */
    threadSpinning: z.boolean().default(true),
    /**
     * Run the face detector on a worker thread of its own, so its inference never blocks the event loop that
     * services the codecs' pipes (ORT's Node binding runs a session synchronously on the calling thread).
     * Default (unset) false: on the 2-core machine it was measured on, it cost more CPU than it freed
     * (docs/realtime.md); meant for machines with cores to spare.
     */
    detectorThread: z.boolean().optional(),
    /** Frames buffered between stages (memory bound). Default 4. */
    queueDepth: z.number().int().min(1).max(64).default(4),
    /** Track faces across frames with landmark smoothing and shot-cut detection. Default true. */
    track: z.boolean().default(true),
    /**
     * File mode: frames of look-ahead for landmark smoothing (a fixed-lag Rauch–Tung–Striebel pass; the
     * frames wait this long before alignment). 0: causal, as live mode always is. Default 8.
     */
    lookAhead: z.number().int().min(0).max(60).default(8),
    /**
     * File mode: re-identification by appearance. A face that comes back after a cut (or a long occlusion) takes
     * its earlier track id, so per-track w overrides and the tracks export follow the person; costs face-api's
     * 128-D descriptor net on a fraction of the faces (docs/identity.md). Needs `track`. Default (unset) false.
     */
    reid: z.boolean().optional(),
    /** Full detection every k-th frame; in between, tracks are predicted and re-detected in their regions. Default 1. */
    detectEvery: z.number().int().min(1).max(1000).default(1),
    /** `fixed`: `fidelity` for every face; `auto`: w per track from face size and sharpness. Default fixed. */
    fidelityMode: z.enum(['fixed', 'auto']).default('fixed'),
    /** w per track id, overriding the default (track ids as in the tracks export). */
    fidelityOverrides: z.record(z.string().regex(/^\d+$/, 'track ids are non-negative integers'), z.number().min(0).max(1)).default({}),
    /** Output size / input size (file mode): 1 (default), 2 or 4. Faces are pasted at the output scale. */
    upscale: z.union([z.literal(1), z.literal(2), z.literal(4)]).default(1),
    /** Real-ESRGAN RRDBNet `.pth` or its ONNX graph that upscales the frame (in tiles); without it `upscale` is bicubic. */
    bgUpsampler: z.string().min(1).optional(),
    /** Also run `bgUpsampler` on the restored faces (pasted from crops `upscale` times larger). Default false. */
    faceUpsample: z.boolean().default(false),
    /** `on`: every face goes to `colorizeModel`; `auto`: the faces of grayscale frames (chroma all but flat) do; `off` (default). */
    colorize: z.enum(['off', 'on', 'auto']).default('off'),
    /** CodeFormer colorization checkpoint (`codeformer_colorization.pth`) or its ONNX graph, for `colorize`. */
    colorizeModel: z.string().min(1).optional(),
    /** Inpainting mask image (white = missing, frame coordinates): masked face regions are completed by `inpaintModel`. */
    inpaintMask: z.string().min(1).optional(),
    /** CodeFormer inpainting checkpoint (`codeformer_inpainting.pth`) or its ONNX graph, for `inpaintMask`. */
    inpaintModel: z.string().min(1).optional(),
};

/** Settings of one machine (read from its environment and flags); never sent to another process. */
const localSettingsShape = {
  /** Cache directory for built models. */
  cacheDir: z.string().optional(),
  ffmpegPath: z.string().default('ffmpeg'),
  ffprobePath: z.string().default('ffprobe'),
  /**
   * Address of a restore service (RestoreService: one restorer session for every stream of one or several live
   * servers): `tcp://HOST:PORT` or `unix:/path` (a bare path is a Unix socket). When set, an `onnx` restorer runs
   * there instead of in this process; the detector stays here.
   */
  restoreService: z.string().optional(),
  /** The restore service's shared token (needed with restoreService). */
  restoreServiceToken: z.string().optional(),
  /**
   * While the restore service is unreachable: 0 = a restore fails at once (live: the frame passes through);
   * above 0 = it waits this long for the reconnection, then fails with E_UNAVAILABLE (file mode). Ms, default 30 000.
   */
  restoreServiceWaitMs: z.number().int().min(0).max(3_600_000).optional(),
};

/** Names of the machine-local settings. */
export const LOCAL_SETTING_KEYS = Object.keys(localSettingsShape) as Array<keyof typeof localSettingsShape>;

type Checked = { detector: string; detectorModel?: string | undefined; restorer?: string | undefined; model?: string | undefined; colorize?: string; colorizeModel?: string | undefined; inpaintMask?: string | undefined; inpaintModel?: string | undefined };
const withChecks = <T extends z.ZodType<Checked>>(schema: T) =>
  schema
    .refine((o) => o.detector !== 'yunet' || o.detectorModel, { message: 'detector yunet needs detectorModel (a YuNet ONNX file)', path: ['detectorModel'] })
    .refine((o) => o.restorer !== 'onnx' || o.model, { message: 'restorer onnx needs model (an ONNX or .pth file)', path: ['model'] })
    .refine((o) => !o.colorize || o.colorize === 'off' || o.colorizeModel, { message: 'colorize needs colorizeModel (codeformer_colorization.pth)', path: ['colorizeModel'] })
    .refine((o) => !o.inpaintMask || o.inpaintModel, { message: 'inpaintMask needs inpaintModel (codeformer_inpainting.pth)', path: ['inpaintModel'] });

/** Options that cross a process or machine boundary (see portableShape). */
export const portableOptionsSchema = withChecks(z.strictObject(portableShape));
export type PortableOptionsInput = z.input<typeof portableOptionsSchema>;
export type PortableOptions = z.output<typeof portableOptionsSchema>;

/** Machine-local settings (see localSettingsShape). */
export const localSettingsSchema = z.strictObject(localSettingsShape);
export type LocalSettingsInput = z.input<typeof localSettingsSchema>;

/** Pipeline options, validated at the library and CLI edges: the portable options plus this machine's settings. */
export const pipelineOptionsSchema = withChecks(z.strictObject({ ...portableShape, ...localSettingsShape }));

export type PipelineOptionsInput = z.input<typeof pipelineOptionsSchema>;
export type PipelineOptions = z.output<typeof pipelineOptionsSchema>;

function parseWith<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const r = schema.safeParse(input ?? {});
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ');
    throw new FaceRestoreError('E_CONFIG', `invalid ${what}: ${problems}`);
  }
  return r.data;
}

/** Validates options; throws E_CONFIG listing every problem. */
export function parsePipelineOptions(input: unknown): PipelineOptions {
  return parseWith(pipelineOptionsSchema, input, 'pipeline options');
}

/** Validates portable options (what another process or machine sent); throws E_CONFIG listing every problem. */
export function parsePortableOptions(input: unknown): PortableOptions {
  return parseWith(portableOptionsSchema, input, 'portable pipeline options');
}

/**
 * The portable part of options, fully resolved (defaults filled in, machine-local settings and
 * undefined fields left out), ready to cross a boundary as JSON.
 */
export function toPortableOptions(input: PipelineOptionsInput | PipelineOptions): PortableOptions {
  const o: Record<string, unknown> = { ...parsePipelineOptions(input) };
  for (const k of LOCAL_SETTING_KEYS) delete o[k];
  for (const [k, v] of Object.entries(o)) if (v === undefined) delete o[k];
  return parsePortableOptions(o);
}

/** Full pipeline options from portable options and this machine's settings. */
export function withLocalSettings(portable: PortableOptionsInput, local: LocalSettingsInput): PipelineOptions {
  return parsePipelineOptions({ ...parsePortableOptions(portable), ...localSettingsSchema.parse(local) });
}
