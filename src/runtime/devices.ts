/**
 * Which execution provider runs, decided once per component set: probes that load a four-element graph
 * on a provider (with CPU fallback disabled, so a pass means the provider itself ran it), the `auto`
 * order with the reason each faster provider was passed over, and the fp16 decision per provider.
 */
import { FaceRestoreError } from '../errors.ts';
import { GraphBuilder } from '../models/graphBuilder.ts';
import type { Device, Precision, Provider } from '../types.ts';
import { describeVulkanDrivers, vulkanIcds } from './deviceHelp.ts';
import { AUTO_ORDER, OrtModel, bundledBackends, providersFor, type OrtModelOptions } from './ort.ts';

/** Result of loading and running a tiny graph on one provider. */
export interface ProbeResult {
  provider: Provider;
  ok: boolean;
  /** Why it did not load (the E_DEVICE message); undefined when ok. */
  reason?: string;
  /** The typed error when it did not load. */
  error?: FaceRestoreError;
  /** Whether float16 arithmetic runs on the provider (WebGPU: the adapter has `shader-f16`). Undefined when not ok. */
  fp16?: boolean;
  /** Why fp16 does not run; undefined when it does. */
  fp16Reason?: string;
}

/** The provider a device choice resolved to, and what was tried on the way. */
export interface DeviceResolution {
  requested: Device;
  provider: Provider;
  /** Whether float16 graphs run on `provider` (probed for WebGPU; true for CUDA and the CPU). */
  fp16: boolean;
  /** Every provider probed, in order (the chosen one last). */
  tried: ProbeResult[];
  /** One line for logs: the provider and why faster ones were passed over. */
  summary: string;
}

/** Hooks and settings of device resolution. */
export type ResolveOptions = Pick<OrtModelOptions, 'onInfo' | 'onWarning' | 'cudaDeviceId'>;

/** y = x·x on [1,4], in float32 or through float16 (Cast → Mul → Cast). */
function probeGraph(fp16: boolean): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [1, 4]);
  let y;
  if (fp16) {
    const h = g.op('Cast', [x], { to: 10 }, { type: 'float16' });
    y = g.op('Cast', [g.op('Mul', [h, h], {}, { type: 'float16' })], { to: 1 }, { type: 'float32' });
  } else {
    y = g.op('Mul', [x, x]);
  }
  g.output('y', y, [1, 4]);
  return g.encode({ graphName: fp16 ? 'probe_fp16' : 'probe_fp32' });
}

async function runsOn(provider: Provider, fp16: boolean, options: ResolveOptions): Promise<void> {
  const model = await OrtModel.create(probeGraph(fp16), { device: provider, strictDevice: true, name: `${provider} probe${fp16 ? ' (fp16)' : ''}`, cudaDeviceId: options.cudaDeviceId });
  try {
    const out = await model.run({ x: { type: 'float32', dims: [1, 4], data: Float32Array.from([1, 2, 3, 0.5]) } });
    const y = out.y!.data as Float32Array;
    if (!(y[0] === 1 && y[1] === 4 && y[2] === 9 && y[3] === 0.25)) {
      throw new FaceRestoreError('E_DEVICE', `${provider} computed ${Array.from(y).join(', ')} for 1², 2², 3², 0.5²`);
    }
  } finally {
    await model.close();
  }
}

/**
 * Loads and runs a tiny graph on `provider` (CPU fallback disabled) and, when that works, its float16
 * variant. Never throws for a provider that cannot load: the result says why.
 */
export async function probeProvider(provider: Provider, options: ResolveOptions = {}): Promise<ProbeResult> {
  try {
    await runsOn(provider, false, options);
  } catch (e) {
    const error = e instanceof FaceRestoreError ? e : new FaceRestoreError('E_DEVICE', `${provider}: ${(e as Error).message}`, { cause: e });
    return { provider, ok: false, reason: error.message, error };
  }
  if (provider === 'cpu') return { provider, ok: true, fp16: true };
  try {
    await runsOn(provider, true, options);
    return { provider, ok: true, fp16: true };
  } catch (e) {
    const why = provider === 'webgpu' ? 'the WebGPU adapter has no shader-f16 feature' : `${provider} does not run float16`;
    return { provider, ok: true, fp16: false, fp16Reason: `${why} (${(e as Error).message.split('\n')[0]})` };
  }
}

/**
 * The provider that runs for a device choice. `cpu` needs no probe. `webgpu` and `cuda` are probed and
 * throw E_DEVICE (naming the missing library or adapter) when they cannot load. `auto` probes CUDA, then
 * WebGPU, then takes the CPU; it reports the choice through `onInfo` and, when it ends on the CPU, the
 * reasons through `onWarning`.
 */
