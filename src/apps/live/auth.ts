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
export function originAllowed(origin: string | undefined, host: string | undefined, secure: boolean, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  if (!host) return false;
  return origin === `${secure ? 'https' : 'http'}://${host}`;
}
