import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_MESSAGE_BYTES } from '../src/apps/live/protocol.ts';
import { parseExposition } from '../src/util/metrics.ts';
import type { LiveServer } from '../src/apps/live/server.ts';
import { SignalingClient, type ServerEvent } from '../src/apps/live/signalingClient.ts';
import { alive, startLiveServer, waitFor } from './helpers/liveServer.ts';
import { BROKEN_TARGETS, getRequest, rawRequest, statusOf, upgradeRequest } from './helpers/rawHttp.ts';

// Security of the signaling endpoint: token, Origin, size limit, schema, rate limit, isolation.
describe('live signaling security', () => {
  let server: LiveServer;
  const clients: SignalingClient[] = [];
  const connect = async (origin?: string) => {
    const c = await SignalingClient.connect(server.wsUrl, { origin, requestTimeoutMs: 5000 });
    clients.push(c);
    return c;
  };
  const events = (c: SignalingClient) => {
    const list: ServerEvent[] = [];
    c.on('event', (e) => list.push(e));
    return list;
  };

  beforeAll(async () => {
    server = await startLiveServer({ token: 'room-secret', peerToken: 'peer-secret', restorePeers: 'external', rateLimit: { perSecond: 20, burst: 40 } });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.close();
  });

  it('serves the page and the bundled mediasoup-client with a strict CSP', async () => {
    const page = await fetch(server.url + '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('/app.js');
    const vendor = await fetch(server.url + '/vendor/mediasoup-client.js');
    expect(vendor.status).toBe(200);
    expect(await vendor.text()).toContain('mediasoup-client');
    expect((await fetch(server.url + '/../package.json')).status).toBe(404);
    expect((await fetch(server.url + '/', { method: 'POST' })).status).toBe(405);
  });

  it('joins with the right token and gets the router capabilities', async () => {
    const c = await connect();
    const joined = await c.request<{ peerId: string; routerRtpCapabilities: { codecs: unknown[] } }>({ type: 'join', room: 'sec', token: 'room-secret', role: 'viewer' });
    expect(joined.peerId).toMatch(/^[0-9a-f-]{36}$/);
    expect(joined.routerRtpCapabilities.codecs.length).toBeGreaterThan(0);
    await expect(c.request({ type: 'ping', t: 1 })).resolves.toMatchObject({ t: 1 });
  });

  it('refuses a wrong token and closes that connection', async () => {
    const c = await connect();
    await expect(c.request({ type: 'join', room: 'sec', token: 'guess', role: 'publisher' })).rejects.toThrow(/E_AUTH/);
    expect((await c.closed).code).toBe(1008);
  });

  it('refuses a join without a token (schema) and the room token for the restorer role', async () => {
    const a = await connect();
    a.sendRaw(JSON.stringify({ type: 'join', id: 1, room: 'sec', role: 'viewer' }));
    expect((await a.closed).code).toBe(1008);
    const b = await connect();
    await expect(b.request({ type: 'join', room: 'sec', token: 'room-secret', role: 'restorer' })).rejects.toThrow(/E_AUTH/);
    expect((await b.closed).code).toBe(1008);
  });

  it('answers requests before join with E_STATE without closing', async () => {
    const c = await connect();
    await expect(c.request({ type: 'createTransport', direction: 'recv' })).rejects.toThrow(/E_STATE/);
    await expect(c.request({ type: 'ping', t: 2 })).rejects.toThrow(/E_STATE.*join first/);
    await c.request({ type: 'join', room: 'sec', token: 'room-secret', role: 'viewer' });
    await expect(c.request({ type: 'ping', t: 2 })).resolves.toMatchObject({ t: 2 });
  });

  it('does not let a viewer send media', async () => {
    const c = await connect();
    await c.request({ type: 'join', room: 'sec', token: 'room-secret', role: 'viewer' });
    await expect(c.request({ type: 'createTransport', direction: 'send' })).rejects.toThrow(/E_AUTH/);
  });

  it('closes only the connection that sends malformed, unknown, binary or oversized messages', async () => {
    const bystander = await connect();
    await bystander.request({ type: 'join', room: 'sec', token: 'room-secret', role: 'viewer' });
    const cases: Array<[string | Buffer, number]> = [
      ['{not json', 1008],
      [JSON.stringify({ type: 'teleport', id: 1 }), 1008],
      [JSON.stringify({ type: 'ping', id: 1, t: 1, extra: 'x' }), 1008],
      [JSON.stringify({ type: 'ping', id: -1, t: 1 }), 1008],
      [JSON.stringify(['ping']), 1008],
      [Buffer.from([1, 2, 3]), 1008],
      ['x'.repeat(MAX_MESSAGE_BYTES + 1), 1009],
    ];
    for (const [payload, code] of cases) {
      const c = await connect();
      const got = events(c);
      c.sendRaw(payload);
      const closed = await c.closed;
      expect(closed.code, `payload ${String(payload).slice(0, 40)}`).toBe(code);
      if (code === 1008) expect(got.some((e) => e.type === 'error' && e.code === 'E_PROTOCOL')).toBe(true);
    }
    // The server and the other connection are unaffected.
    await expect(bystander.request({ type: 'ping', t: 3 })).resolves.toMatchObject({ t: 3 });
    const fresh = await connect();
    await fresh.request({ type: 'join', room: 'sec', token: 'room-secret', role: 'viewer' });
    await expect(fresh.request({ type: 'ping', t: 4 })).resolves.toMatchObject({ t: 4 });
  });

  it('rate-limits a flood from one socket and leaves the others alone', async () => {
    const other = await connect();
    await other.request({ type: 'join', room: 'sec', token: 'room-secret', role: 'viewer' });
    const flooder = await connect();
    const got = events(flooder);
    for (let i = 0; i < 300; i++) flooder.sendRaw(JSON.stringify({ type: 'ping', id: i, t: i }));
    const closed = await flooder.closed;
    expect(closed.code).toBe(1008);
    expect(got.some((e) => e.type === 'error' && e.code === 'E_RATE')).toBe(true);
    await expect(other.request({ type: 'ping', t: 5 })).resolves.toMatchObject({ t: 5 });
  });

  it('checks the Origin of browser connections', async () => {
    await expect(SignalingClient.connect(server.wsUrl, { origin: 'https://evil.example' })).rejects.toThrow(/403/);
    const same = await connect(server.url);
    await same.request({ type: 'join', room: 'sec', token: 'room-secret', role: 'viewer' });
    await expect(same.request({ type: 'ping', t: 6 })).resolves.toMatchObject({ t: 6 });
  });

  it('answers every malformed request target with 400 and keeps serving (HTTP and WebSocket upgrade)', async () => {
    for (const target of BROKEN_TARGETS) {
      expect(statusOf(await rawRequest(server.port, upgradeRequest(target))), `upgrade ${target}`).toBe(400);
      expect(statusOf(await rawRequest(server.port, getRequest(target))), `GET ${target}`).toBe(400);
    }
    // Absolute form is fine when it parses; a path outside the page's table is 404, never a file lookup.
    expect(statusOf(await rawRequest(server.port, getRequest('http://127.0.0.1/healthz')))).toBe(200);
    expect(statusOf(await rawRequest(server.port, upgradeRequest('/nope')))).toBe(404);
    expect(statusOf(await rawRequest(server.port, getRequest('/__proto__')))).toBe(404);
    expect(statusOf(await rawRequest(server.port, getRequest('*')))).toBe(400);
    // Still up: the page, and a WebSocket that joins.
    const page = await fetch(server.url + '/');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/app.js');
    const c = await connect();
    await expect(c.request({ type: 'join', room: 'after-bad-targets', token: 'room-secret', role: 'viewer' })).resolves.toMatchObject({ role: 'viewer' });
  });

  it('a room creates, owns and closes its router; the observer sees it come and go', async () => {
    const seen: string[] = [];
    let router: { closed: boolean } | undefined;
    const onNew = (room: { name: string; router: { closed: boolean } }) => {
      seen.push(`new ${room.name}`);
      router = room.router;
    };
    const onClose = (room: { name: string }, reason: string) => seen.push(`close ${room.name} ${reason}`);
    server.observer.on('newroom', onNew).on('roomclose', onClose);
    try {
      const a = await connect();
      await a.request({ type: 'join', room: 'owned', token: 'room-secret', role: 'viewer' });
      expect(seen).toEqual(['new owned']);
      expect(router?.closed).toBe(false);
      await a.close();
      await waitFor(() => seen.length === 2, 5000, 'the room to close');
      expect(seen).toEqual(['new owned', 'close owned empty']);
      expect(router?.closed).toBe(true);
    } finally {
      server.observer.off('newroom', onNew).off('roomclose', onClose);
    }
  });

  it('survives the death of its mediasoup worker: rooms close, members are told, a new worker serves the next join', async () => {
    const own = await startLiveServer({ token: 't', restorePeers: 'external' });
    try {
      const closes: string[] = [];
      const died: Error[] = [];
      own.observer.on('roomclose', (room, reason) => closes.push(`${room.name} ${reason}`));
      own.observer.on('sfudied', (e) => died.push(e));
      const a = await SignalingClient.connect(own.wsUrl);
      const b = await SignalingClient.connect(own.wsUrl);
      const gotA = events(a);
      await a.request({ type: 'join', room: 'r1', token: 't', role: 'publisher' });
      await b.request({ type: 'join', room: 'r2', token: 't', role: 'viewer' });
      const transport = await a.request<{ id: string }>({ type: 'createTransport', direction: 'send' });
      expect(transport.id).toBeTruthy();
      expect(own.stats()).toMatchObject({ rooms: 2, members: 2, transports: 1 });
      const pid = own.stats().workerPid!;
      process.kill(pid, 'SIGKILL');
      expect((await a.closed).code).toBe(1011);
      expect((await b.closed).code).toBe(1011);
      expect(gotA.some((e) => e.type === 'error' && e.code === 'E_INTERNAL')).toBe(true);
      expect(died).toHaveLength(1);
      expect(closes.sort()).toEqual(['r1 workerclose', 'r2 workerclose']);
      expect(own.stats()).toMatchObject({ rooms: 0, members: 0, transports: 0, workerPid: undefined });
      expect(alive(pid)).toBe(false);
      // Health says so (503 with the reason) and the metrics count the death, until a worker runs again.
      const down = await fetch(own.url + '/healthz');
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ ok: false, reason: 'mediasoup worker died' });
      const deadMetrics = parseExposition(await (await fetch(own.url + '/metrics')).text());
      expect(deadMetrics).toContainEqual({ name: 'facerestore_sfu_worker_deaths_total', labels: {}, value: 1 });
      expect(deadMetrics).toContainEqual({ name: 'facerestore_sfu_worker_up', labels: {}, value: 0 });
      // The server still serves the page and, on the next join, a fresh worker.
      expect((await fetch(own.url + '/')).status).toBe(200);
      const c = await SignalingClient.connect(own.wsUrl);
      await c.request({ type: 'join', room: 'r1', token: 't', role: 'publisher' });
      await expect(c.request({ type: 'createTransport', direction: 'send' })).resolves.toMatchObject({ id: expect.any(String) });
      const fresh = own.stats().workerPid!;
      expect(fresh).not.toBe(pid);
      expect(alive(fresh)).toBe(true);
      expect(await (await fetch(own.url + '/healthz')).json()).toEqual({ ok: true });
      const upMetrics = parseExposition(await (await fetch(own.url + '/metrics')).text());
      expect(upMetrics).toContainEqual({ name: 'facerestore_sfu_worker_up', labels: {}, value: 1 });
      expect(upMetrics).toContainEqual({ name: 'facerestore_live_rooms', labels: {}, value: 1 });
      expect(upMetrics).toContainEqual({ name: 'facerestore_live_connections', labels: {}, value: 1 });
      await c.close();
    } finally {
      await own.close();
    }
  });

  it('closes connections that do not join in time', async () => {
    const quick = await startLiveServer({ token: 't', restorePeers: 'external', joinTimeoutSeconds: 0.3 });
    try {
      const ws = new WebSocket(quick.wsUrl);
      const code = await new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
      expect(code).toBe(1008);
    } finally {
      await quick.close();
    }
  });

  it('serves HTTPS and WSS with a given certificate', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'live-tls-'));
    try {
      const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
      const tls = await startLiveServer({ token: 't', restorePeers: 'external', tls: { cert: readFileSync(cert), key: readFileSync(key) } });
      try {
        expect(tls.url).toMatch(/^https:/);
        const status = await new Promise<number>((resolve, reject) => https.get(tls.url + '/', { rejectUnauthorized: false }, (res) => resolve(res.statusCode ?? 0)).on('error', reject));
        expect(status).toBe(200);
        const c = await SignalingClient.connect(tls.wsUrl, { insecureTls: true, origin: tls.url });
        await expect(c.request({ type: 'join', room: 'tls', token: 't', role: 'viewer' })).resolves.toMatchObject({ role: 'viewer' });
        await c.close();
      } finally {
        await tls.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps no room, member or worker after everyone left and the server closed', async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await waitFor(() => server.stats().members === 0, 5000, 'members to leave');
    expect(server.stats().rooms).toBe(0);
  });
});
