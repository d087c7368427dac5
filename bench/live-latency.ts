/**
 * Round-trip latency of live restoration, measured end to end in headless Chromium.
 *
 *   node bench/live-latency.ts [--seconds 8] [--warmup 3] [--repeats 5] [--sizes 640x480,1280x720]
 *                              [--modes bare,passthrough,classic] [--budget 120] [--unthrottled]
 *
 * The fake webcam is a clip of ../shared/footage/retalk_1.mp4 with a 12-bit frame counter burned into its
 * bottom-left corner. The page reads the counter from every frame the original <video> (local camera) and
 * the returned <video> present (requestVideoFrameCallback); a frame's round trip is the time between the
 * two presentations of the same counter value. Modes:
 *   bare         Chromium ⇄ one @roamhq/wrtc RTCPeerConnection that sends every decoded frame straight back
 *                (no SFU, no restore peer): the floor the live path is compared with;
 *   passthrough  the full live path (mediasoup SFU, restore peer process) with restorer `none`;
 *   classic      the full live path with the classic restorer (detection every 2nd frame, latency budget).
 *
 * Each run starts a fresh browser; runs are interleaved (every mode once, then again) so a drift of the
 * machine's load hits all modes alike, and percentiles are over the pooled samples of all runs of a mode.
 * Pooling matters: presentation times snap to the 60 Hz compositor's 16.7 ms steps and the camera's phase
 * against them is fixed for a run, so a run's p50 moved by up to 30 ms between otherwise identical runs.
 * `--unthrottled` composites without vsync or a frame-rate limit (less of that snapping, but the compositor
 * then took ~20 % more of a core, which at 1280×720 on 2 cores moved every mode's latency).
 * Each run also reports where the time goes, from WebRTC stats (means over the measured window): the
 * publisher's encoder and pacer, the middle hop (the restore peer, or the bare loop's wrtc peer: receive
 * jitter buffer, decode, encode, pacer, uplink estimate) and the returned track's jitter buffer, assembly
 * and decode in the page.
 * And what the viewer gets, in frames per second over the measured window (`rates`): the camera's frames
 * (a 30 fps clip) as the page presents them, the returned frames the viewer is shown, and for the live
 * modes the restore peer's split of the frames it received under the latency budget (`--budget`, ms,
 * default 120): restored, passed through unrestored (marked), dropped; and the restore worker's
 * milliseconds per frame by part (`stagesMs`: detect, convert, refine, warp, restore, paste, total).
 * Prints one JSON document on stdout (progress on stderr).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { readEnvironment } from '../src/config/env.ts';
import { RtcDelayMeter, type RtcDelays, type StatsReport } from '../src/apps/live/rtcStats.ts';
import { MAX_BITRATE, START_BITRATE_KBPS, VIDEO_SOURCE_INIT } from '../src/apps/live/restorePeer.ts';
import { LiveServer } from '../src/apps/live/server.ts';
import { resolveWorkerBin } from '../src/apps/live/sfu.ts';
import { loadWrtc } from '../src/apps/live/wrtcDevice.ts';
import { COUNTER_BITS, counterBlock, launchChromium, makeY4m } from '../test/helpers/liveBrowser.ts';
import { shared } from '../test/helpers/paths.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    repeats: { type: 'string', default: '5' },
    unthrottled: { type: 'boolean', default: false },
    warmup: { type: 'string', default: '3' },
    sizes: { type: 'string', default: '640x480,1280x720' },
    modes: { type: 'string', default: 'bare,passthrough,classic' },
    budget: { type: 'string', default: '120' },
  },
});
const log = (s: string) => process.stderr.write(`[live-latency] ${s}\n`);
type Mode = 'bare' | 'passthrough' | 'classic';

/** Installed in the page: counts presentations of both videos and pairs counter values. */
function installMeter(opts: { block: number; bits: number }): void {
  const w = window as unknown as { __meter: { samples: number[]; shown: number; sent: number; unreadable: number; width: number; height: number; reset(): void } };
  const seen = new Map<number, number>();
  const meter = { samples: [] as number[], shown: 0, sent: 0, unreadable: 0, width: 0, height: 0, reset() { this.samples = []; this.shown = 0; this.sent = 0; this.unreadable = 0; } };
  w.__meter = meter;
  const canvas = document.createElement('canvas');
  const g = canvas.getContext('2d', { willReadFrequently: true })!;
  const read = (v: HTMLVideoElement): number | undefined => {
    const b = opts.block;
    const h = v.videoHeight;
    if (!h) return undefined;
    const sw = (opts.bits + 1) * b;
    const sh = 3 * b;
    canvas.width = sw;
    canvas.height = sh;
    g.drawImage(v, 0, h - sh, sw, sh, 0, 0, sw, sh);
    const d = g.getImageData(0, 0, sw, sh).data;
    let code = 0;
    for (let k = 0; k < opts.bits; k++) {
      const x = Math.round(k * b + b / 2 + b / 2);
      const y = Math.round(b + b / 2);
      const i = (y * sw + x) * 4;
      const l = 0.299 * d[i]! + 0.587 * d[i + 1]! + 0.114 * d[i + 2]!;
      if (l > 128) code |= 1 << k;
      else if (l > 60 && l <= 128) return undefined; // blurred edge: not a clean read
    }
    return code;
  };
  const original = document.getElementById('original') as HTMLVideoElement;
  const returned = document.getElementById('restored') as HTMLVideoElement;
  const onOriginal = (_now: number, m: VideoFrameCallbackMetadata) => {
    meter.sent++;
    const c = read(original);
    if (c !== undefined) seen.set(c, m.presentationTime);
    original.requestVideoFrameCallback(onOriginal);
  };
  const onReturned = (_now: number, m: VideoFrameCallbackMetadata) => {
    meter.shown++;
    meter.width = returned.videoWidth;
    meter.height = returned.videoHeight;
    const c = read(returned);
    const t0 = c === undefined ? undefined : seen.get(c);
    if (t0 !== undefined && m.presentationTime - t0 >= 0 && m.presentationTime - t0 < 2000) meter.samples.push(m.presentationTime - t0);
    else meter.unreadable++;
    returned.requestVideoFrameCallback(onReturned);
  };
  original.requestVideoFrameCallback(onOriginal);
  returned.requestVideoFrameCallback(onReturned);
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
}

