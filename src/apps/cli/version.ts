import { readFileSync } from 'node:fs';

/** The package's version (package.json sits three levels up from src/apps/cli and from dist/apps/cli alike). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
