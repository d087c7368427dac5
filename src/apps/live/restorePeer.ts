import type { types as msc } from 'mediasoup-client';
import type { LocalSettingsInput } from '../../engine/options.ts';
import { FaceRestoreError } from '../../errors.ts';
import { WebRtcSink } from '../../stream/webrtcSink.ts';
import { LiveRestorer } from './liveRestorer.ts';
import { silentLogger, type LiveLogger } from './logger.ts';
import { restorePeerConfigSchema, type RestorePeerConfig, type RestorePeerConfigInput } from './peerConfig.ts';
import type { ConsumeData, JoinedData, TransportData } from './protocol.ts';
import { RtcDelayMeter, type RtcDelays } from './rtcStats.ts';
import { SignalingClient, type ServerEvent } from './signalingClient.ts';
import { createWrtcDevice, loadWrtc } from './wrtcDevice.ts';

/** How often a restore peer reports faces and counters to the room, ms. */
const STATS_INTERVAL_MS = 250;
/** Its WebRTC delays are read every this many reports. */
const RTC_STATS_EVERY = 4;
/**
 * Bitrate ceiling of the restored track, bit/s: libwebrtc's own default for 720p VP8, which looks clean. A
 * higher cap costs latency, since bigger frames spend longer in the pacer and in assembly: at 4 Mbit/s the
 * 720p round trip was ~25 ms longer (bench/live-latency.ts, both the live path and the bare loop).
 */
export const MAX_BITRATE = 2_500_000;
/**
 * Where the send-side bandwidth estimate of the restored track starts, kbit/s. The restore peer sends over
 * the server's own network (loopback or a LAN), so it can start high. It must: mediasoup answers with
 * transport-cc feedback only once the producer exists, so libwebrtc's initial probes go unanswered and the
 * estimate would creep up from its start at ~8 %/s. Measured at 640×480 with a 1.5 Mbit/s start: the
 * estimate sat near 2 Mbit/s, wrtc's pacer held each packet 20 ms and Chromium's jitter buffer 44 ms; with
 * this start (libwebrtc clamps it to 8 Mbit/s), 10 ms and 20 ms. GoogCC still backs off on a slower link.
 */
export const START_BITRATE_KBPS = 8000;
/**
 * The restored track's video source: a camera picture (not a screencast), without libvpx's temporal denoiser,
 * which libwebrtc turns on for VP8 when the source does not say. The frames come from a decoder (the camera's
 * noise already went through the publisher's encoder) and the classic restorer has just denoised and
 * sharpened the face, so the denoiser only costs CPU and smooths detail away. Measured: the restore peer's
 * encoder thread at 1280×720 took 10.3–10.8 → 7.3–7.5 ms per frame sent (interleaved live-bench runs); libvpx
 * realtime at 2.5 Mbit/s on the bench clip (720p, `-noise-sensitivity` 1 → 0): 1.15 → 0.88 s of CPU, PSNR
 * against its input 47.2 → 48.7 dB (docs/live.md).
 */
export const VIDEO_SOURCE_INIT = Object.freeze({ isScreencast: false, needsDenoising: false });

/** One restore job: a camera producer in, its restored track out. */
interface Job {
  producerId: string;
  recv: msc.Transport;
  send: msc.Transport;
  consumer: msc.Consumer | undefined;
  producer: msc.Producer | undefined;
  /** Decoded camera frames in (wrtc's RTCVideoSink). */
  input: { stop(): void; onframe: ((e: { frame: { width: number; height: number; data: Uint8Array } }) => void) | null } | undefined;
  /** Restored frames out. */
  output: WebRtcSink | undefined;
  statsTimer: NodeJS.Timeout | undefined;
  closed: boolean;
}

/**
 * A restore peer: a WebRTC peer of the room (mediasoup-client on @roamhq/wrtc) that consumes the camera
 * producer it is assigned, restores its frames (LiveRestorer: worker thread, latency budget) and produces
 * the result as a `restored` producer. It talks to the server only through signaling, so it runs anywhere
 * that can reach the server: a child process of the server (default), or other machines
 * (`facerestore serve --connect <ws-url>`), which is how restoration scales out.
 */
export class RestorePeer {
  readonly config: RestorePeerConfig;
  /** Resolves when the peer has stopped (closed, disconnected, or idle with exitWhenIdle). */
  readonly done: Promise<void>;
  readonly #log: LiveLogger;
  readonly #client: SignalingClient;
  readonly #device: msc.Device;
  readonly #restorer: LiveRestorer;
  #job: Job | undefined;
  /** Origin of the frames' pts, ms (performance.now()). */
  readonly #t0 = performance.now();
  #resolveDone!: () => void;
  #closing: Promise<void> | undefined;
  /** With exitWhenIdle: ends a peer that nobody assigned a job (its room's camera left before it joined). */
  #idleTimer: NodeJS.Timeout | undefined;

