/**
 * Round-trip latency of live restoration, measured end to end in headless Chromium.
 *
 *   node bench/live-latency.ts [--seconds 8] [--warmup 3] [--sizes 640x480,1280x720] [--modes bare,passthrough,classic]
 *
 * The fake webcam is a clip of ../shared/footage/retalk_1.mp4 with a 12-bit frame counter burned into its
 * bottom-left corner. The page reads the counter from every frame the original <video> (local camera) and
 * the returned <video> present (requestVideoFrameCallback); a frame's round trip is the time between the
 * two presentations of the same counter value. Modes:
 *   bare         Chromium ⇄ one @roamhq/wrtc RTCPeerConnection that sends every decoded frame straight back
 *                (no SFU, no restore peer): the floor the live path is compared with;
 *   passthrough  the full live path (mediasoup SFU, restore peer process) with restorer `none`;
 *   classic      the full live path with the classic restorer (detection every 2nd frame, latency budget).
 * Prints one JSON document on stdout (progress on stderr).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { readEnvironment } from '../src/config/env.ts';
import { LiveServer } from '../src/stream/live/server.ts';
import { resolveWorkerBin } from '../src/stream/live/sfu.ts';
import { loadWrtc } from '../src/stream/live/wrtcDevice.ts';
import { COUNTER_BITS, counterBlock, launchChromium, makeY4m } from '../test/helpers/liveBrowser.ts';
import { shared } from '../test/helpers/paths.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
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
  const w = window as unknown as { __meter: { samples: number[]; shown: number; unreadable: number; width: number; height: number; reset(): void } };
  const seen = new Map<number, number>();
  const meter = { samples: [] as number[], shown: 0, unreadable: 0, width: 0, height: 0, reset() { this.samples = []; this.shown = 0; this.unreadable = 0; } };
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
async function startBare(page: Page, width: number, height: number): Promise<() => void> {
  const wrtc = loadWrtc();
  const pc = new wrtc.RTCPeerConnection();
  const source = new wrtc.nonstandard.RTCVideoSource();
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
    pc.ontrack = (e) => ((document.getElementById('restored') as HTMLVideoElement).srcObject = new MediaStream([e.track]));
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise<void>((r) => (pc.iceGatheringState === 'complete' ? r() : pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r())));
    return pc.localDescription!.sdp;
  }, { width, height });
  await pc.setRemoteDescription({ type: 'offer', sdp: withStartBitrate(offer) });
  const tr = pc.getTransceivers()[0]!;
  await tr.sender.replaceTrack(track as never);
  tr.direction = 'sendrecv';
  await pc.setLocalDescription(await pc.createAnswer());
  await new Promise<void>((r) => (pc.iceGatheringState === 'complete' ? r() : (pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r())));
  const answer = withStartBitrate(pc.localDescription!.sdp);
  await page.evaluate(async (sdp) => {
    await (window as unknown as { __pc: RTCPeerConnection }).__pc.setRemoteDescription({ type: 'answer', sdp });
  }, answer);
  return () => {
    sink?.stop();
    track.stop();
    pc.close();
  };
}

/** Adds x-google start/min bitrates to every VP8 payload type (Chromium otherwise starts 720p at ~300 kbit/s). */
function withStartBitrate(sdp: string): string {
  const pts = [...sdp.matchAll(/a=rtpmap:(\d+) VP8\/90000/g)].map((m) => m[1]!);
  let out = sdp;
  for (const pt of pts) {
    const fmtp = new RegExp(`a=fmtp:${pt} ([^\\r\\n]*)`);
    out = fmtp.test(out)
      ? out.replace(fmtp, `a=fmtp:${pt} $1;x-google-start-bitrate=1500;x-google-min-bitrate=800`)
      : out.replace(`a=rtpmap:${pt} VP8/90000`, `a=rtpmap:${pt} VP8/90000\r\na=fmtp:${pt} x-google-start-bitrate=1500;x-google-min-bitrate=800`);
  }
  return out;
}

