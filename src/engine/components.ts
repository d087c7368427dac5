import { FaceRestoreError } from '../errors.ts';
import { createDetector } from '../detect/createDetector.ts';
import { Landmark68, RefinedDetector } from './landmarkRefiner.ts';
import { ReseedingDetector, TiledDetector } from './tiledDetect.ts';
import { LANDMARK_SMOOTHER_REFINED } from '../track/landmarkSmoother.ts';
import type { FaceDetector } from '../detect/detector.ts';
import { createRestorer } from '../restore/createRestorer.ts';
import { createUpsampler } from '../restore/createUpsampler.ts';
import { plainUpscaler, type FrameUpscaler } from './upscale.ts';
import { chooseFp16, resolveDevice } from '../runtime/devices.ts';
import { RemoteRestorer } from '../restore/remoteRestorer.ts';
import { FrameRestorer } from '../restore/frameRestorer.ts';
import type { Restorer } from '../restore/restorer.ts';
import type { Affine, VideoFrame } from '../types.ts';
import { TrackFidelity } from '../track/fidelity.ts';
import { MultiFaceTracker } from '../track/multiTracker.ts';
import { FaceDescriptor } from './faceDescriptor.ts';
import { ConstantFidelity, PerFrameTracker, type FaceTracker, type FidelityPolicy } from '../track/tracker.ts';
import { parsePipelineOptions, type PipelineOptions, type PipelineOptionsInput } from './options.ts';
import { RunCpuTally } from '../runtime/runCpuTally.ts';

/** Hooks that replace parts of the component set (library API). */
export interface ComponentHooks {
  /** Makes a fresh tracker per run (tracking state must not leak between videos). */
  trackerFactory?: (policy: FidelityPolicy) => FaceTracker;
  /** Fidelity policy; default the constant `fidelity` option. */
  fidelityPolicy?: FidelityPolicy;
  onWarning?: (message: string) => void;
  onInfo?: (message: string) => void;
  /** Each call of the face restorer: faces in it and its wall time (metrics). */
  onRestore?: (faces: number, seconds: number) => void;
  /** The models loaded (detector, restorer and the optional ones), with the time it took (metrics). */
  onLoaded?: (seconds: number) => void;
}

/** `r` with each `restore` call reported to `onRestore` (a Proxy: every other member is the restorer's own). */
/** Why `--warp graph` cannot apply to these options, or undefined when it can. */
function graphWarpProblem(o: PipelineOptions, restorerKind: string): string | undefined {
  if (restorerKind !== 'onnx' || !o.model) return `restorer ${restorerKind} has no graph`;
  if (!/\.(pth|pt|ckpt)$/i.test(o.model)) return 'it needs a CodeFormer .pth checkpoint (an .onnx file runs as it is)';
  if (o.restoreService) return 'the restorer runs in a restore service';
  if (o.colorize !== 'off' || o.inpaintMask || o.faceUpsample) return 'colorize, inpaint and face-upsample need the crops on the host';
  return undefined;
}

/** The restore service's token, or E_CONFIG: without one the service refuses every request. */
function requiredServiceToken(o: PipelineOptions): string {
  if (!o.restoreServiceToken) throw new FaceRestoreError('E_CONFIG', `restore service ${o.restoreService} needs its token (restoreServiceToken; the CLI's --restorer-token-file)`);
  return o.restoreServiceToken;
}

function observed(r: Restorer, onRestore: ((faces: number, seconds: number) => void) | undefined): Restorer {
  if (!onRestore) return r;
  return new Proxy(r, {
    get(target, prop) {
      if (prop === 'restoreFrame' && target.restoreFrame) {
        return async (frame: VideoFrame, toCrops: readonly Affine[], weights: readonly number[]) => {
          const t = performance.now();
          const out = await target.restoreFrame!(frame, toCrops, weights);
          onRestore(toCrops.length, (performance.now() - t) / 1000);
          return out;
        };
      }
      if (prop !== 'restore') {
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      }
      return async (crops: readonly Uint8Array[], weights: readonly number[]) => {
        const t = performance.now();
        const out = await target.restore(crops, weights);
        onRestore(crops.length, (performance.now() - t) / 1000);
        return out;
      };
    },
  });
}

