/**
 * Restore peers that the server starts (exitWhenIdle) must not outlive their work: a camera that produced
 * and left before its peer had joined leaves nothing to assign, and such a peer used to stay in the room
 * for good, holding one of the few restore slots (issue 13, item 5). A real server and a real restore peer
 * (wrtc, classic restorer worker) over real signaling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEnvironment } from '../../src/config/env.ts';
import { RestorePeer } from '../../src/apps/live/restorePeer.ts';
import type { LiveServer } from '../../src/apps/live/server.ts';
import { startLiveServer, waitFor } from '../helpers/liveServer.ts';

let server: LiveServer;
beforeAll(async () => {
  server = await startLiveServer({ token: 'room-secret', peerToken: 'peer-secret', restorePeers: 'external' });
});
afterAll(async () => {
  await server?.close();
});

const peerConfig = (room: string, exitWhenIdle: boolean) => ({
  url: server.wsUrl,
  room,
  peerToken: 'peer-secret',
  pipeline: { restorer: 'classic' as const, fidelity: 0 },
  exitWhenIdle,
  idleExitMs: 300,
});

describe('restore peers in a room without a camera', () => {
  it('a server-started peer (exitWhenIdle) that nobody assigns leaves the room and stops by itself', async () => {
    const peer = await RestorePeer.start(peerConfig('empty-room', true), { cacheDir: readEnvironment().cacheDir });
    try {
      // It joined: the server counts it as a member.
      expect(server.stats().members).toBe(1);
      // No camera ever comes: the peer ends on its own (this await never returned before the fix).
      await peer.done;
      expect(peer.producerId).toBeUndefined();
      await waitFor(() => server.stats().members === 0, 10_000, 'the idle peer to leave the room');
      // The server still serves its page.
      const res = await fetch(server.wsUrl.replace(/^ws/, 'http').replace(/\/ws$/, '/'));
      expect(res.status).toBe(200);
    } finally {
      await peer.close();
    }
  }, 60_000);

  it('a peer started by hand (no exitWhenIdle) waits in the room until it is closed', async () => {
    const peer = await RestorePeer.start(peerConfig('waiting-room', false), { cacheDir: readEnvironment().cacheDir });
    let ended = false;
    void peer.done.then(() => (ended = true));
    try {
      // Long past its idleExitMs, measured by the idle peer of the first case having left: still joined.
      const idle = await RestorePeer.start(peerConfig('other-room', true), { cacheDir: readEnvironment().cacheDir });
      await idle.done;
      expect(ended).toBe(false);
      await waitFor(() => server.stats().members === 1, 10_000, 'only the waiting peer to remain');
    } finally {
      await peer.close();
    }
    expect(ended).toBe(true);
  }, 60_000);
});
