import { randomUUID } from 'node:crypto';
import type { LocalSettingsInput } from '../../engine/options.ts';
import { silentLogger, type LiveLogger } from './logger.ts';
import type { RestorePeerConfigInput } from './peerConfig.ts';
import { PeerLauncher } from './peerLauncher.ts';

/** How restore peers come to a room. */
export type RestorePeerMode =
  /** The server starts one child process per camera stream (default). */
  | 'spawn'
  /** Restore peers run inside the server process (one worker thread each; for development). */
  | 'inline'
  /** The server starts none: peers started elsewhere (`facerestore serve --connect`) join and are assigned. */
  | 'external';

/** Options of the provisioner. */
export interface PeerProvisionerOptions {
  mode: RestorePeerMode;
  /** Most restore peers running at once (each is CPU-bound). */
  maxPeers: number;
  /** What every peer it starts gets, less the room and the signaling URL (added per peer). */
  config: Omit<RestorePeerConfigInput, 'room' | 'url'>;
  /** The server's signaling URL (known once it listens). */
  signalingUrl: () => string;
  /** This machine's settings for inline peers (spawned ones read their own environment). */
  local: LocalSettingsInput;
  logger?: LiveLogger;
}

/** Spawn attempts per camera stream: a peer that keeps crashing on a stream is not restarted forever. */
const MAX_ATTEMPTS = 2;

/**
 * Starts a restore peer when a room's camera stream has none: a child process (`spawn`, through
 * PeerLauncher), a peer in this process (`inline`), or nothing (`external`: peers join by themselves).
 * A started peer joins the room like any restorer and is assigned the waiting stream there; a spawned
 * peer exits by itself when its stream ends (exitWhenIdle). `close()` stops every peer it started and
 * waits for them.
 */
export class PeerProvisioner {
  readonly #o: PeerProvisionerOptions;
  readonly #log: LiveLogger;
  readonly #launcher: PeerLauncher;
  readonly #inline = new Set<{ close(): Promise<void> }>();
  readonly #attempts = new Map<string, number>();
  #closing: Promise<void> | undefined;

  constructor(o: PeerProvisionerOptions) {
    this.#o = o;
    this.#log = o.logger ?? silentLogger;
    this.#launcher = new PeerLauncher(this.#log);
  }

  /** PIDs of the peer processes it runs. */
  pids(): number[] {
    return this.#launcher.pids();
  }

  /** Inline peers running. */
  get inlineCount(): number {
    return this.#inline.size;
  }

  /** A camera stream of `room` needs a restorer. */
  provide(room: string, producerId: string): void {
    const mode = this.#o.mode;
    if (this.#closing || mode === 'external') return;
    const attempts = this.#attempts.get(producerId) ?? 0;
    if (attempts >= MAX_ATTEMPTS) {
      this.#log.error({ room, producerId }, 'restore peer failed twice for this stream; not restarting it');
      return;
    }
    const running = this.#launcher.count + this.#inline.size;
    if (running >= this.#o.maxPeers) {
      this.#log.warn({ room, producerId, running }, 'no restore peer free; the stream waits');
      return;
    }
    this.#attempts.set(producerId, attempts + 1);
    const config: RestorePeerConfigInput = { ...this.#o.config, url: this.#o.signalingUrl(), room };
    if (mode === 'spawn') {
      this.#launcher.launch(config);
      return;
    }
    void this.#startInline(config).catch((e: Error) => this.#log.error({ err: e.message }, 'inline restore peer failed'));
  }

  /** Stops every peer it started. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#inline].map((p) => p.close().catch(() => undefined)));
      await this.#launcher.closeAll();
    })();
    return this.#closing;
  }

  async #startInline(config: RestorePeerConfigInput): Promise<void> {
    // Loaded on demand: it loads @roamhq/wrtc, which spawn and external servers never need.
    const { RestorePeer } = await import('./restorePeer.ts');
    const peer = await RestorePeer.start({ ...config, name: `inline-${randomUUID().slice(0, 8)}` }, this.#o.local, this.#log);
    if (this.#closing) {
      await peer.close();
      return;
    }
    this.#inline.add(peer);
    await peer.done;
    this.#inline.delete(peer);
  }
}
