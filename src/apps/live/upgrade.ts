import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { parseRequestTarget } from '../../util/requestTarget.ts';
import { hostAllowed, originAllowed } from './auth.ts';
import type { LiveLogger } from './logger.ts';

/** What the upgrade handler checks. */
export interface UpgradeOptions {
  /** The server speaks TLS (its own origin is then https://host). */
  secure: boolean;
  /** Extra origins allowed to open the WebSocket. */
  allowedOrigins: readonly string[];
  /** Address or name the server binds to (a Host naming it is allowed). */
  bindHost: string;
  /** Extra names a `Host` header may carry (DNS rebinding defence; IP literals and localhost always pass). */
  allowedHosts: readonly string[];
  /** Most simultaneous connections (503 beyond). */
  maxConnections: number;
  /** Most connections not yet joined, all addresses together (503 beyond): they cannot crowd out joins. */
  maxUnjoined: number;
  /** Most connections not yet joined from one remote address (503 beyond). */
  maxUnjoinedPerAddress: number;
}

/** How many connections the server holds, and how many of them have not joined (in total and from one address). */
export interface ConnectionLoad {
  connections: number;
  unjoined: number;
  unjoinedFromAddress: number;
}

/** Path of the signaling endpoint. */
export const SIGNALING_PATH = '/ws';

/**
 * The HTTP `upgrade` handler: only `/ws`, only with a Host naming this server (see hostAllowed), only from an allowed Origin (browsers; clients without Origin
 * pass, they still need a token), only below the connection limit and the quotas of connections that have not joined yet (in all and per address); the rest is refused with a status
 * line (400 malformed target, 404, 403, 503) and the socket closed. It never throws: an `upgrade`
 * listener that throws takes the whole server down, mediasoup worker and all.
 */
export function upgradeHandler(
  wss: WebSocketServer,
  o: UpgradeOptions,
  load: (remoteAddress: string) => ConnectionLoad,
  accept: (ws: WebSocket, req: http.IncomingMessage) => void,
  log: LiveLogger,
): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    socket.on('error', () => undefined);
    const reject = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    try {
      const target = parseRequestTarget(req.url);
      if (!target) return reject(400, 'Bad Request');
      if (target.pathname !== SIGNALING_PATH) return reject(404, 'Not Found');
      if (!hostAllowed(req.headers.host, o.bindHost, o.allowedHosts)) {
        log.warn({ host: req.headers.host }, 'WebSocket refused: Host not allowed');
        return reject(403, 'Forbidden');
      }
      if (!originAllowed(req.headers.origin, req.headers.host, o.secure, o.allowedOrigins)) {
        log.warn({ origin: req.headers.origin }, 'WebSocket refused: origin not allowed');
        return reject(403, 'Forbidden');
      }
      const l = load(req.socket.remoteAddress ?? '?');
      if (l.connections >= o.maxConnections) return reject(503, 'Service Unavailable');
      if (l.unjoined >= o.maxUnjoined || l.unjoinedFromAddress >= o.maxUnjoinedPerAddress) {
        log.warn({ remote: req.socket.remoteAddress, unjoined: l.unjoined, fromAddress: l.unjoinedFromAddress }, 'WebSocket refused: too many connections that have not joined');
        return reject(503, 'Service Unavailable');
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        try {
          accept(ws, req);
        } catch (e) {
          log.error({ err: (e as Error)?.message }, 'cannot accept a WebSocket connection');
          ws.terminate();
        }
      });
    } catch (e) {
      log.error({ err: (e as Error)?.message }, 'WebSocket upgrade failed');
      if (!socket.destroyed) reject(400, 'Bad Request');
    }
  };
}
