/**
 * The one module that imports onnxruntime-node. Everything else passes plain typed arrays in and out
 * through OrtModel, which checks every input against the session's own metadata (name, dtype, shape)
 * before running, and names the model and the shapes in every error. (Just over 300 lines: the session
 * options and the mapping of ORT's load errors to typed device errors belong with the one import.)
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { FaceRestoreError } from '../errors.ts';
import type { Device, Provider } from '../types.ts';
import { CUDA_HELP, WEBGPU_HELP, describeVulkanDrivers, vulkanIcds } from './deviceHelp.ts';
import { ThreadSession } from './ortThread.ts';
import type { RunCpuTally } from './runCpuTally.ts';
import { threadCpuMs } from '../util/cpuMeter.ts';

/** Element types the product exchanges with models. */
export type TensorType = 'float32' | 'float64' | 'float16' | 'int32' | 'int64' | 'uint8' | 'bool';

/** A tensor as plain data: what callers hand to OrtModel.run and get back. */
export interface TensorData {
  type: TensorType;
  dims: readonly number[];
  data: Float32Array | Float64Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;
}

/** Options of OrtModel.run. */
export interface RunOutputs {
  /** Output buffers to fill, by output name (shapes must be the ones the run produces). */
  into?: Readonly<Record<string, TensorData>>;
}

/** Declared input or output of a model: a dimension is a number, or a name when it is symbolic (dynamic). */
export interface TensorSpec {
  name: string;
  type: string;
  shape: ReadonlyArray<number | string>;
}

/** Options for OrtModel.create. */
export interface OrtModelOptions {
  /**
   * Execution device. `auto` tries CUDA, then WebGPU, then the CPU, and says which one runs through `onInfo`
   * (and through `onWarning` when it is the CPU). Default `cpu`.
   */
  device?: Device;
  /** Intra-op thread count; default ORT's (all cores). */
  intraOpThreads?: number;
  /**
   * Whether ORT's idle threads busy-wait for the next run. Default true: back-to-back runs (file mode) start
   * sooner. Live mode turns it off: between runs the spinning threads took the cores the video codecs need
   * (measured: 720p pass-through round trip 306–317 ms with spinning, 186–228 ms without).
   */
  threadSpinning?: boolean;
  /** Name used in error messages; default the file name. */
  name?: string;
  /** Receives non-fatal warnings (e.g. `auto` falling back to the CPU). */
  onWarning?: (message: string) => void;
  /** Receives notes (e.g. which provider `auto` chose and why the others did not load). */
  onInfo?: (message: string) => void;
  /** Enables ORT's CUDA provider options (device id). Default 0. */
  cudaDeviceId?: number;
  /**
   * Refuse to load (E_DEVICE) when any node would run on the CPU instead of the chosen provider
   * (ORT's `session.disable_cpu_ep_fallback`). Default false: ORT may place small nodes (shape arithmetic,
   * ops the provider lacks) on the CPU. Used by device probes and parity tests to prove where a graph ran.
   */
  strictDevice?: boolean;
  /**
   * Run the session on a worker thread of its own (see ortThread.ts) so that inference never blocks the event
   * loop (the codecs' pipes keep flowing while the model runs). Default false.
   */
  offThread?: boolean;
  /**
   * Receives the calling thread's CPU of each run (see RunCpuTally; main-thread sessions only: a session with
   * `offThread` is accounted by ortThread's `threadSessionsCpuMs`). Default none.
   */
  cpuTally?: RunCpuTally;
}

/** The session settings every ONNX-backed detector and restorer takes and hands on to OrtModel.create. */
export type OrtSessionChoice = Pick<OrtModelOptions, 'device' | 'intraOpThreads' | 'threadSpinning' | 'onWarning' | 'onInfo' | 'offThread' | 'cpuTally'>;

/** Just the session settings of a larger options object (what a component passes to OrtModel.create). */
export function sessionChoice(o: OrtSessionChoice): OrtSessionChoice {
  return { device: o.device, intraOpThreads: o.intraOpThreads, threadSpinning: o.threadSpinning, onWarning: o.onWarning, onInfo: o.onInfo, ...(o.offThread !== undefined ? { offThread: o.offThread } : {}), ...(o.cpuTally ? { cpuTally: o.cpuTally } : {}) };
}

