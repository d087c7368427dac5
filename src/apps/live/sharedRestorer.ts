import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { PortableOptions } from '../../engine/options.ts';
import { createRestorer } from '../../restore/createRestorer.ts';
import { RestoreService } from '../../restore/restoreService.ts';
import { resolveDevice } from '../../runtime/devices.ts';
import { generateToken } from '../../util/tokens.ts';

/** Whether a live server owns one restorer session for all its streams: `auto` (default) on a GPU device only. */
export type SharedRestorerMode = 'auto' | 'on' | 'off';

/** What the server decided, and why (for its log). */
export interface SharedRestorerChoice {
  service: RestoreService | undefined;
  /** The service's token (generated; the server's peers get it on stdin), with `service`. */
  token?: string;
  reason: string;
}

/**
 * Starts the server's restore service when it applies: an `onnx` restorer (a model) and, under `auto`, a device
 * that resolves to WebGPU or CUDA (one GPU session and cross-stream batches beat one session per stream there;
 * on the CPU each peer process keeps its own session, as before: the cores are the limit, not memory). `on`
 * forces it (any device, e.g. to test it on the CPU); `off` never. The socket lives in the temp folder; its token is generated.
 */
export async function startSharedRestorer(
  pipeline: PortableOptions,
  o: { mode: SharedRestorerMode; cacheDir: string; budgetMs?: number; onInfo?: (m: string) => void; onWarning?: (m: string) => void },
): Promise<SharedRestorerChoice> {
  const kind = pipeline.restorer ?? (pipeline.model ? 'onnx' : 'classic');
  if (o.mode === 'off') return { service: undefined, reason: 'shared restorer off' };
  if (kind !== 'onnx' || !pipeline.model) return { service: undefined, reason: `restorer ${kind} runs in each restore peer` };
  const resolved = await resolveDevice(pipeline.device, { onInfo: o.onInfo, onWarning: o.onWarning });
  if (o.mode === 'auto' && resolved.provider === 'cpu') return { service: undefined, reason: 'device cpu: each restore peer loads its own session' };
  const restorer = await createRestorer({
    kind: 'onnx', model: pipeline.model, batch: pipeline.batch, cacheDir: o.cacheDir, precision: pipeline.precision, resolved,
    device: resolved.provider, intraOpThreads: pipeline.threads, threadSpinning: false, onInfo: o.onInfo, onWarning: o.onWarning,
  });
  if (!restorer) return { service: undefined, reason: 'no restorer' };
  const socket = path.join(os.tmpdir(), `facerestore-restore-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
  const token = generateToken();
  const service = await RestoreService.start({ listen: `unix:${socket}`, token, restorer, budgetMs: o.budgetMs, onError: o.onWarning });
  return { service, token, reason: `one ${resolved.provider} session for every stream (${service.name}) at ${socket}` };
}
