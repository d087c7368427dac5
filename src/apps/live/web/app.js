// facerestore live page: publish the webcam, show the original and the restored stream side by side,
// per-face fidelity, stats overlay; `#role=viewer` only watches the room's restored stream.
// Parameters come from the URL fragment (never sent to the server): room, token, role, width, height.
import { Device } from '/vendor/mediasoup-client.js';

const params = new URLSearchParams(location.hash.slice(1));
const room = params.get('room') || 'default';
const token = params.get('token') || '';
const role = params.get('role') === 'viewer' ? 'viewer' : 'publisher';
const wantWidth = Number(params.get('width')) || 640;
const wantHeight = Number(params.get('height')) || 480;

const $ = (id) => document.getElementById(id);
const statusEl = $('status');
const original = $('original');
const restored = $('restored');
const canvas = $('faces');
const statsEl = $('stats');

/** State the page exposes for automated checks (tests and the latency bench read it). */
const live = {
  role,
  status: 'starting',
  error: undefined,
  peerId: undefined,
  cameraProducerId: undefined,
  restoredProducerId: undefined,
  restoredConsumerId: undefined,
  faces: [],
  restoreStats: undefined,
  signalingRttMs: undefined,
  selectedTrackId: undefined,
};
window.__live = live;

function setStatus(text, isError = false) {
  live.status = text;
  statusEl.textContent = text;
  statusEl.classList.toggle('error', isError);
}

// ---- signaling -------------------------------------------------------------------------------------
const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
let nextId = 1;
const pending = new Map();
const handlers = new Map();

function request(type, body = {}) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    ws.send(JSON.stringify({ type, id, ...body }));
  });
}
const on = (type, fn) => handlers.set(type, fn);

ws.addEventListener('message', (event) => {
  let msg;
  try {
    msg = JSON.parse(event.data);
  } catch {
    return;
  }
  if (msg.type === 'response') {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.data);
    else p.reject(new Error(`${msg.error.code}: ${msg.error.message}`));
    return;
  }
  if (msg.type === 'error') setStatus(`server: ${msg.message}`, true);
  handlers.get(msg.type)?.(msg);
});
ws.addEventListener('close', (e) => {
  for (const p of pending.values()) p.reject(new Error('connection closed'));
  pending.clear();
  if (live.status !== 'error') setStatus(`disconnected (${e.code}${e.reason ? ' ' + e.reason : ''})`, true);
});

// ---- media -----------------------------------------------------------------------------------------
let device;
let recvTransport;
const consumers = new Map(); // producerId -> consumer
/** Restored streams announced before this publisher knew its camera's id (kept, not dropped). */
const early = [];

function makeTransport(data, direction) {
  const t = direction === 'send' ? device.createSendTransport(data) : device.createRecvTransport(data);
  t.on('connect', ({ dtlsParameters }, ok, fail) => request('connectTransport', { transportId: t.id, dtlsParameters }).then(() => ok(), fail));
  t.on('connectionstatechange', (s) => {
    if (s === 'failed') setStatus(`${direction} transport failed`, true);
  });
  return t;
}

async function publish() {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { width: { ideal: wantWidth }, height: { ideal: wantHeight }, frameRate: { ideal: 30 } },
  });
  original.srcObject = stream;
  const track = stream.getVideoTracks()[0];
  // Keep the resolution: Chromium otherwise scales 720p down under its early bandwidth estimate.
  if ('contentHint' in track) track.contentHint = 'detail';
  const send = makeTransport(await request('createTransport', { direction: 'send' }), 'send');
  // The camera's id is known from the server's answer: an idle restore peer can announce the restored
  // stream before send.produce() below has finished (it still sets sender parameters), and the restored
  // stream is matched to the camera by this id.
  send.on('produce', ({ kind, rtpParameters }, ok, fail) =>
    request('produce', { transportId: send.id, kind, rtpParameters, source: 'camera' }).then((r) => {
      live.cameraProducerId = r.id;
      ok(r);
    }, fail),
  );
  const producer = await send.produce({
    track,
    encodings: [{ maxBitrate: 4_000_000 }],
    codecOptions: { videoGoogleStartBitrate: 1500 },
  });
  const sender = producer.rtpSender;
  if (sender) {
    const p = sender.getParameters();
    p.degradationPreference = 'maintain-resolution';
    await sender.setParameters(p).catch(() => undefined);
  }
  live.cameraProducerId = producer.id;
  for (const info of early.splice(0)) await consume(info);
}

