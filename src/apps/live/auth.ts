import { isIP } from 'node:net';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh random token (URL-safe, 128 bits). */
export function generateToken(): string {
  return randomBytes(16).toString('base64url');
}

/** Compares a presented token with the expected one in constant time (hashes equalise the lengths). */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * Whether a WebSocket upgrade's Origin may connect. Browsers always send Origin; it must be the server's
 * own origin or one listed. Non-browser clients (restore peers, tools) send none and are allowed here:
 * they still need a token, and Origin only protects against cross-site pages driving a user's browser.
 */
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

export function originAllowed(origin: string | undefined, host: string | undefined, secure: boolean, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  if (!host) return false;
  return origin === `${secure ? 'https' : 'http'}://${host}`;
}
