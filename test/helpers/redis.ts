import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A redis-server a test started (Debian's, from apt), on a free loopback port, with no persistence. */
export interface TestRedis {
  url: string;
  port: number;
  pid: number;
  /** Stops the server (by its pid) and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

const REDIS_SERVER = '/usr/bin/redis-server';

/** A free TCP port on 127.0.0.1 (the kernel picks it; a tiny race with other processes remains). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once a RESP PING on `port` answers PONG (polls up to `timeoutMs`). */
async function waitForPong(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} before answering`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      const done = (v: boolean) => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(500, () => done(false));
      sock.once('error', () => done(false));
      sock.once('connect', () => sock.write('PING\r\n'));
      sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
}

/** Starts `redis-server --port N --save '' --appendonly no --dir <tmp>` on loopback and waits for it. */
export async function startRedis(o: { port?: number } = {}): Promise<TestRedis> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fr-redis-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    // A given port (a restart where clients already point) is tried as it is.
    const port = o.port ?? (await freePort());
    const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await waitForPong(port, child, 10_000);
    } catch (e) {
      lastError = e;
      if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL');
      await exited;
      continue;
    }
    let stopped = false;
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      pid: child.pid!,
      async stop() {
        if (stopped) return;
        stopped = true;
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM');
        await exited;
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`cannot start ${REDIS_SERVER}: ${String(lastError)}`);
}