async function consume(info) {
  if (consumers.has(info.producerId)) return;
  // A publisher watches the restoration of its own camera; a viewer the first restored stream.
  if (info.source !== 'restored') return;
  if (role === 'publisher' && live.cameraProducerId === undefined) {
    early.push(info);
    return;
  }
  if (role === 'publisher' && info.sourceProducerId !== live.cameraProducerId) return;
  if (role === 'viewer' && live.restoredProducerId) return;
  consumers.set(info.producerId, null);
  const data = await request('consume', { transportId: recvTransport.id, producerId: info.producerId, rtpCapabilities: device.recvRtpCapabilities });
  const consumer = await recvTransport.consume(data);
  // Live view: ask the jitter buffer for no extra delay (Chromium's jitterBufferTarget, in ms).
  if ('jitterBufferTarget' in consumer.rtpReceiver) consumer.rtpReceiver.jitterBufferTarget = 0;
  consumers.set(info.producerId, consumer);
  restored.srcObject = new MediaStream([consumer.track]);
  live.restoredProducerId = info.producerId;
  live.restoredConsumerId = consumer.id;
  live.watchedCameraProducerId = info.sourceProducerId;
  await request('resumeConsumer', { consumerId: consumer.id });
  setStatus(role === 'publisher' ? 'live: restoring your camera' : 'live: watching');
}

on('newProducer', (m) => consume(m.producer).catch((e) => setStatus(`consume failed: ${e.message}`, true)));
on('producerClosed', (m) => {
  const c = consumers.get(m.producerId);
  consumers.delete(m.producerId);
  c?.close();
  if (live.restoredProducerId === m.producerId) {
    live.restoredProducerId = undefined;
    live.restoredConsumerId = undefined;
    restored.srcObject = null;
    live.faces = [];
    drawFaces();
    setStatus(role === 'publisher' ? 'waiting for the restorer…' : 'waiting for a stream…');
  }
});
on('faces', (m) => {
  const watched = role === 'publisher' ? live.cameraProducerId : live.watchedCameraProducerId;
  if (m.producerId !== watched) return;
  live.faces = m.faces;
  live.restoreStats = m.stats;
  // Show the server's default w once (faces without an override follow it).
  const follower = m.faces.find((f) => !f.overridden);
  if (follower && !defaultWShown && document.activeElement !== defaultW) {
    defaultWShown = true;
    defaultW.value = String(follower.w);
    defaultWValue.textContent = follower.w.toFixed(2);
  }
  drawFaces();
});

// ---- faces overlay and fidelity controls ------------------------------------------------------------
const faceW = $('face-w');
const faceWValue = $('face-w-value');
const faceLabel = $('face-label');
const faceReset = $('face-reset');
const defaultW = $('default-w');
const defaultWValue = $('default-w-value');
let defaultWShown = false;

/** The rectangle the video's picture occupies inside the element (object-fit: contain). */
function pictureRect() {
  const w = restored.clientWidth;
  const h = restored.clientHeight;
  const vw = restored.videoWidth || 4;
  const vh = restored.videoHeight || 3;
  const scale = Math.min(w / vw, h / vh);
  return { x: (w - vw * scale) / 2, y: (h - vh * scale) / 2, w: vw * scale, h: vh * scale };
}

function drawFaces() {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(canvas.clientWidth * dpr);
  canvas.height = Math.round(canvas.clientHeight * dpr);
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, canvas.width, canvas.height);
  if (role !== 'publisher') return;
  const r = pictureRect();
  g.font = '12px system-ui, sans-serif';
  for (const f of live.faces) {
    const selected = f.trackId === live.selectedTrackId;
    g.strokeStyle = selected ? '#ffd24a' : 'rgba(120, 220, 120, 0.8)';
    g.lineWidth = selected ? 3 : 1.5;
    const x = r.x + f.box.x * r.w;
    const y = r.y + f.box.y * r.h;
    g.strokeRect(x, y, f.box.width * r.w, f.box.height * r.h);
    g.fillStyle = g.strokeStyle;
    g.fillText(`#${f.trackId} w=${f.w.toFixed(2)}${f.overridden ? ' (set)' : ''}`, x + 2, Math.max(12, y - 4));
  }
  const sel = live.faces.find((f) => f.trackId === live.selectedTrackId);
  if (sel && document.activeElement !== faceW) {
    faceW.value = String(sel.w);
    faceWValue.textContent = sel.w.toFixed(2);
  }
}

canvas.addEventListener('click', (e) => {
  if (role !== 'publisher') return;
  const r = pictureRect();
  const b = canvas.getBoundingClientRect();
  const px = (e.clientX - b.left - r.x) / r.w;
  const py = (e.clientY - b.top - r.y) / r.h;
  const hit = live.faces.find((f) => px >= f.box.x && px <= f.box.x + f.box.width && py >= f.box.y && py <= f.box.y + f.box.height);
  live.selectedTrackId = hit?.trackId;
  faceLabel.textContent = hit ? `#${hit.trackId}` : 'none (click a face)';
  faceW.disabled = !hit;
  faceReset.disabled = !hit;
  drawFaces();
});

function debounce(fn, ms) {
  let t;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}
const sendFidelity = debounce((trackId, w) => {
  if (!live.cameraProducerId) return;
  request('setFidelity', { producerId: live.cameraProducerId, trackId, w }).catch((e) => setStatus(`fidelity: ${e.message}`, true));
}, 80);
faceW.addEventListener('input', () => {
  faceWValue.textContent = Number(faceW.value).toFixed(2);
  if (live.selectedTrackId !== undefined) sendFidelity(live.selectedTrackId, Number(faceW.value));
});
faceReset.addEventListener('click', () => {
  if (live.selectedTrackId !== undefined) sendFidelity(live.selectedTrackId, null);
});
defaultW.addEventListener('input', () => {
  defaultWValue.textContent = Number(defaultW.value).toFixed(2);
  sendFidelity(null, Number(defaultW.value));
});