/** The order `auto` tries providers in: fastest first. */
export const AUTO_ORDER: readonly Provider[] = ['cuda', 'webgpu', 'cpu'];

/** Providers to try for a device choice, in order. */
export function providersFor(device: Device): readonly Provider[] {
  return device === 'auto' ? AUTO_ORDER : [device];
}

/**
 * The one place that maps a provider to ONNX Runtime execution providers. WebGPU and CUDA list no CPU
 * entry: ORT adds its CPU provider by itself for nodes the device lacks (unless `strictDevice`).
 */
export function executionProviders(provider: Provider, options: Pick<OrtModelOptions, 'cudaDeviceId'> = {}): ort.InferenceSession.SessionOptions['executionProviders'] {
  switch (provider) {
    case 'cuda':
      return [{ name: 'cuda', deviceId: options.cudaDeviceId ?? 0 } as ort.InferenceSession.ExecutionProviderConfig];
    case 'webgpu':
      return [{ name: 'webgpu' }];
    case 'cpu':
      return ['cpu'];
  }
}

/** Execution providers this build of onnxruntime-node can load on this machine, e.g. ['cpu']. */
export function bundledBackends(): string[] {
  return ort.listSupportedBackends().filter((b) => b.bundled).map((b) => b.name);
}

/** A loaded ONNX model: the single gateway to ONNX Runtime. */
export class OrtModel {
  readonly name: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** The provider the session really runs on. */
  readonly provider: Provider;
  #session: ort.InferenceSession | ThreadSession | undefined;
  #running: Promise<unknown> = Promise.resolve();
  readonly #cpuTally: RunCpuTally | undefined;

  private constructor(name: string, session: ort.InferenceSession | ThreadSession, provider: Provider, cpuTally?: RunCpuTally) {
    this.name = name;
    this.#cpuTally = cpuTally;
    this.#session = session;
    this.provider = provider;
    if (session instanceof ThreadSession) {
      this.inputs = session.inputs;
      this.outputs = session.outputs;
    } else {
      this.inputs = session.inputMetadata.map(toSpec);
      this.outputs = session.outputMetadata.map(toSpec);
    }
  }

  /**
   * Loads a model from a path or bytes. Errors: E_MODEL_MISSING (no such file), E_MODEL_INVALID
   * (not a loadable ONNX model), E_DEVICE (the provider asked for cannot load: no CUDA provider libraries,
   * no WebGPU adapter; with `auto`, only when not even the CPU loads, which does not happen).
   */
  static async create(source: string | Uint8Array, options: OrtModelOptions = {}): Promise<OrtModel> {
    const name = options.name ?? (typeof source === 'string' ? path.basename(source) : 'in-memory model');
    let bytes: Uint8Array;
    if (typeof source === 'string') {
      try {
        bytes = await readFile(source);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw new FaceRestoreError(
          err.code === 'ENOENT' ? 'E_MODEL_MISSING' : 'E_MODEL_INVALID',
          `cannot read model ${source}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`,
          { cause: e },
        );
      }
    } else {
      bytes = source;
    }
    if (bytes.byteLength === 0) throw new FaceRestoreError('E_MODEL_INVALID', `model ${name} is an empty file`);
    const device = options.device ?? 'cpu';
    if (options.offThread) {
      const remote = await ThreadSession.open(
        bytes,
        { name, device, intraOpThreads: options.intraOpThreads, threadSpinning: options.threadSpinning, cudaDeviceId: options.cudaDeviceId, strictDevice: options.strictDevice },
        { onWarning: options.onWarning, onInfo: options.onInfo },
      );
      return new OrtModel(name, remote, remote.provider);
    }
    const skipped: string[] = [];
    for (const provider of providersFor(device)) {
      try {
        const model = new OrtModel(name, await openSession(name, bytes, provider, options), provider, options.cpuTally);
        if (device === 'auto') reportAuto(name, provider, skipped, options);
        return model;
      } catch (e) {
        if (device !== 'auto' || provider === 'cpu' || !(e instanceof FaceRestoreError && e.code === 'E_DEVICE')) throw e;
        skipped.push(`${provider}: ${e.message}`);
      }
    }
    throw new FaceRestoreError('E_DEVICE', `no execution provider loads model ${name}`);
  }

  /** The declared input with this name, or undefined. */
  input(name: string): TensorSpec | undefined {
    return this.inputs.find((i) => i.name === name);
  }

