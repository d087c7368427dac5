import { Redis } from 'ioredis';
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

/**
 * An ioredis client for BullMQ (which needs `maxRetriesPerRequest: null`: commands wait through a
 * reconnect instead of failing, so a Redis restart pauses the workers rather than failing their jobs).
 * Connection errors go to `onError` (ioredis keeps reconnecting); the latest one is kept for messages.
 */
export function createRedis(url: string, name: string, onError?: (e: Error) => void): Redis & { lastError?: Error } {
  checkRedisUrl(url);
  const client: Redis & { lastError?: Error } = new Redis(url, { maxRetriesPerRequest: null, connectionName: name });
  client.on('error', (e: Error) => {
    client.lastError = e;
    onError?.(e);
  });
  return client;
}

/** Resolves when `client` answers PING; rejects with E_UNAVAILABLE (exit 11, not 9: no job failed) after `timeoutMs` (a command-line tool should not hang on a wrong URL). */
export async function ensureReachable(client: Redis & { lastError?: Error }, url: string, timeoutMs = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          const why = client.lastError ? `: ${client.lastError.message}` : '';
          reject(new FaceRestoreError('E_UNAVAILABLE', `cannot reach Redis at ${redactRedisUrl(url)} within ${timeoutMs / 1000} s${why} (set --redis or FACERESTORE_REDIS_URL)`));
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
