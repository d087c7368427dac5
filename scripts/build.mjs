#!/usr/bin/env node
// Compiles src/ to dist/ (JavaScript + .d.ts, relative `.ts` imports rewritten to `.js`) and copies the
// live web client's static files, so that the package runs from node_modules, where Node refuses to
// strip types. `npm pack` / `npm publish` run it (prepack).
// `node scripts/build.mjs --out DIR` writes there instead of dist/ (scripts/bundle.sh builds into its staging folder).
// It also writes the sources' stamp (bin/sourceStamp.mjs). Set-up builds into .build/ (`--out .build`), which a
// checkout's launcher runs instead of src/ while the stamp still matches: no type stripping at every start.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceStamp, STAMP_FILE } from '../bin/sourceStamp.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outAt = process.argv.indexOf('--out');
const dist = outAt > 0 && process.argv[outAt + 1] ? path.resolve(process.argv[outAt + 1]) : path.join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
// Taken before compiling: a source changed while tsc runs then leaves a stamp that no longer matches.
const stamp = sourceStamp(path.join(root, 'src'));
const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
// stdout stays clean for `npm pack --json`: tsc's messages go to stderr.
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', dist], { stdio: ['ignore', 2, 2] });
if (r.status !== 0) {
  rmSync(dist, { recursive: true, force: true });
  process.stderr.write('build: tsc failed\n');
  process.exit(r.status ?? 1);
}
cpSync(path.join(root, 'src', 'apps', 'live', 'web'), path.join(dist, 'apps', 'live', 'web'), { recursive: true });
writeFileSync(path.join(dist, STAMP_FILE), `${JSON.stringify(stamp)}\n`);
process.stderr.write(`build: wrote ${path.relative(process.cwd(), dist) || dist}\n`);