async function measure(mode: Mode, width: number, height: number, y4m: string, env: ReturnType<typeof readEnvironment>) {
  const browser = await launchChromium(y4m);
  let server: LiveServer | undefined;
  let http: ReturnType<typeof createServer> | undefined;
  let stopBare: (() => void) | undefined;
  try {
    const page = await browser.newPage();
    if (mode === 'bare') {
      http = createServer((_q, r) => r.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><video id="original" autoplay muted playsinline></video><video id="restored" autoplay muted playsinline></video>'));
      await new Promise<void>((r) => http!.listen(0, '127.0.0.1', r));
      await page.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}/`);
      stopBare = await startBare(page, width, height);
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
    await page.evaluate(() => (window as unknown as { __meter: { reset(): void } }).__meter.reset());
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, Number(args.seconds) * 1000));
    const secs = (performance.now() - t0) / 1000;
    const m = await page.evaluate(() => {
      const x = (window as unknown as { __meter: { samples: number[]; shown: number; unreadable: number; width: number; height: number } }).__meter;
      return { samples: [...x.samples], shown: x.shown, unreadable: x.unreadable, width: x.width, height: x.height };
    });
    const peer = mode === 'bare' ? undefined : await page.evaluate(() => (window as unknown as { __live: { restoreStats?: Record<string, unknown> } }).__live.restoreStats);
    // The returned stream's receive side: ICE round trip and mean jitter-buffer delay (WebRTC stats).
    const receiver = await page.evaluate(async (bare) => {
      const w = window as unknown as { __pc?: RTCPeerConnection; __live?: { receiverDelay?: { rtt?: number; jitter?: number } } };
      if (!bare) return w.__live?.receiverDelay;
      let rtt: number | undefined;
      let jitter: number | undefined;
      for (const s of (await w.__pc!.getStats()).values()) {
        if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime !== undefined) rtt = s.currentRoundTripTime * 1000;
        if (s.type === 'inbound-rtp' && s.jitterBufferEmittedCount) jitter = (s.jitterBufferDelay / s.jitterBufferEmittedCount) * 1000;
      }
      return { rtt, jitter };
    }, mode === 'bare');
    return {
      mode,
      size: `${width}x${height}`,
      receivedSize: `${m.width}x${m.height}`,
      p50Ms: round(percentile(m.samples, 50)),
      p90Ms: round(percentile(m.samples, 90)),
      samples: m.samples.length,
      fpsReturned: round(m.shown / secs),
      unreadableFrames: m.unreadable,
      receiverJitterBufferMs: receiver?.jitter === undefined ? null : round(receiver.jitter),
      ...(peer ? { peer: { restored: peer.restored, passedThrough: peer.passedThrough, dropped: peer.dropped, workMs: round(peer.workMs as number), peerLatencyMs: round(peer.peerLatencyMs as number) } } : {}),
    };
  } finally {
    stopBare?.();
    await browser.close();
    await server?.close();
    http?.close();
  }
}

const round = (v: number) => Math.round(v * 10) / 10;

const env = readEnvironment();
const sizes = args.sizes!.split(',').map((s) => s.split('x').map(Number) as [number, number]);
const modes = args.modes!.split(',') as Mode[];
const results: Array<Awaited<ReturnType<typeof measure>>> = [];
const dir = os.tmpdir();
const loadBefore = os.loadavg();
for (const [w, h] of sizes) {
  const y4m = await makeY4m(shared('footage/retalk_1.mp4'), path.join(dir, `facerestore-live-bench-${w}x${h}.y4m`), { width: w, height: h, seconds: 4, counter: true });
  for (const mode of modes) {
    log(`${mode} ${w}x${h}…`);
    const r = await measure(mode, w, h, y4m, env);
    log(JSON.stringify(r));
    results.push(r);
  }
}
const added = results
  .filter((r) => r.mode !== 'bare')
  .map((r) => {
    const bare = results.find((b) => b.mode === 'bare' && b.size === r.size);
    return { mode: r.mode, size: r.size, addedP50Ms: bare ? round(r.p50Ms - bare.p50Ms) : null, addedP90Ms: bare ? round(r.p90Ms - bare.p90Ms) : null };
  });
process.stdout.write(
  JSON.stringify({ machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavgBefore: loadBefore.map(round), loadavgAfter: os.loadavg().map(round) }, budgetMs: Number(args.budget), results, addedOverBare: added }, null, 2) + '\n',
);
// @roamhq/wrtc (bare mode) can crash in its native teardown when Node exits by draining the event loop.
process.exit(0);
