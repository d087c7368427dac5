import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** What a socket's `onread` option takes: a reused buffer and the callback that gets each read's bytes in it. */
export interface SocketRead {
  buffer: Uint8Array;
  /** Called with the bytes read into `buffer` (from offset 0); return false to pause the socket. */
  callback: (bytes: number, buffer: Uint8Array) => boolean;
}

/**
 * A connected pair of Unix-domain stream sockets for a child process's output: `childEnd` goes into the
 * child's stdio (spawn duplicates it; close this process's copy after spawning) and `reader` reads what the
 * child writes, into one reused buffer (`read`).
 *
 * Why not the child's stdout pipe: Node's pipe reads allocate a new 64 KiB buffer per read, 21 of them per
 * 720p I420 frame, and that garbage drives V8's full collections; a socket created with `onread` reads into
 * the same buffer every time. Decoding 300 frames of 720p to a reader that only reassembles frames:
 * 1.7 CPU-ms per frame through the pipe, 0.5 through this socket (docs/realtime.md).
 *
 * The rendezvous is a socket file in a fresh private folder (mode 0700) under the system's temporary folder,
 * removed as soon as the pair is connected, so no other user can connect in between.
 * Rejects when the folder or the sockets cannot be made (the caller then uses a pipe).
 */
export async function openSocketPair(read: SocketRead): Promise<{ childEnd: net.Socket; reader: net.Socket }> {
  // Socket paths are limited to ~107 bytes: a deep TMPDIR falls back to /tmp.
  const base = os.tmpdir().length < 80 ? os.tmpdir() : '/tmp';
  const dir = await mkdtemp(path.join(base, 'facerestore-'));
  const server = net.createServer({ pauseOnConnect: true });
  let reader: net.Socket | undefined;
  try {
    const file = path.join(dir, 's');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(file, () => resolve());
    });
    const accepted = new Promise<net.Socket>((resolve, reject) => {
      server.once('connection', resolve);
      server.once('error', reject);
    });
    const r = net.connect({ path: file, onread: read });
    reader = r;
    await new Promise<void>((resolve, reject) => {
      r.once('connect', () => resolve());
      r.once('error', reject);
    });
    const childEnd = await accepted;
    return { childEnd, reader: r };
  } catch (e) {
    reader?.destroy();
    throw e;
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
