import net from 'node:net';

/**
 * Sends `request` as raw bytes to 127.0.0.1:`port` (what no HTTP client would send: broken request
 * targets) and resolves with everything the server answered until it closed the connection, or after
 * `timeoutMs` with what came so far.
 */
export function rawRequest(port: number, request: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.once('connect', () => socket.write(request));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      // The server may reset after answering; what it sent still counts.
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return;
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** The status code of a raw HTTP answer's first line (undefined when there is none). */
export function statusOf(answer: string): number | undefined {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(answer);
  return m ? Number(m[1]) : undefined;
}

/** Requests with request targets `new URL` throws on (absolute form with a broken IPv6 host, `//` with a broken host). */
export const BROKEN_TARGETS = ['http://[::1', '//[', 'http://[', '//[::1]:x/ws'] as const;

/** A WebSocket upgrade request for `target`. */
export function upgradeRequest(target: string): string {
  return `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
}

/** A plain GET for `target`, closing afterwards. */
export function getRequest(target: string): string {
  return `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
}
