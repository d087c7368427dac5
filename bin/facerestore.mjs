#!/usr/bin/env node
// Launcher: runs the CLI on Node >= 22.18. Installed from the package, it runs the compiled dist/ (Node does not
// strip types under node_modules). In a checkout it runs .build/, the sources compiled by set-up, while that
// build matches the sources as they are (bin/sourceStamp.mjs), else the TypeScript sources themselves (type
// stripping costs about 0.3 s of CPU more at every start). Not dist/: `npm pack` deletes and rebuilds that
// folder (prepack/postpack), which would pull it from under a CLI started meanwhile.
// When started by an older Node (the system's, e.g. through npx), it re-executes itself with the
// Node that the project's set-up installed into .tools/node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildIsFresh } from './sourceStamp.mjs';

const [major, minor] = process.versions.node.split('.').map(Number);
const ok = major > 22 || (major === 22 && minor >= 18);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (!ok) {
  const local = path.join(root, '.tools', 'node', 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(local)) {
    process.stderr.write(`facerestore needs Node >= 22.18 (this is ${process.version}); run \`npm run setup\` (bash scripts/setup.sh) first.\n`);
    process.exit(2);
  }
  const r = spawnSync(local, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const source = path.join(root, 'src', 'apps', 'cli', 'main.ts');
const built = path.join(root, '.build');
const entry = !existsSync(source)
  ? path.join(root, 'dist', 'apps', 'cli', 'main.js')
  : buildIsFresh(path.join(root, 'src'), built)
    ? path.join(built, 'apps', 'cli', 'main.js')
    : source;
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
