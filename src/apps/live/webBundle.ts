import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../../util/atomicFile.ts';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FaceRestoreError } from '../../errors.ts';

/** Directory of the page's static files (plain JS, served as they are). */
export const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));

/**
 * Where an offline bundle (scripts/bundle.sh) puts the browser bundle it made at build time, so that it runs
 * without rolldown (and its 21 MB native binding).
 */
export const PREBUILT_DIR = fileURLToPath(new URL('./web-vendor/', import.meta.url));

/**
 * Bundles mediasoup-client for the browser (one ES module exporting `Device`) into
 * `<cacheDir>/web/mediasoup-client-<version>.js` and returns that path; a cached bundle is reused, and one in
 * PREBUILT_DIR (an offline bundle's) is used as it is.
 * The bundler is rolldown, a runtime dependency (pinned to the version vite uses), so production installs
 * without dev dependencies bundle too.
 */
export async function ensureMediasoupClientBundle(cacheDir: string): Promise<string> {
  const main = createRequire(import.meta.url).resolve('mediasoup-client');
  const root = main.slice(0, main.lastIndexOf(`${path.sep}node_modules${path.sep}`));
  const { version } = await import('mediasoup-client');
  const prebuilt = path.join(PREBUILT_DIR, `mediasoup-client-${version}.js`);
  if (existsSync(prebuilt)) return prebuilt;
  const out = path.join(cacheDir, 'web', `mediasoup-client-${version}.js`);
  if (existsSync(out)) return out;
  let build: typeof import('rolldown').build;
  try {
    ({ build } = await import('rolldown'));
  } catch (e) {
    throw new FaceRestoreError('E_CONFIG', `cannot bundle mediasoup-client for the page: rolldown is not installed (npm ci installs it); expected the bundle at ${out}`, { cause: e });
  }
  const entry = path.join(WEB_DIR, 'vendor-entry.js');
  const result = await build({
    input: entry,
    platform: 'browser',
    write: false,
    cwd: root,
    logLevel: 'silent',
    output: { format: 'esm', minify: true },
  });
  const chunk = result.output.find((o) => o.type === 'chunk');
  if (!chunk || chunk.type !== 'chunk') throw new FaceRestoreError('E_INTERNAL', 'bundling mediasoup-client produced no output');
  await writeFileAtomic(out, `/* mediasoup-client ${version}, bundled for the browser by facerestore */\n${chunk.code}`);
  return out;
}
