/** The job system logs through the shared Logger surface (src/util/logger.ts). */
export type { Logger as JobLogger } from '../../util/logger.ts';
export { silentLogger as silentJobLogger } from '../../util/logger.ts';
