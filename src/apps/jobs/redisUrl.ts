/** Redis URLs checked and redacted without loading a Redis client (the CLI checks `--redis` before it loads ioredis). */
import { FaceRestoreError } from '../../errors.ts';

/** A Redis URL with any password hidden, for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** Checks that `url` is a redis:// or rediss:// URL (E_USAGE otherwise). */
export function checkRedisUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FaceRestoreError('E_USAGE', `Expected a Redis URL like redis://host:6379 but received '${url}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new FaceRestoreError('E_USAGE', `Expected a redis:// or rediss:// URL but received '${redactRedisUrl(url)}'`);
}