/** Per-use tracker settings that differ between the applications (live has no shot cuts, for one). */
export interface TrackerChoice {
  /** Override the options' `detectEvery`. */
  detectEvery?: number;
  /** Detect shot cuts (default true; live mode turns it off: a camera has no cuts). */
  shotCut?: boolean;
  /** Always track, whatever the options' `track` says (live mode: stable ids for the per-face slider). */
  forceTracking?: boolean;
  /** Frames of look-ahead the tracker keeps for `revisedPoints` (file mode passes the options' `lookAhead`). Default 0. */
  lookAhead?: number;
  /** Re-identification in the tracker (file mode passes the options' `reid`; the caller then feeds it `describer`'s descriptors). Default false. */
  identity?: boolean;
}

/** A tracker together with the fidelity policy it uses (to change w while running). */
export interface TrackerWithPolicy {
  tracker: FaceTracker;
  policy: FidelityPolicy;
}

/**
 * The one component set every application uses: the detector and restorer (loaded once, heavy) plus
 * factories for the per-run pieces (a tracker and its fidelity policy). The file runner, the live
 * worker and the job worker all build on it. Owns the detector and the restorer: `close()` releases
 * both and is idempotent.
 */
export class Components {
  readonly options: PipelineOptions;
  readonly detector: FaceDetector;
  /**
   * The detector for single pictures (photos, a folder's images): the tiled one with `detector` `auto`, else
   * `detector` itself. It shares `detector`'s models; `close()` releases them once, through `detector`.
   */
  readonly photoDetector: FaceDetector;
  /** Undefined when the restorer is `none` (frames pass through). */
  readonly restorer: Restorer | undefined;
  readonly hooks: ComponentHooks;
  /** `upscale` > 1 (file mode): the background upsampler, or the plain bicubic resize without `bgUpsampler`. */
  readonly upscaler: FrameUpscaler | undefined;
  /** `colorize` on/auto: the colorization restorer and when it takes a frame's faces. */
  readonly colorizer: { restorer: Restorer; mode: 'on' | 'auto' } | undefined;
  /** `inpaintMask`: the inpainting restorer (the mask itself is read per run, at the video's size). */
  readonly inpainter: Restorer | undefined;
  /** The execution provider the models run on (`auto` resolved: cpu, webgpu or cuda). */
  readonly device: string;
  /** Restorers' changes are pasted inside the face's 68-landmark hull only (the classic restorer; see FaceProcessorExtras.faceRegion). */
  readonly faceRegion: boolean;
  /** `reid`: face-api's descriptor net, for the tracker's re-identification (file mode). */
  readonly describer: FaceDescriptor | undefined;
  /**
   * Main-thread CPU inside the models' ONNX Runtime runs: `detect` for the detector, the landmark net and the
   * descriptor net, `restore` for the restorer, colorizer, inpainter and upsampler. A run's per-stage CPU
   * charges the growth of these over the run (concurrent runs on one component set would share them).
   */
  readonly inferenceCpu: { readonly detect: RunCpuTally; readonly restore: RunCpuTally };
  #closed = false;

  private constructor(options: PipelineOptions, detector: FaceDetector, restorer: Restorer | undefined, hooks: ComponentHooks, inferenceCpu: Components['inferenceCpu'], upscaler?: FrameUpscaler, colorizer?: Components['colorizer'], inpainter?: Restorer, device = 'cpu', describer?: FaceDescriptor, photoDetector = detector) {
    this.inferenceCpu = inferenceCpu;
    this.photoDetector = photoDetector;
    this.device = device;
    this.describer = describer;
    this.faceRegion = (options.restorer ?? (options.model ? 'onnx' : 'classic')) === 'classic' && options.landmarks;
    this.upscaler = upscaler;
    this.colorizer = colorizer;
    this.inpainter = inpainter;
    this.options = options;
    this.detector = detector;
    this.restorer = restorer;
    this.hooks = hooks;
  }

