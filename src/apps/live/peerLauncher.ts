import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { silentLogger, type LiveLogger } from './logger.ts';
import type { RestorePeerConfigInput } from './peerConfig.ts';
import { siblingModule } from '../../util/siblingModule.ts';

/** Entry script of a restore peer process. */
const PEER_MAIN = fileURLToPath(siblingModule('restorePeerMain', import.meta.url));

/** A restore peer process the server started. */
export interface LaunchedPeer {
  readonly id: string;
  readonly pid: number | undefined;
  readonly room: string;
  readonly exited: Promise<void>;
}

/**
 * Starts restore peers as child processes of the server (one per camera stream) and makes sure none
 * outlives it: each child reads its config from stdin and exits when stdin closes, and `closeAll()`
 * signals and waits for every child (SIGKILL after a grace period).
 */
export class PeerLauncher {
  readonly #log: LiveLogger;
  readonly #children = new Map<string, { child: ChildProcess; peer: LaunchedPeer }>();
  #next = 0;
  #closed = false;

  constructor(log: LiveLogger = silentLogger) {
    this.#log = log;
  }

  get count(): number {
    return this.#children.size;
  }

  /** PIDs of the running children. */
  pids(): number[] {
    return [...this.#children.values()].map((c) => c.child.pid).filter((p): p is number => p !== undefined);
  }

  /** Starts one restore peer process with `config` (written to its stdin). */
  launch(config: RestorePeerConfigInput): LaunchedPeer {
    if (this.#closed) throw new Error('launcher is closed');
    const id = `peer-${process.pid}-${++this.#next}`;
    // process.execArgv would carry a test runner's loaders; the peer needs plain Node (type stripping).
    const child = spawn(process.execPath, [PEER_MAIN], { stdio: ['pipe', 'ignore', 'pipe'] });
    child.stdin!.on('error', () => undefined);
    child.stdin!.write(JSON.stringify({ ...config, name: id }) + '\n');
    // The child logs JSON lines on stderr; they are re-logged here with the peer's id.
    let tail = '';
    let partial = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      tail = (tail + s).slice(-4000);
      partial += s;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        this.#relay(id, partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
      if (partial.length > 16_000) partial = '';
    });
    const exited = new Promise<void>((resolve) => {
      child.once('close', (code, signal) => {
        this.#children.delete(id);
        if (code !== 0 && !this.#closed) this.#log.warn({ peer: id, code, signal, stderr: tail.trim().split('\n').slice(-5).join(' | ') }, 'restore peer exited');
        else this.#log.info({ peer: id, code, signal }, 'restore peer exited');
        resolve();
      });
    });
    child.once('error', (e) => this.#log.error({ peer: id, err: e.message }, 'cannot start restore peer'));
    const peer: LaunchedPeer = { id, pid: child.pid, room: config.room, exited };
    this.#children.set(id, { child, peer });
    this.#log.info({ peer: id, pid: child.pid, room: config.room }, 'restore peer started');
    return peer;
  }

  #relay(id: string, line: string): void {
    if (!line.trim()) return;
    try {
      const { level, msg, time: _t, ...rest } = JSON.parse(line) as Record<string, unknown>;
      const fn = level === 'error' ? this.#log.error : level === 'warn' ? this.#log.warn : level === 'info' ? this.#log.info : this.#log.debug;
      fn.call(this.#log, { peer: id, ...rest }, String(msg));
    } catch {
      this.#log.warn({ peer: id, line: line.slice(0, 500) }, 'restore peer output');
    }
  }

  /** Stops one peer: closes its stdin (it exits), SIGKILL after `graceMs`. */
  async stop(id: string, graceMs = 3000): Promise<void> {
    const c = this.#children.get(id);
    if (!c) return;
    c.child.stdin!.end();
    const timer = setTimeout(() => c.child.kill('SIGKILL'), graceMs);
    await c.peer.exited;
    clearTimeout(timer);
  }

  /** Stops every peer and waits for them. Idempotent. */
  async closeAll(graceMs = 3000): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#children.keys()].map((id) => this.stop(id, graceMs)));
  }
}