// ---- stats overlay ----------------------------------------------------------------------------------
let shownFrames = 0;
function countFrames() {
  shownFrames++;
  restored.requestVideoFrameCallback(countFrames);
}
if ('requestVideoFrameCallback' in HTMLVideoElement.prototype) restored.requestVideoFrameCallback(countFrames);

async function receiverDelayMs() {
  // Network round trip (ICE) plus the jitter buffer of the restored stream, from WebRTC stats.
  const c = consumers.get(live.restoredProducerId);
  if (!c || !recvTransport) return undefined;
  let rtt;
  let jitter;
  for (const s of (await recvTransport.getStats()).values()) {
    if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime !== undefined) rtt = s.currentRoundTripTime * 1000;
  }
  for (const s of (await c.getStats()).values()) {
    if (s.type === 'inbound-rtp' && s.jitterBufferEmittedCount) jitter = (s.jitterBufferDelay / s.jitterBufferEmittedCount) * 1000;
  }
  return { rtt, jitter };
}

let lastCount = 0;
let lastTime = performance.now();
setInterval(async () => {
  const now = performance.now();
  const fpsShown = ((shownFrames - lastCount) * 1000) / (now - lastTime);
  lastCount = shownFrames;
  lastTime = now;
  const s = live.restoreStats;
  const d = await receiverDelayMs().catch(() => undefined);
  live.receiverDelay = d;
  // The restore peer reports its own receive jitter buffer, encoder and pacer; without them, count this
  // page's jitter buffer twice as a stand-in for the peer's.
  const r = s?.rtc;
  const peerRtc = r && r.jitterBufferMs !== undefined ? r.jitterBufferMs + (r.decodeMs ?? 0) + (r.encodeMs ?? 0) + (r.pacerMs ?? 0) : d?.jitter;
  const est = s && d ? s.peerLatencyMs + (d.rtt ?? 0) * 2 + (d.jitter ?? 0) + (peerRtc ?? 0) : undefined;
  const lines = [
    `restored ${restored.videoWidth}×${restored.videoHeight}, shown ${fpsShown.toFixed(1)} fps`,
    s ? `restore peer: in ${s.fpsIn.toFixed(1)} fps, out ${s.fpsOut.toFixed(1)} fps, ${s.peerLatencyMs.toFixed(0)} ms (budget ${s.budgetMs})` : 'restore peer: —',
    r && r.jitterBufferMs !== undefined
      ? `restore peer WebRTC: jitter buffer ${r.jitterBufferMs.toFixed(0)} ms, encode ${(r.encodeMs ?? 0).toFixed(0)} ms, pacer ${(r.pacerMs ?? 0).toFixed(0)} ms${r.estimateKbps ? `, uplink ≈ ${(r.estimateKbps / 1000).toFixed(1)} Mbit/s` : ''}`
      : '',
    s ? `frames: ${s.restored} restored, ${s.passedThrough} passed through, ${s.dropped} dropped` : '',
    `faces: ${live.faces.length}${s ? ` · ${s.restorer}` : ''}`,
    est !== undefined ? `round trip ≈ ${est.toFixed(0)} ms (estimate)` : '',
    live.signalingRttMs !== undefined ? `signaling RTT ${live.signalingRttMs.toFixed(0)} ms` : '',
  ];
  statsEl.textContent = lines.filter(Boolean).join('\n');
  $('passthrough-note').hidden = !(s && s.passedThrough > 0 && s.restorer && !s.restorer.startsWith('none'));
}, 1000);
setInterval(() => {
  if (ws.readyState !== WebSocket.OPEN || !live.peerId) return;
  const t = performance.now();
  request('ping', { t }).then(() => (live.signalingRttMs = performance.now() - t)).catch(() => undefined);
}, 2000);
window.addEventListener('resize', drawFaces);

// ---- start ------------------------------------------------------------------------------------------
async function start() {
  if (role === 'viewer') document.body.classList.add('viewer');
  if (!token) throw new Error('no token in the URL (#room=…&token=…)');
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('close', () => reject(new Error('cannot connect')), { once: true });
  });
  const joined = await request('join', { room, token, role });
  live.peerId = joined.peerId;
  device = new Device();
  await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
  recvTransport = makeTransport(await request('createTransport', { direction: 'recv' }), 'recv');
  if (role === 'publisher') {
    setStatus('publishing…');
    await publish();
    setStatus('waiting for the restorer…');
  } else setStatus('waiting for a stream…');
  for (const p of joined.producers) await consume(p);
}

start().catch((e) => {
  live.error = e.message;
  setStatus(`error: ${e.message}`, true);
  live.status = 'error';
});
