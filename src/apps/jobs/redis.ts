import { Redis } from 'ioredis';
import { FaceRestoreError } from '../../errors.ts';
import { checkRedisUrl, redactRedisUrl } from './redisUrl.ts';

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
