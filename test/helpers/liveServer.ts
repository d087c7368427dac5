import { readEnvironment } from '../../src/config/env.ts';
import { LiveServer, type LiveServerOptions } from '../../src/apps/live/server.ts';
import { resolveWorkerBin } from '../../src/apps/live/sfu.ts';

/** Starts a LiveServer on a free loopback port with the set-up's mediasoup worker. */
export async function startLiveServer(options: Partial<LiveServerOptions> = {}): Promise<LiveServer> {
  const env = readEnvironment();
  return LiveServer.create({
    host: '127.0.0.1',
    port: 0,
    workerBin: resolveWorkerBin(env.mediasoupWorkerBin, env.cacheDir),
    cacheDir: env.cacheDir,
    ...options,
  });
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** True while a process exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
