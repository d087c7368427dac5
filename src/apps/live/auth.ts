import { isIP } from 'node:net';

// One token implementation for the live server and the restore service (util/tokens.ts: 128-bit base64url,
// constant-time comparison of hashes).
export { generateToken, tokensEqual as tokenMatches } from '../../util/tokens.ts';

/**
 * Whether a request's `Host` header names this server, which defeats DNS rebinding (a hostile page whose
 * name is made to resolve to this server is same-origin with itself, so the Origin check alone passes it).
 * Allowed: an IP address literal (it cannot be rebound), `localhost`, the name the server binds to, or a
 * name in `allowed` (case-insensitive, any port; `*` allows every name). A missing Host is refused.
 */
export function hostAllowed(host: string | undefined, bindHost: string, allowed: readonly string[]): boolean {
  if (!host) return false;
  if (allowed.includes('*')) return true;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/.exec(host.trim());
  if (!m) return false;
  if (m[1] !== undefined) return isIP(m[1]) === 6;
  const name = m[2]!.toLowerCase().replace(/\.$/, '');
  if (isIP(name) === 4 || name === 'localhost' || name === bindHost.toLowerCase()) return true;
  return allowed.some((a) => a.toLowerCase().replace(/\.$/, '') === name);
}

/**
 * Whether a WebSocket upgrade's Origin may connect. Browsers always send Origin; it must be the server's
 * own origin or one listed. Non-browser clients (restore peers, tools) send none and are allowed here:
 * they still need a token, and Origin only protects against cross-site pages driving a user's browser.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, secure: boolean, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  if (!host) return false;
  return origin === `${secure ? 'https' : 'http'}://${host}`;
}
