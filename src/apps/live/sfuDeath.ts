import type { LiveLogger } from './logger.ts';
import type { Session } from './session.ts';
import type { Sfu } from './sfu.ts';

/** What connections are told when the media server dies. */
export const SFU_DIED_MESSAGE = 'the media server (mediasoup worker) crashed; see the server log';

/**
 * What a mediasoup worker death means for the server. By the time the SFU emits `died`, mediasoup has
 * closed every router with the worker, and each room has closed itself on its router's `workerclose`
 * and left the registry (announced as `roomclose`, reason `workerclose`). What is left to do is here:
 * every connection is told (E_INTERNAL) and closed, so browsers and restore peers see the failure at
 * once instead of a frozen picture; when they reconnect and join, the SFU starts a fresh worker.
 * Returns the function that stops watching.
 */
export function watchSfuDeath(sfu: Sfu, sessions: () => Iterable<Session>, log: LiveLogger): () => void {
  const onDied = (error: Error) => {
    let n = 0;
    for (const s of sessions()) {
      s.fail('E_INTERNAL', SFU_DIED_MESSAGE);
      n++;
    }
    log.error({ err: error.message, connections: n }, 'media server died: connections closed');
  };
  sfu.on('died', onDied);
  return () => sfu.off('died', onDied);
}
