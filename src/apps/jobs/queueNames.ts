/** Default BullMQ queue name of the job system (`--queue` picks another, e.g. one per site). */
export const DEFAULT_QUEUE = 'facerestore';

/** BullMQ key prefix (BullMQ's default, so standard dashboards find the queue). */
export const QUEUE_PREFIX = 'bull';
