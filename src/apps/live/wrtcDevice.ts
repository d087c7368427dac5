import { createRequire } from 'node:module';
import { Device } from 'mediasoup-client';
import { Chrome111 } from 'mediasoup-client/handlers/Chrome111';

/** The parts of @roamhq/wrtc the restore peer uses (it ships CommonJS with its own d.ts). */
export type Wrtc = typeof import('@roamhq/wrtc');

let wrtc: Wrtc | undefined;

/** Loads @roamhq/wrtc once. */
export function loadWrtc(): Wrtc {
  wrtc ??= createRequire(import.meta.url)('@roamhq/wrtc') as Wrtc;
  return wrtc;
}

/**
 * A mediasoup-client Device that runs on @roamhq/wrtc (libwebrtc for Node).
 *
 * mediasoup-client 3.24 has no Node handler; its `Chrome111` handler speaks unified-plan SDP to whatever
 * `RTCPeerConnection` and `MediaStream` the global scope has, and wrtc's libwebrtc is a Chrome of that
 * generation. So this installs wrtc's two constructors as globals — process-wide state, which is why restore
 * peers run in their own processes (PeerLauncher) — and passes the handler factory explicitly.
 * Measured alternative: a PlainTransport hands over RTP, which then needs an ffmpeg decoder and encoder
 * per stream (~2 s to first frame here, per infra notes) instead of wrtc's in-process VP8 codec.
 */
export function createWrtcDevice(): Device {
  const w = loadWrtc();
  const g = globalThis as Record<string, unknown>;
  if (g.RTCPeerConnection !== w.RTCPeerConnection) g.RTCPeerConnection = w.RTCPeerConnection;
  if (g.MediaStream !== w.MediaStream) g.MediaStream = w.MediaStream;
  return new Device({ handlerFactory: Chrome111.createFactory({}) });
}