export async function resolveDevice(device: Device, options: ResolveOptions = {}): Promise<DeviceResolution> {
  if (device === 'cpu') return { requested: device, provider: 'cpu', fp16: true, tried: [], summary: 'cpu (requested)' };
  const tried: ProbeResult[] = [];
  for (const provider of providersFor(device)) {
    if (provider === 'cpu') {
      tried.push({ provider, ok: true, fp16: true });
      break;
    }
    const r = await probeProvider(provider, options);
    tried.push(r);
    if (r.ok) break;
    if (device !== 'auto') throw r.error!;
  }
  const chosen = tried[tried.length - 1]!;
  const passed = tried.filter((t) => !t.ok).map((t) => `${t.provider} did not load: ${t.reason}`);
  const summary = `${chosen.provider} (${device === 'auto' ? 'auto' : 'requested'})` + (passed.length ? `; ${passed.join('; ')}` : '');
  if (device === 'auto') {
    options.onInfo?.(`device auto: running on ${summary}`);
    if (chosen.provider === 'cpu') options.onWarning?.(`device auto: no GPU provider loads, running on the CPU; ${passed.join('; ')}`);
  }
  return { requested: device, provider: chosen.provider, fp16: chosen.fp16 ?? false, tried, summary };
}

/**
 * Whether a CodeFormer graph built from a checkpoint is float16. `auto`: fp16 on CUDA; fp32 on WebGPU and on
 * the CPU. WebGPU stays fp32 under `auto` because the fp16 graph was measured wrong there: on lavapipe (Mesa
 * 25.0.7) its output is up to 6.0 off PyTorch's, where ORT's CPU provider runs the same graph to 0.025
 * (README, GPU); it has not been measured on a GPU's WebGPU yet (scripts/gpu-check.sh does). An explicit
 * `fp16` runs it where the provider runs float16 (WebGPU: the adapter has shader-f16) and otherwise falls
 * back to fp32 with a warning. On the CPU fp16 only on request (casts make it slower than fp32).
 */
export function chooseFp16(resolved: Pick<DeviceResolution, 'provider' | 'fp16' | 'tried'>, precision: Precision, onWarning?: (message: string) => void): boolean {
  if (precision === 'fp32') return false;
  if (resolved.provider === 'cpu') return precision === 'fp16';
  if (resolved.provider === 'webgpu' && precision === 'auto') return false;
  if (resolved.fp16) return true;
  const why = resolved.tried.find((t) => t.provider === resolved.provider)?.fp16Reason ?? `${resolved.provider} does not run float16`;
  onWarning?.(`precision ${precision}: ${why}; using the float32 graph`);
  return false;
}

/** What `facerestore devices` prints: every provider probed, what `auto` picks, and the machine facts the errors name. */
export interface DeviceReport {
  /** Providers the ONNX Runtime package bundles on this platform (CUDA's libraries are an extra download). */
  bundledBackends: string[];
  /** Vulkan ICD manifests in the loader's standard folders (VK_ICD_FILENAMES / VK_DRIVER_FILES override them). */
  vulkanIcds: string[];
  /** What the Vulkan loader looks at: those ICDs, or the VK_DRIVER_FILES / VK_ICD_FILENAMES override and its missing files. */
  vulkanDrivers: string;
  /** Each provider, fastest first: whether it loads, why not, whether it runs float16. */
  providers: Array<Omit<ProbeResult, 'error'>>;
  /** The provider `--device auto` runs on, and the one line it reports. */
  auto: { provider: Provider; summary: string };
}

/** Probes CUDA, WebGPU and the CPU (each loads and runs a 4-element graph with CPU fallback disabled). */
export async function describeDevices(options: ResolveOptions = {}): Promise<DeviceReport> {
  const providers: Array<Omit<ProbeResult, 'error'>> = [];
  for (const p of AUTO_ORDER) {
    const { error: _error, ...rest } = await probeProvider(p, options);
    providers.push(rest);
  }
  const chosen = providers.find((p) => p.ok)!;
  const passed = providers.slice(0, providers.indexOf(chosen)).map((t) => `${t.provider} did not load: ${t.reason}`);
  return {
    bundledBackends: bundledBackends(),
    vulkanIcds: vulkanIcds(),
    vulkanDrivers: describeVulkanDrivers(),
    providers,
    auto: { provider: chosen.provider, summary: `${chosen.provider} (auto)` + (passed.length ? `; ${passed.join('; ')}` : '') },
  };
}