  /**
   * Runs the model. Every declared input must be fed, with its dtype and every fixed dimension matching;
   * extra feeds are refused. Runs are serialised per model (ORT sessions are not re-entrant in Node).
   */
  async run(feeds: Readonly<Record<string, TensorData>>, options: RunOutputs = {}): Promise<Record<string, TensorData>> {
    const session = this.#session;
    if (!session) throw new FaceRestoreError('E_CLOSED', `model ${this.name} is closed`);
    this.checkFeeds(feeds);
    if (session instanceof ThreadSession) return this.#runThreaded(session, feeds, options);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(v.type, v.data as never, v.dims);
    let fetches: Record<string, ort.Tensor | null> | undefined;
    if (options.into) {
      // Preallocated outputs: ORT writes into the caller's buffers (no per-run allocation; with CUDA the
      // device-to-host copy lands there directly). Outputs not named are allocated as usual.
      fetches = {};
      for (const o of this.outputs) {
        const t = options.into[o.name];
        fetches[o.name] = t ? new ort.Tensor(t.type, t.data as never, t.dims) : null;
      }
    }
    const job = this.#running.then(async () => {
      try {
        return await this.#tallied(() => (fetches ? session.run(ortFeeds, fetches) : session.run(ortFeeds)));
      } catch (e) {
        throw new FaceRestoreError(
          'E_MODEL_RUN',
          `model ${this.name} failed to run with inputs ${describeFeeds(feeds)}: ${(e as Error).message}`,
          { cause: e },
        );
      }
    });
    this.#running = job.catch(() => undefined);
    const out = await job;
    const result: Record<string, TensorData> = {};
    for (const [k, t] of Object.entries(out)) {
      result[k] = options.into?.[k] ?? { type: t.type as TensorType, dims: [...t.dims], data: t.data as TensorData['data'] };
    }
    return result;
  }

  /**
   * Starts `start` (one session run) and charges the calling thread's CPU inside it to the tally. ORT queues
   * the run's work as a `setImmediate` callback from within `run()` (see RunCpuTally), so a callback queued
   * just before it runs right before it, and the first reaction to the run's promise right after it: the
   * CPU between the two is the run's (plus ORT's wrapping of the outputs), nothing else of the event loop's.
   */
  #tallied<T>(start: () => Promise<T>): Promise<T> {
    const tally = this.#cpuTally;
    if (!tally) return start();
    let before = Number.NaN;
    setImmediate(() => (before = threadCpuMs()));
    const p = start();
    const settle = () => void (Number.isNaN(before) || tally.add(threadCpuMs() - before));
    p.then(settle, settle);
    return p;
  }

  async #runThreaded(session: ThreadSession, feeds: Readonly<Record<string, TensorData>>, options: RunOutputs): Promise<Record<string, TensorData>> {
    const job = this.#running.then(() => session.run(feeds));
    this.#running = job.catch(() => undefined);
    const out = await job;
    if (!options.into) return out;
    for (const [k, t] of Object.entries(options.into)) {
      const got = out[k];
      if (got) (t.data as Float32Array).set(got.data as Float32Array);
      out[k] = t;
    }
    return out;
  }

  /** Throws E_MODEL_CONTRACT when feeds do not fit the session's declared inputs. */
  checkFeeds(feeds: Readonly<Record<string, TensorData>>): void {
    const expected = this.inputs.map(specToString).join(', ');
    for (const spec of this.inputs) {
      const feed = feeds[spec.name];
      if (!feed) {
        throw new FaceRestoreError('E_MODEL_CONTRACT', `model ${this.name}: input '${spec.name}' not fed; model expects ${expected}, got ${describeFeeds(feeds)}`);
      }
      const fits =
        feed.type === spec.type &&
        (spec.shape.length === 0 || spec.shape.length === feed.dims.length) &&
        spec.shape.every((d, i) => typeof d !== 'number' || d < 0 || d === feed.dims[i]);
      if (!fits) {
        throw new FaceRestoreError('E_MODEL_CONTRACT', `model ${this.name}: input '${spec.name}' expects ${specToString(spec)}, got ${feed.type}[${feed.dims.join(',')}]`);
      }
      const n = feed.dims.reduce((a, b) => a * b, 1);
      if (feed.data.length !== n) {
        throw new FaceRestoreError('E_MODEL_CONTRACT', `model ${this.name}: input '${spec.name}' has ${feed.data.length} elements for shape [${feed.dims.join(',')}] (${n})`);
      }
    }
    for (const k of Object.keys(feeds)) {
      if (!this.input(k)) throw new FaceRestoreError('E_MODEL_CONTRACT', `model ${this.name}: unknown input '${k}'; model expects ${expected}`);
    }
  }

  /** Releases the session. Idempotent; waits for a run in flight. */
  async close(): Promise<void> {
    const session = this.#session;
    if (!session) return;
    this.#session = undefined;
    await this.#running;
    await session.release();
  }
}