/** Bare loop: the page offers a sendrecv video transceiver; Node answers and echoes decoded frames. */
async function startBare(page: Page, width: number, height: number): Promise<{ stop(): void; stats(): Promise<StatsReport> }> {
  const wrtc = loadWrtc();
  const pc = new wrtc.RTCPeerConnection();
  // The restore peer's source settings (no encoder denoiser), so the bare loop's sender is tuned the same.
  const source = new wrtc.nonstandard.RTCVideoSource({ ...VIDEO_SOURCE_INIT });
  const track = source.createTrack();
  type Sink = { stop(): void; onframe: ((e: { frame: { width: number; height: number; data: Uint8Array } }) => void) | null };
  let sink: Sink | undefined;
  pc.ontrack = (e: RTCTrackEvent) => {
    const s = new wrtc.nonstandard.RTCVideoSink(e.track as never) as unknown as Sink;
    s.onframe = ({ frame }) => source.onFrame(frame);
    sink = s;
  };
  const offer: string = await page.evaluate(async ({ width, height }) => {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 30 } } });
    (document.getElementById('original') as HTMLVideoElement).srcObject = stream;
    const pc = new RTCPeerConnection();
    (window as unknown as { __pc: RTCPeerConnection }).__pc = pc;
    const t = stream.getVideoTracks()[0]!;
    t.contentHint = 'detail';
    const tr = pc.addTransceiver(t, { direction: 'sendrecv', sendEncodings: [{ maxBitrate: 4_000_000 }] });
    const p = tr.sender.getParameters();
    p.degradationPreference = 'maintain-resolution';
    await tr.sender.setParameters(p).catch(() => undefined);
    pc.ontrack = (e) => {
      // As the live page does for its restored track (src/apps/live/web/app.js).
      if ('jitterBufferTarget' in e.receiver) (e.receiver as RTCRtpReceiver & { jitterBufferTarget: number }).jitterBufferTarget = 0;
      (document.getElementById('restored') as HTMLVideoElement).srcObject = new MediaStream([e.track]);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise<void>((r) => (pc.iceGatheringState === 'complete' ? r() : pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r())));
    return pc.localDescription!.sdp;
  }, { width, height });
  // wrtc's sender gets the restore peer's settings (start estimate, bitrate cap), so the difference between
  // this loop and the live path is the SFU hops and the restore peer, not sender tuning.
  await pc.setRemoteDescription({ type: 'offer', sdp: withStartBitrate(offer, START_BITRATE_KBPS) });
  const tr = pc.getTransceivers()[0]!;
  await tr.sender.replaceTrack(track as never);
  const sp = tr.sender.getParameters();
  if (sp.encodings?.[0]) {
    sp.encodings[0].maxBitrate = MAX_BITRATE;
    await tr.sender.setParameters(sp);
  }
  tr.direction = 'sendrecv';
  await pc.setLocalDescription(await pc.createAnswer());
  await new Promise<void>((r) => (pc.iceGatheringState === 'complete' ? r() : (pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r())));
  const answer = withStartBitrate(pc.localDescription!.sdp, CAMERA_START_BITRATE_KBPS);
  await page.evaluate(async (sdp) => {
    await (window as unknown as { __pc: RTCPeerConnection }).__pc.setRemoteDescription({ type: 'answer', sdp });
  }, answer);
  return {
    stop: () => {
      sink?.stop();
      track.stop();
      pc.close();
    },
    stats: () => pc.getStats() as Promise<StatsReport>,
  };
}

