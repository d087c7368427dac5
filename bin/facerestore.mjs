#!/usr/bin/env node
// Launcher: runs the CLI on Node >= 22.18 (type stripping runs the TypeScript sources directly).
// When started by an older Node (the system's, e.g. through npx), it re-executes itself with the
// Node that the project's set-up installed into .tools/node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
const { main } = await import(path.join(root, 'src', 'apps', 'cli', 'main.ts'));
process.exitCode = await main(process.argv.slice(2));