/** Says which provider `auto` chose, and why the faster ones did not load. */
function reportAuto(name: string, provider: Provider, skipped: readonly string[], options: OrtModelOptions): void {
  const why = skipped.length ? `; not ${skipped.join('; not ')}` : '';
  const message = `device auto: model ${name} runs on ${provider}${why}`;
  if (provider === 'cpu') options.onWarning?.(message);
  else options.onInfo?.(message);
}

async function openSession(name: string, bytes: Uint8Array, provider: Provider, options: OrtModelOptions): Promise<ort.InferenceSession> {
  const session: Record<string, Record<string, string> | string> = {};
  // Session config entries session.intra_op.allow_spinning / session.inter_op.allow_spinning.
  if (options.threadSpinning === false) Object.assign(session, { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } });
  if (options.strictDevice && provider !== 'cpu') session.disable_cpu_ep_fallback = '1';
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: executionProviders(provider, options),
    graphOptimizationLevel: 'all',
    // ORT's C++ warnings (unused initialisers and the like) go to stderr and drown the CLI's output.
    logSeverityLevel: 3,
    ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
    ...(Object.keys(session).length ? { extra: { session } } : {}),
  };
  try {
    return await ort.InferenceSession.create(bytes, sessionOptions);
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (provider === 'cuda') {
      const lib = /(lib[\w.+-]+\.so[\w.]*)/.exec(msg)?.[1] ?? missingProviderLibrary();
      throw new FaceRestoreError(
        'E_DEVICE',
        `CUDA execution provider is not available for model ${name}` + (lib ? ` (missing ${lib})` : '') + `: ${firstLine(msg)}. ${CUDA_HELP}`,
        { cause: e, details: { bundledBackends: bundledBackends() } },
      );
    }
    if (provider === 'webgpu' && /adapter|webgpu|dawn|vulkan/i.test(msg)) {
      const icds = vulkanIcds();
      const noAdapter = /adapter/i.test(msg);
      throw new FaceRestoreError(
        'E_DEVICE',
        (noAdapter ? `WebGPU has no adapter for model ${name}` : `WebGPU execution provider failed to load model ${name}`) +
          `: ${firstLine(msg)}. ${describeVulkanDrivers()}. ${WEBGPU_HELP}`,
        { cause: e, details: { vulkanIcds: icds, bundledBackends: bundledBackends() } },
      );
    }
    if (options.strictDevice && /fallback to CPU EP has been explicitly disabled/i.test(msg)) {
      throw new FaceRestoreError('E_DEVICE', `model ${name} has nodes that ${provider} cannot run (strict device): ${firstLine(msg)}`, { cause: e });
    }
    throw new FaceRestoreError('E_MODEL_INVALID', `model ${name} is not a loadable ONNX model: ${firstLine(msg)}`, { cause: e });
  }
}

/** The CUDA provider's libraries that onnxruntime-node looks for beside its binding, when absent. */
function missingProviderLibrary(): string | undefined {
  const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
  const missing = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'].filter((f) => !existsSync(path.join(dir, f)));
  return missing.length ? missing.map((f) => path.join(dir, f)).join(' and ') : undefined;
}

function toSpec(m: ort.InferenceSession.ValueMetadata): TensorSpec {
  return m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] };
}

function specToString(s: TensorSpec): string {
  return `${s.name}: ${s.type}[${s.shape.join(',')}]`;
}

function describeFeeds(feeds: Readonly<Record<string, TensorData>>): string {
  const parts = Object.entries(feeds).map(([k, v]) => `${k}: ${v.type}[${v.dims.join(',')}]`);
  return parts.length ? parts.join(', ') : '(none)';
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}