  private constructor(config: RestorePeerConfig, client: SignalingClient, device: msc.Device, restorer: LiveRestorer, log: LiveLogger) {
    this.config = config;
    this.#client = client;
    this.#device = device;
    this.#restorer = restorer;
    this.#log = log;
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    client.on('event', (e) => this.#onEvent(e));
    // The promise, not the event: the socket may have closed before this constructor ran.
    void client.closed.then(() => this.close());
    restorer.on('frame', (frame) => this.#job?.output?.write(frame));
  }

  /**
   * Loads the restorer, connects, joins the room and waits for assignments. `local` is this machine's
   * settings (cache folder for built models); the config's pipeline options say what to run. A config
   * that does not validate is E_CONFIG.
   */
  static async start(input: RestorePeerConfigInput, local: LocalSettingsInput, log: LiveLogger = silentLogger): Promise<RestorePeer> {
    const parsed = restorePeerConfigSchema.safeParse(input);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
      throw new FaceRestoreError('E_CONFIG', `invalid restore peer config: ${problems}`);
    }
    const config = parsed.data;
    const onListenerError = (event: string, e: unknown) => log.error({ event, err: (e as Error)?.message }, 'restore peer listener failed');
    const restorer = await LiveRestorer.create({
      pipeline: config.pipeline,
      // Live: while the service is unreachable frames pass through (waitMs 0) rather than queue behind the outage.
      local: config.restoreService ? { ...local, restoreService: config.restoreService, restoreServiceToken: config.restoreServiceToken, restoreServiceWaitMs: 0 } : local,
      budgetMs: config.latencyBudgetMs,
      detectEvery: config.detectEvery,
      refineEvery: config.refineEvery,
      onMiss: config.onMiss,
      passthroughMarker: config.passthroughMarker,
      onListenerError,
    });
    restorer.on('failed', (e) => log.error({ code: e.code, err: e.message }, 'restore worker failed; passing frames through'));
    restorer.on('framefailed', (index, e) => log.debug({ index, code: e.code, err: e.message }, 'frame not restored'));
    let client: SignalingClient | undefined;
    try {
      client = await SignalingClient.connect(config.url, { insecureTls: config.insecureTls, onListenerError });
      // Events (an `assign` right after joining) are held until the peer exists.
      const early: ServerEvent[] = [];
      const hold = (e: ServerEvent) => early.push(e);
      client.on('event', hold);
      const joined = await client.request<JoinedData>({ type: 'join', room: config.room, token: config.peerToken, role: 'restorer', name: config.name });
      const device = createWrtcDevice();
      await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities as msc.RtpCapabilities });
      client.off('event', hold);
      const peer = new RestorePeer(config, client, device, restorer, log);
      for (const e of early) peer.#onEvent(e);
      if (config.exitWhenIdle) peer.#exitUnlessAssignedWithin(config.idleExitMs);
      log.info({ room: config.room, restorer: restorer.restorerName, detector: restorer.detectorName }, 'restore peer ready');
      return peer;
    } catch (e) {
      await client?.close();
      await restorer.close();
      throw e;
    }
  }

  /** The camera producer being restored, if any. */
  get producerId(): string | undefined {
    return this.#job?.producerId;
  }

  /** Leaves the room and releases everything. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#idleTimer);
      if (this.#job) this.#endJob(this.#job);
      await this.#client.close();
      await this.#restorer.close();
      this.#resolveDone();
    })();
    return this.#closing;
  }

  #exitUnlessAssignedWithin(ms: number): void {
    this.#idleTimer = setTimeout(() => {
      if (this.#job || this.#closing) return;
      this.#log.info({ room: this.config.room, idleExitMs: ms }, 'no camera to restore; restore peer exits');
      void this.close();
    }, ms);
  }

  #onEvent(e: ServerEvent): void {
    switch (e.type) {
      case 'assign':
        if (this.#job) {
          this.#log.warn({ producerId: e.producerId }, 'assigned while busy; ignored');
          return;
        }
        clearTimeout(this.#idleTimer);
        this.#startJob(e.producerId).catch((err: Error) => {
          this.#log.error({ producerId: e.producerId, err: err.message }, 'restore job failed');
          if (this.#job) this.#endJob(this.#job);
          void this.close();
        });
        return;
      case 'unassign':
        if (this.#job?.producerId === e.producerId) {
          this.#endJob(this.#job);
          if (this.config.exitWhenIdle) void this.close();
        }
        return;
      case 'fidelity':
        if (this.#job?.producerId === e.producerId) this.#restorer.setFidelity(e.trackId, e.w);
        return;
      case 'error':
        this.#log.warn({ code: e.code, message: e.message }, 'server error');
        return;
      default:
        return;
    }
  }

  async #startJob(producerId: string): Promise<void> {
    const c = this.#client;
    const wrtc = loadWrtc();
    const recv = this.#transport(await c.request<TransportData>({ type: 'createTransport', direction: 'recv' }), 'recv');
    const send = this.#transport(await c.request<TransportData>({ type: 'createTransport', direction: 'send' }), 'send');
    const job: Job = { producerId, recv, send, consumer: undefined, producer: undefined, input: undefined, output: undefined, statsTimer: undefined, closed: false };
    this.#job = job;
    send.on('produce', ({ kind, rtpParameters }, callback, errback) => {
      c.request<{ id: string }>({ type: 'produce', transportId: send.id, kind, rtpParameters: rtpParameters as never, source: 'restored', sourceProducerId: producerId }).then(callback, errback);
    });

    // Restored track out: a wrtc video source fed by the LiveRestorer.
    const output = new WebRtcSink(new wrtc.nonstandard.RTCVideoSource({ ...VIDEO_SOURCE_INIT }), (e) => this.#log.warn({ err: e.message }, 'cannot send frame'));
    job.output = output;
    job.producer = await send.produce({
      track: output.track,
      encodings: [{ maxBitrate: MAX_BITRATE }],
      codecOptions: { videoGoogleStartBitrate: START_BITRATE_KBPS },
      appData: { source: 'restored' },
    });
    // Keep the published resolution: prefer lower frame rate over downscaling under load.
    await setMaintainResolution(job.producer.rtpSender);

    // Camera track in.
    const data = await c.request<ConsumeData>({ type: 'consume', transportId: recv.id, producerId, rtpCapabilities: this.#device.recvRtpCapabilities as never });
    job.consumer = await recv.consume({ id: data.id, producerId: data.producerId, kind: data.kind, rtpParameters: data.rtpParameters as msc.RtpParameters });
    const input = new wrtc.nonstandard.RTCVideoSink(job.consumer.track as never) as unknown as NonNullable<Job['input']>;
    job.input = input;
    // wrtc's frames carry no timestamp: the receive time is their pts, counted from the peer's start so
    // that it keeps growing across jobs (a frame of the last job may still leave after the next began).
    input.onframe = ({ frame }) => {
      if (!job.closed) this.#restorer.push({ width: frame.width, height: frame.height, data: frame.data, pts: (performance.now() - this.#t0) / 1000 });
    };
    await c.request({ type: 'resumeConsumer', consumerId: data.id });
    if (job.closed) return;
    const meter = new RtcDelayMeter();
    let rtc: RtcDelays | undefined;
    let ticks = 0;
    job.statsTimer = setInterval(() => {
      if (job.closed) return;
      // WebRTC's own delays change slowly and getStats is not free: once a second.
      if (ticks++ % RTC_STATS_EVERY === 0) {
        Promise.all([recv.getStats(), send.getStats()]).then((reports) => (rtc = meter.update(...reports)), () => undefined);
      }
      const stats = { ...this.#restorer.stats(), ...(rtc ? { rtc } : {}) };
      c.request({ type: 'restoreStats', producerId, stats, faces: this.#restorer.faces }).catch(() => undefined);
    }, STATS_INTERVAL_MS);
    this.#log.info({ producerId }, 'restoring');
  }

  #transport(t: TransportData, direction: 'send' | 'recv'): msc.Transport {
    const opts = { id: t.id, iceParameters: t.iceParameters as msc.IceParameters, iceCandidates: t.iceCandidates as msc.IceCandidate[], dtlsParameters: t.dtlsParameters as msc.DtlsParameters };
    const transport = direction === 'send' ? this.#device.createSendTransport(opts) : this.#device.createRecvTransport(opts);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.#client.request({ type: 'connectTransport', transportId: transport.id, dtlsParameters: dtlsParameters as never }).then(() => callback(), errback);
    });
    transport.on('connectionstatechange', (state) => {
      if (state === 'failed') this.#log.warn({ transportId: transport.id, direction }, 'transport failed');
    });
    return transport;
  }

  #endJob(job: Job): void {
    if (job.closed) return;
    job.closed = true;
    if (this.#job === job) this.#job = undefined;
    if (job.statsTimer) clearInterval(job.statsTimer);
    job.input?.stop();
    job.consumer?.close();
    job.producer?.close();
    job.output?.close();
    job.recv.close();
    job.send.close();
    this.#log.info({ producerId: job.producerId }, 'restore job ended');
  }
}

/** Sets degradationPreference 'maintain-resolution' on a sender when the implementation supports it. */
async function setMaintainResolution(sender: RTCRtpSender | undefined): Promise<void> {
  if (!sender) return;
  try {
    const params = sender.getParameters();
    (params as RTCRtpSendParameters & { degradationPreference?: string }).degradationPreference = 'maintain-resolution';
    await sender.setParameters(params);
  } catch {
    // wrtc builds without it keep the default (balanced).
  }
}
