/** The live modules log through the shared Logger surface (src/util/logger.ts). */
export type { Logger as LiveLogger } from '../../util/logger.ts';
export { silentLogger } from '../../util/logger.ts';
