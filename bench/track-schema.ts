/**
 * Writes docs/tracks-schema.json from the zod schema in src/track/trackExport.ts (the test
 * test/track-export.test.ts fails when the two differ). Run: node bench/track-schema.ts
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tracksJsonSchema } from '../src/track/trackExport.ts';

export const SCHEMA_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/tracks-schema.json');

/** The file's expected text. */
export function schemaText(): string {
  return `${JSON.stringify(tracksJsonSchema(), null, 2)}\n`;
}

if (import.meta.main) {
  writeFileSync(SCHEMA_FILE, schemaText());
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}
