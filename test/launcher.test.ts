/**
 * bin/facerestore.mjs picks what it runs: a checkout's compiled .build/ only while it matches the sources
 * (bin/sourceStamp.mjs), else the TypeScript sources; the package's dist/ where there are no sources.
 * Run on a throw-away root with three tiny entry points that say which one ran.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildIsFresh, sourceStamp, STAMP_FILE } from '../bin/sourceStamp.mjs';
import { repo } from './helpers/paths.ts';

const run = promisify(execFile);
const root = mkdtempSync(path.join(os.tmpdir(), 'fr-launcher-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function entry(dir: string, file: string, says: string): void {
  mkdirSync(path.join(root, dir, 'apps', 'cli'), { recursive: true });
  writeFileSync(path.join(root, dir, 'apps', 'cli', file), `export async function main(args) { process.stdout.write('${says} ' + args.join(',')); return 0; }\n`);
}
const stamp = () => writeFileSync(path.join(root, '.build', STAMP_FILE), JSON.stringify(sourceStamp(path.join(root, 'src'))));
const launch = async () => (await run(process.execPath, [path.join(root, 'bin', 'facerestore.mjs'), 'a', 'b'])).stdout;

describe('the launcher', () => {
  cpSync(repo('bin'), path.join(root, 'bin'), { recursive: true });
  entry('src', 'main.ts', 'src');
  writeFileSync(path.join(root, 'src', 'other.ts'), 'export const x = 1;\n');
  entry('.build', 'main.js', 'build');
  entry('dist', 'main.js', 'dist');

  it('runs the sources while there is no build stamp, the build once it matches them', async () => {
    expect(buildIsFresh(path.join(root, 'src'), path.join(root, '.build'))).toBe(false);
    expect(await launch()).toBe('src a,b');
    stamp();
    expect(buildIsFresh(path.join(root, 'src'), path.join(root, '.build'))).toBe(true);
    expect(await launch()).toBe('build a,b');
  });

  it('goes back to the sources when one of them is edited, touched (later or earlier) or added, or the stamp is unreadable', async () => {
    const other = path.join(root, 'src', 'other.ts');
    writeFileSync(other, 'export const x = 22;\n');
    expect(await launch()).toBe('src a,b');
    stamp();
    expect(await launch()).toBe('build a,b');
    const later = new Date(Date.now() + 5000);
    utimesSync(other, later, later);
    expect(await launch()).toBe('src a,b');
    stamp();
    // Older than the newest source, same size (a copy that kept an old time): still seen.
    const earlier = new Date('2000-01-01T00:00:00Z');
    utimesSync(other, earlier, earlier);
    expect(await launch()).toBe('src a,b');
    stamp();
    writeFileSync(path.join(root, 'src', 'new.ts'), '');
    expect(await launch()).toBe('src a,b');
    stamp();
    expect(await launch()).toBe('build a,b');
    writeFileSync(path.join(root, '.build', STAMP_FILE), '{not json');
    expect(await launch()).toBe('src a,b');
  });

  it("runs the package's dist/ where there are no sources (an npm install)", async () => {
    rmSync(path.join(root, 'src'), { recursive: true });
    expect(await launch()).toBe('dist a,b');
  });
});