/** The page's camera starts its estimate here (src/apps/live/web/app.js), kbit/s. */
const CAMERA_START_BITRATE_KBPS = 1500;

/** Adds x-google-start-bitrate to every VP8 payload type (what mediasoup-client's codecOptions do). */
function withStartBitrate(sdp: string, kbps: number): string {
  const pts = [...sdp.matchAll(/a=rtpmap:(\d+) VP8\/90000/g)].map((m) => m[1]!);
  let out = sdp;
  for (const pt of pts) {
    const fmtp = new RegExp(`a=fmtp:${pt} ([^\\r\\n]*)`);
    out = fmtp.test(out)
      ? out.replace(fmtp, `a=fmtp:${pt} $1;x-google-start-bitrate=${kbps}`)
      : out.replace(`a=rtpmap:${pt} VP8/90000`, `a=rtpmap:${pt} VP8/90000\r\na=fmtp:${pt} x-google-start-bitrate=${kbps}`);
  }
  return out;
}

/** Installed before the page's scripts: keeps every RTCPeerConnection it makes, for getStats. */
function keepPeerConnections(): void {
  const Native = window.RTCPeerConnection;
  const all: RTCPeerConnection[] = [];
  (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = all;
  const Kept = function (this: unknown, ...a: ConstructorParameters<typeof RTCPeerConnection>) {
    const pc = new Native(...a);
    all.push(pc);
    return pc;
  } as unknown as typeof RTCPeerConnection;
  Kept.prototype = Native.prototype;
  Object.assign(Kept, Native);
  window.RTCPeerConnection = Kept;
}

/** The page's WebRTC stats (all its peer connections) as plain objects. */
async function pageStats(page: Page): Promise<StatsReport> {
  const list = await page.evaluate(async () => {
    const out: unknown[] = [];
    for (const pc of (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs) {
      if (pc.connectionState !== 'closed') for (const s of (await pc.getStats()).values()) out.push({ ...s });
    }
    return out;
  });
  return { values: () => list };
}

interface Breakdown {
  /** The publishing page: encode and pacer. */
  publisher: Pick<RtcDelays, 'encodeMs' | 'pacerMs'>;
  /** The middle hop: the restore peer, or the bare loop's wrtc peer. */
  middle: RtcDelays;
  /** The returned track in the page: jitter buffer (with assembly) and decode. */
  returned: Pick<RtcDelays, 'jitterBufferMs' | 'assemblyMs' | 'decodeMs'>;
}

/** The restore peer's running totals (RestoreStats, src/apps/live/protocol.ts) as the page last received them. */
interface PeerCounters {
  framesIn: number;
  restored: number;
  passedThrough: number;
  dropped: number;
  /** Restore-worker time by part, summed (RestoreStats.stagesMs). */
  stagesMs?: Record<StagePart | 'frames', number>;
  /** When the page read them (performance.now() of this process), ms. */
  at: number;
}

const STAGE_PARTS = ['detect', 'convert', 'refine', 'warp', 'restore', 'paste', 'total'] as const;
type StagePart = (typeof STAGE_PARTS)[number];

async function peerCounters(page: Page): Promise<PeerCounters | undefined> {
  const s = await page.evaluate(() => (window as unknown as { __live: { restoreStats?: Record<string, unknown> } }).__live.restoreStats);
  if (!s) return undefined;
  const n = (k: string) => s[k] as number;
  const stagesMs = s.stagesMs as PeerCounters['stagesMs'];
  return { framesIn: n('framesIn'), restored: n('restored'), passedThrough: n('passedThrough'), dropped: n('dropped'), ...(stagesMs ? { stagesMs } : {}), at: performance.now() };
}

/**
 * Restore-worker milliseconds per frame by part over the measured window (the difference of the peer's
 * running sums at its ends over the frames the worker finished in between): detect (the face detector;
 * convert is the CPU of building its input from the I420 planes, part of detect), refine (68-point net),
 * warp, restore, paste, total (the whole frame in the worker). Per frame the worker handled, not per frame
 * restored: detection runs every 2nd frame and refinement on every 3rd detection, so those are averages.
 */
function stagesPerFrame(before: PeerCounters | undefined, after: PeerCounters | undefined): (Record<StagePart, number> & { frames: number }) | undefined {
  const a = before?.stagesMs;
  const b = after?.stagesMs;
  if (!a || !b || b.frames <= a.frames) return undefined;
  const frames = b.frames - a.frames;
  const out = { frames } as Record<StagePart, number> & { frames: number };
  for (const k of STAGE_PARTS) out[k] = Math.round(((b[k] - a[k]) / frames) * 100) / 100;
  return out;
}

/**
 * Frames per second over the measured window: what the camera sent and the viewer was shown (counted in
 * the page), and what the restore peer did with the frames it received (restored, passed through
 * unrestored, dropped), from the difference of its running totals at the window's ends. The totals reach
 * the page every 250 ms, so each end is up to that stale; both ends alike, so the window's length holds.
 */
function frameRates(sent: number, shown: number, secs: number, before: PeerCounters | undefined, after: PeerCounters | undefined) {
  const page = { cameraFps: round(sent / secs), viewerFps: round(shown / secs) };
  if (!before || !after) return page;
  const peerSecs = (after.at - before.at) / 1000;
  const per = (k: 'framesIn' | 'restored' | 'passedThrough' | 'dropped') => round((after[k] - before[k]) / peerSecs);
  return { ...page, peerInFps: per('framesIn'), restoredFps: per('restored'), passedThroughFps: per('passedThrough'), droppedFps: per('dropped') };
}

async function measure(mode: Mode, width: number, height: number, y4m: string, env: ReturnType<typeof readEnvironment>) {
  const browser = await launchChromium(y4m, args.unthrottled ? ['--disable-gpu-vsync', '--disable-frame-rate-limit'] : []);
  let server: LiveServer | undefined;
  let http: ReturnType<typeof createServer> | undefined;
  let bare: Awaited<ReturnType<typeof startBare>> | undefined;
  try {
    const page = await browser.newPage();
    await page.addInitScript(keepPeerConnections);
    if (mode === 'bare') {
      http = createServer((_q, r) => r.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><video id="original" autoplay muted playsinline></video><video id="restored" autoplay muted playsinline></video>'));
      await new Promise<void>((r) => http!.listen(0, '127.0.0.1', r));
      await page.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}/`);
      bare = await startBare(page, width, height);
    } else {
      server = await LiveServer.create({
        workerBin: resolveWorkerBin(env.mediasoupWorkerBin, env.cacheDir),
        cacheDir: env.cacheDir,
        pipeline: { restorer: mode === 'classic' ? 'classic' : 'none' },
        latencyBudgetMs: Number(args.budget),
      });
      await page.goto(server.pageUrl('bench', 'publisher') + `&width=${width}&height=${height}`);
    }
    await page.waitForFunction(() => (document.getElementById('restored') as HTMLVideoElement | null)?.videoWidth, undefined, { timeout: 60_000 });
    await page.evaluate(installMeter, { block: counterBlock(height), bits: COUNTER_BITS });
    await new Promise((r) => setTimeout(r, Number(args.warmup) * 1000));
    const pageMeter = new RtcDelayMeter();
    const bareMeter = new RtcDelayMeter();
    pageMeter.update(await pageStats(page));
    if (bare) bareMeter.update(await bare.stats());
    const peerBefore = mode === 'bare' ? undefined : await peerCounters(page);
    await page.evaluate(() => (window as unknown as { __meter: { reset(): void } }).__meter.reset());
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, Number(args.seconds) * 1000));
    const secs = (performance.now() - t0) / 1000;
    const m = await page.evaluate(() => {
      const x = (window as unknown as { __meter: { samples: number[]; shown: number; sent: number; unreadable: number; width: number; height: number } }).__meter;
      return { samples: [...x.samples], shown: x.shown, sent: x.sent, unreadable: x.unreadable, width: x.width, height: x.height };
    });
    const inPage = pageMeter.update(await pageStats(page));
    const peer = mode === 'bare' ? undefined : await page.evaluate(() => (window as unknown as { __live: { restoreStats?: Record<string, unknown> } }).__live.restoreStats);
    const peerAfter = mode === 'bare' ? undefined : await peerCounters(page);
    const middle = bare ? bareMeter.update(await bare.stats()) : ((peer?.rtc as RtcDelays | undefined) ?? {});
    const breakdown: Breakdown = {
      publisher: { encodeMs: inPage.encodeMs, pacerMs: inPage.pacerMs },
      middle,
      returned: { jitterBufferMs: inPage.jitterBufferMs, assemblyMs: inPage.assemblyMs, decodeMs: inPage.decodeMs },
    };
    return {
      mode,
      size: `${width}x${height}`,
      receivedSize: `${m.width}x${m.height}`,
      samples: m.samples,
      p50Ms: round(percentile(m.samples, 50)),
      fpsReturned: round(m.shown / secs),
      rates: frameRates(m.sent, m.shown, secs, peerBefore, peerAfter),
      unreadableFrames: m.unreadable,
      breakdown,
      ...(peer ? { peer: { restored: peer.restored, passedThrough: peer.passedThrough, dropped: peer.dropped, workMs: round(peer.workMs as number), peerLatencyMs: round(peer.peerLatencyMs as number), stagesMs: stagesPerFrame(peerBefore, peerAfter) } } : {}),
    };
  } finally {
    bare?.stop();
    await browser.close();
    await server?.close();
    http?.close();
  }
}

const round = (v: number) => Math.round(v * 10) / 10;
/** Frame rate of the fake webcam clip. */
const CAMERA_FPS = 30;

const env = readEnvironment();
const sizes = args.sizes!.split(',').map((s) => s.split('x').map(Number) as [number, number]);
const modes = args.modes!.split(',') as Mode[];
const repeats = Math.max(1, Number(args.repeats));
type Run = Awaited<ReturnType<typeof measure>>;
const runs: Run[] = [];
const dir = os.tmpdir();
const loadBefore = os.loadavg();
for (const [w, h] of sizes) {
  const y4m = await makeY4m(shared('footage/retalk_1.mp4'), path.join(dir, `facerestore-live-bench-${w}x${h}.y4m`), { width: w, height: h, seconds: 4, fps: CAMERA_FPS, counter: true });
  for (let k = 0; k < repeats; k++) {
    for (const mode of modes) {
      log(`${mode} ${w}x${h} run ${k + 1}/${repeats}…`);
      const r = await measure(mode, w, h, y4m, env);
      const { samples, ...shown } = r;
      log(JSON.stringify({ ...shown, p90Ms: round(percentile(samples, 90)), samples: samples.length }));
      runs.push(r);
    }
  }
}

/** Means of each numeric field over the runs that have it. */
function meanFields<T extends object>(items: T[]): T {
  const sums = new Map<string, { sum: number; n: number }>();
  for (const it of items) {
    for (const [key, v] of Object.entries(it)) {
      if (typeof v !== 'number') continue;
      const e = sums.get(key) ?? { sum: 0, n: 0 };
      sums.set(key, { sum: e.sum + v, n: e.n + 1 });
    }
  }
  return Object.fromEntries([...sums].map(([key, e]) => [key, round(e.sum / e.n)])) as T;
}

const results = sizes.flatMap(([w, h]) =>
  modes.map((mode) => {
    const mine = runs.filter((r) => r.mode === mode && r.size === `${w}x${h}`);
    const pooled = mine.flatMap((r) => r.samples);
    return {
      mode,
      size: `${w}x${h}`,
      receivedSize: [...new Set(mine.map((r) => r.receivedSize))].join(','),
      // The mean is the steadier figure: the vsync snapping above makes the pooled distribution lumpy
      // (one mode per run), and a median jumps between lumps where a mean moves smoothly.
      meanMs: round(pooled.reduce((a, v) => a + v, 0) / pooled.length),
      p50Ms: round(percentile(pooled, 50)),
      p90Ms: round(percentile(pooled, 90)),
      runP50Ms: mine.map((r) => r.p50Ms),
      samples: pooled.length,
      fpsReturned: meanFields(mine.map((r) => ({ v: r.fpsReturned }))).v,
      /** Means over the runs: camera and viewer fps (page), restore peer's in / restored / passed-through / dropped fps. */
      rates: meanFields(mine.map((r) => r.rates as Record<string, number>)),
      unreadableFrames: mine.reduce((a, r) => a + r.unreadableFrames, 0),
      breakdownMs: {
        publisher: meanFields(mine.map((r) => r.breakdown.publisher)),
        middle: meanFields(mine.map((r) => r.breakdown.middle)),
        returned: meanFields(mine.map((r) => r.breakdown.returned)),
      },
      ...(mine[0]?.peer ? { peer: mine.map((r) => r.peer) } : {}),
      /** Restore-worker ms per frame by part (detect, convert, refine, warp, restore, paste, total), means over the runs. */
      ...(mine.some((r) => r.peer?.stagesMs) ? { stagesMs: meanFields(mine.flatMap((r) => (r.peer?.stagesMs ? [r.peer.stagesMs] : []))) } : {}),
    };
  }),
);
const added = results
  .filter((r) => r.mode !== 'bare')
  .map((r) => {
    const bare = results.find((b) => b.mode === 'bare' && b.size === r.size);
    return { mode: r.mode, size: r.size, addedMeanMs: bare ? round(r.meanMs - bare.meanMs) : null, addedP50Ms: bare ? round(r.p50Ms - bare.p50Ms) : null, addedP90Ms: bare ? round(r.p90Ms - bare.p90Ms) : null };
  });
process.stdout.write(
  JSON.stringify(
    {
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavgBefore: loadBefore.map(round), loadavgAfter: os.loadavg().map(round) },
      budgetMs: Number(args.budget),
      cameraClipFps: CAMERA_FPS,
      repeats,
      secondsPerRun: Number(args.seconds),
      unthrottled: args.unthrottled,
      results,
      addedOverBare: added,
    },
    null,
    2,
  ) + '\n',
);
// @roamhq/wrtc (bare mode) can crash in its native teardown when Node exits by draining the event loop.
process.exit(0);
