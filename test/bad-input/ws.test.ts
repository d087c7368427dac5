/**
 * Hostile WebSocket upgrades and unauthenticated sockets against the real live server: a DNS-rebinding
 * Host, a missing Host, ping before join. Each is refused (403 at the upgrade, E_STATE on the socket),
 * and the server keeps answering `GET /` and legitimate joins afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostAllowed } from '../../src/apps/live/auth.ts';
import type { LiveServer } from '../../src/apps/live/server.ts';
import { SignalingClient } from '../../src/apps/live/signalingClient.ts';
import { startLiveServer } from '../helpers/liveServer.ts';
import { rawRequest, statusOf } from '../helpers/rawHttp.ts';

const upgrade = (headers: string) =>
  `GET /ws HTTP/1.1\r\n${headers}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

describe('Host header check (DNS rebinding) and unauthenticated sockets', () => {
  let server: LiveServer;
  const clients: SignalingClient[] = [];
  beforeAll(async () => {
    server = await startLiveServer({ token: 'room-secret', peerToken: 'peer-secret', restorePeers: 'external', allowedHosts: ['faces.example.org'] });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.close();
  });
  const stillServing = async () => {
    expect((await fetch(server.url + '/')).status).toBe(200);
    const c = await SignalingClient.connect(server.wsUrl, { requestTimeoutMs: 5000 });
    clients.push(c);
    await expect(c.request({ type: 'join', room: 'r', token: 'room-secret', role: 'viewer' })).resolves.toMatchObject({ role: 'viewer' });
  };

  it('hostAllowed: IP literals, localhost, the bind name and the allow-list pass; other names and no Host do not', () => {
    for (const h of ['127.0.0.1:8080', '[::1]:8080', '10.0.0.7', 'localhost:3000', 'LOCALHOST', 'faces.example.org:443', 'Faces.Example.Org.']) expect(hostAllowed(h, '127.0.0.1', ['faces.example.org']), h).toBe(true);
    for (const h of [undefined, '', 'evil.example:8080', 'faces.example.org.evil.example', '127.0.0.1.nip.io', '[not-ip]', 'a b']) expect(hostAllowed(h, '127.0.0.1', ['faces.example.org']), String(h)).toBe(false);
    expect(hostAllowed('cam.lan:8443', 'cam.lan', [])).toBe(true);
    expect(hostAllowed('anything:1', '127.0.0.1', ['*'])).toBe(true);
  });

  it('a DNS-rebinding page (Host and Origin both the attacker name) is refused with 403; the server stays up', async () => {
    const port = server.port;
    const answer = await rawRequest(port, upgrade(`Host: evil.example:${port}\r\nOrigin: http://evil.example:${port}\r\n`));
    expect(statusOf(answer)).toBe(403);
    await stillServing();
  });

  it('an upgrade without a Host header is refused with 403', async () => {
    expect(statusOf(await rawRequest(server.port, upgrade('')))).toBe(403);
    await stillServing();
  });

  it('a name on the allow-list upgrades (101)', async () => {
    const answer = await rawRequest(server.port, upgrade(`Host: faces.example.org:${server.port}\r\n`), 500);
    expect(statusOf(answer)).toBe(101);
  });

  it('ping before join is answered E_STATE (join first) and does not close the socket', async () => {
    const c = await SignalingClient.connect(server.wsUrl, { requestTimeoutMs: 5000 });
    clients.push(c);
    await expect(c.request({ type: 'ping', t: 1 })).rejects.toThrow(/E_STATE.*join first/);
    await c.request({ type: 'join', room: 'r', token: 'room-secret', role: 'viewer' });
    await expect(c.request({ type: 'ping', t: 2 })).resolves.toMatchObject({ t: 2 });
    await stillServing();
  });

  it('sockets that have not joined get their own per-address quota (503 beyond), which a join frees; joined peers are not crowded out', async () => {
    const quota = await startLiveServer({ token: 'room-secret', peerToken: 'peer-secret', restorePeers: 'external', maxUnjoinedPerAddress: 3, maxUnjoined: 16 });
    const held: SignalingClient[] = [];
    try {
      for (let i = 0; i < 3; i++) held.push(await SignalingClient.connect(quota.wsUrl, { requestTimeoutMs: 5000 }));
      expect(statusOf(await rawRequest(quota.port, upgrade(`Host: 127.0.0.1:${quota.port}\r\n`)))).toBe(503);
      expect((await fetch(quota.url + '/')).status).toBe(200);
      await held[0]!.request({ type: 'join', room: 'r', token: 'room-secret', role: 'viewer' });
      const next = await SignalingClient.connect(quota.wsUrl, { requestTimeoutMs: 5000 });
      held.push(next);
      await expect(next.request({ type: 'join', room: 'r', token: 'room-secret', role: 'viewer' })).resolves.toMatchObject({ role: 'viewer' });
      expect(quota.stats().connections).toBe(4);
    } finally {
      await Promise.all(held.map((c) => c.close()));
      await quota.close();
    }
  });
});