  /** Validates options (E_CONFIG) and loads the detector and restorer (model errors, E_DEVICE). */
  static async create(input: PipelineOptionsInput = {}, hooks: ComponentHooks = {}): Promise<Components> {
    const o = parsePipelineOptions(input);
    // Combinations the options schema cannot express, refused before any model is loaded.
    if (o.bgUpsampler && o.upscale === 1) throw new FaceRestoreError('E_CONFIG', 'bgUpsampler needs upscale 2 or 4 (--upscale)');
    if (o.faceUpsample && !o.bgUpsampler) throw new FaceRestoreError('E_CONFIG', 'faceUpsample needs bgUpsampler (--bg-upsampler)');
    if (o.inpaintMask && o.upscale !== 1) throw new FaceRestoreError('E_CONFIG', 'inpaintMask does not combine with upscale yet');
    if (o.reid && !o.track) throw new FaceRestoreError('E_CONFIG', 'reid needs tracking (it does not combine with --no-track / track: false)');
    const restorerKind = o.restorer ?? (o.model ? 'onnx' : 'classic');
    // One device decision (and report, for `auto`) for the detector and the restorer.
    const resolved = await resolveDevice(o.device, { onInfo: hooks.onInfo, onWarning: hooks.onWarning });
    const inferenceCpu = { detect: new RunCpuTally(), restore: new RunCpuTally() };
    const session = { device: resolved.provider, intraOpThreads: o.threads, threadSpinning: o.threadSpinning, onWarning: hooks.onWarning, onInfo: hooks.onInfo };
    // Restoring models (restorer, colorizer, inpainter, upsampler) and detection models tally their runs apart.
    const common = { ...session, cpuTally: inferenceCpu.restore };
    const detecting = { ...session, cpuTally: inferenceCpu.detect };
    const loadStarted = performance.now();
    // Whatever loaded before a later load fails is closed again, newest first.
    const owned: Array<{ close(): Promise<void> }> = [];
    const own = <T extends { close(): Promise<void> } | undefined>(r: T): T => {
      if (r) owned.push(r);
      return r;
    };
    try {
      // The detectors' runs are short (a few ms): pool threads spinning between them doubled the detector's CPU
      // per frame (measured 45 → 23 ms per 640×360 frame with BlazeFace on 2 cores) for no gain in wall time.
      // One intra-op thread: a BlazeFace-256 run is ~5 CPU-ms here; a second pool thread added hand-off cost
      // (5.0 → 7.3 CPU-ms per run, idle machine) and competes with the encoder's threads for the same cores.
      // ORT's Node binding runs a session synchronously on the calling thread: with detectorThread that thread is
      // a worker of the detector's own, so inference does not block the event loop and the codecs' pipes (on 2
      // loaded cores it cost more CPU than it freed: off by default, docs/realtime.md).
      // Every BlazeFace kind runs the same model: tiled over the frame (every frame, or photos only) or not.
      const found = own(await createDetector({ kind: o.detector === 'yunet' ? 'yunet' : 'blazeface', modelPath: o.detectorModel, scoreThreshold: o.detectorThreshold, ...detecting, threadSpinning: false, intraOpThreads: 1, offThread: o.detectorThread === true }));
      // The tiled wrapper and then the refiner own the detector from here on (their close closes what they wrap).
      // blazeface-reseed: video through one pass plus a tiled re-seed every 30 frames (ReseedingDetector).
      const base = o.detector === 'blazeface-tiled' ? new TiledDetector(found) : o.detector === 'blazeface-reseed' ? new ReseedingDetector(found) : found;
      const landmarks = o.landmarks ? await Landmark68.create({ ...detecting, threadSpinning: false, intraOpThreads: 1 }) : undefined;
      const detector = landmarks ? new RefinedDetector(base, landmarks) : base;
      if (detector !== found) owned[owned.length - 1] = detector;
      // auto and blazeface-reseed: photos see the same model through tiles, refined by the same landmark net;
      // nothing of its own to close.
      const tiledView = o.detector === 'auto' || o.detector === 'blazeface-reseed' ? new TiledDetector(found, {}, false) : undefined;
      const photoDetector = tiledView ? (landmarks ? new RefinedDetector(tiledView, landmarks) : tiledView) : detector;
      const onnxRestorer = (model: string | undefined) => createRestorer({ kind: 'onnx', model, batch: o.batch, cacheDir: o.cacheDir, precision: o.precision, resolved, ...common });
      // With a restore service, the CodeFormer session is the service's (shared by every stream of a server).
      // --warp graph: the warp runs inside the CodeFormer graph on the device (FrameRestorer), where it applies.
      const graphWarp = o.warp === 'graph' ? graphWarpProblem(o, restorerKind) : undefined;
      if (graphWarp) hooks.onWarning?.(`warp graph: ${graphWarp}; warping on the CPU`);
      const restorer = own(
        o.restoreService && restorerKind !== 'none'
          ? await RemoteRestorer.connect(o.restoreService, { token: requiredServiceToken(o), waitMs: o.restoreServiceWaitMs, onWarning: hooks.onWarning, onInfo: hooks.onInfo })
          : o.warp === 'graph' && !graphWarp
            ? await FrameRestorer.create(o.model!, { ...common, device: resolved.provider, batch: o.batch, fp16: chooseFp16(resolved, o.precision, hooks.onWarning) })
            : await createRestorer({ kind: restorerKind, model: o.model, batch: o.batch, cacheDir: o.cacheDir, precision: o.precision, resolved, ...common }),
      );
      const observedRestorer = restorer && observed(restorer, hooks.onRestore);
      // Tiles batch like faces: `batch` windows per run.
      const upscaler = own(o.upscale === 1 ? undefined : o.bgUpsampler ? await createUpsampler({ model: o.bgUpsampler, scale: o.upscale, batch: o.batch, cacheDir: o.cacheDir, ...common }) : plainUpscaler(o.upscale));
      const colour = own(o.colorize === 'off' ? undefined : await onnxRestorer(o.colorizeModel));
      const inpainter = own(o.inpaintMask ? await onnxRestorer(o.inpaintModel) : undefined);
      // Descriptors are asked for on a fraction of the faces (a few per frame at most): one thread, no spinning, like the detector.
      const describer = own(o.reid ? await FaceDescriptor.create({ ...detecting, threadSpinning: false, intraOpThreads: 1 }) : undefined);
      hooks.onLoaded?.((performance.now() - loadStarted) / 1000);
      return new Components(o, detector, observedRestorer, hooks, inferenceCpu, upscaler, colour ? { restorer: colour, mode: o.colorize as 'on' | 'auto' } : undefined, inpainter, resolved.provider, describer, photoDetector);
    } catch (e) {
      for (const r of owned.reverse()) await r.close();
      throw e;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Name of the restorer that runs (`none (passthrough)` without one). */
  get restorerName(): string {
    return this.restorer?.name ?? 'none (passthrough)';
  }

  /** A fidelity policy per the options (default w, mode, per-track overrides), or the hook's. */
  newFidelityPolicy(forceTracking = false): FidelityPolicy {
    if (this.hooks.fidelityPolicy) return this.hooks.fidelityPolicy;
    const o = this.options;
    const tracking = o.track || forceTracking;
    if (!tracking && o.fidelityMode === 'fixed' && Object.keys(o.fidelityOverrides).length === 0) return new ConstantFidelity(o.fidelity);
    const policy = new TrackFidelity({ w: o.fidelity, mode: o.fidelityMode });
    for (const [id, w] of Object.entries(o.fidelityOverrides)) policy.setOverride(Number(id), w);
    return policy;
  }

  /** A new tracker for one run (tracking state never carries over between videos). */
  newTracker(choice: TrackerChoice = {}): FaceTracker {
    return this.newTrackerWithPolicy(choice).tracker;
  }

  /** A new tracker and the policy it chooses w with. */
  newTrackerWithPolicy(choice: TrackerChoice = {}): TrackerWithPolicy {
    const policy = this.newFidelityPolicy(choice.forceTracking);
    if (this.hooks.trackerFactory) return { tracker: this.hooks.trackerFactory(policy), policy };
    const o = this.options;
    const tracker = o.track || choice.forceTracking
      ? new MultiFaceTracker({ fidelity: policy, detectEvery: choice.detectEvery ?? o.detectEvery, ...(o.landmarks ? { smoothing: LANDMARK_SMOOTHER_REFINED } : {}), lookAhead: choice.lookAhead ?? 0, ...(choice.shotCut === false ? { shotCut: false } : {}), ...(choice.identity ? { identity: {} } : {}) })
      : new PerFrameTracker(policy);
    return { tracker, policy };
  }

  /** Releases the detector and restorer. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.detector.close(), this.restorer?.close(), this.upscaler?.close(), this.colorizer?.restorer.close(), this.inpainter?.close(), this.describer?.close()]);
  }
}
