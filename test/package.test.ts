/**
 * The packed package works from another project's node_modules (where Node refuses to strip types):
 * `npm pack` (prepack compiles src to dist), `npm install --offline <tgz>` into a temporary project,
 * then the installed CLI and `import { createPipeline } from 'facerestore'` run from there.
 *
 * Offline install: the temporary project's node_modules gets one symlink per declared dependency (into
 * this checkout's node_modules, inside real scope folders: never a symlinked scope folder or .bin, which
 * npm would prune through the link), so npm resolves every dependency without the registry.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffprobeJson } from './helpers/media.ts';
import { repo, shared } from './helpers/paths.ts';

const run = promisify(execFile);
let tmp: string;
let project: string;
let tarball: string;
let pkg: { version: string; dependencies: Record<string, string> };

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-pack-'));
  pkg = JSON.parse(await readFile(repo('package.json'), 'utf8'));
  const packed = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: repo('.'), maxBuffer: 64 << 20 });
  tarball = path.join(tmp, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
  project = path.join(tmp, 'consumer');
  await mkdir(path.join(project, 'node_modules'), { recursive: true });
  await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  const modules = await realpath(repo('node_modules'));
  for (const dep of Object.keys(pkg.dependencies)) {
    await mkdir(path.dirname(path.join(project, 'node_modules', dep)), { recursive: true });
    await symlink(path.join(modules, dep), path.join(project, 'node_modules', dep), 'dir');
  }
  await run('npm', ['install', '--offline', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: project, maxBuffer: 64 << 20 });
}, 180_000);
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships compiled JavaScript with declarations and no TypeScript sources; packing leaves no dist/ in the checkout', async () => {
    const installed = path.join(project, 'node_modules', 'facerestore');
    expect((await realpath(installed)).split(path.sep)).toContain('node_modules');
    expect(existsSync(path.join(installed, 'dist', 'index.js'))).toBe(true);
    expect(existsSync(path.join(installed, 'dist', 'index.d.ts'))).toBe(true);
    expect(existsSync(path.join(installed, 'dist', 'restore', 'classicWorker.js'))).toBe(true);
    expect(existsSync(path.join(installed, 'dist', 'apps', 'live', 'web', 'index.html'))).toBe(true);
    expect(existsSync(path.join(installed, 'src'))).toBe(false);
    const js = await readFile(path.join(installed, 'dist', 'index.js'), 'utf8');
    expect(js).not.toMatch(/from '\.[^']*\.ts'/);
    expect(existsSync(repo('dist'))).toBe(false);
  });

  it('the installed CLI prints its version and restores a clip', async () => {
    const bin = path.join(project, 'node_modules', '.bin', 'facerestore');
    const v = await run(process.execPath, [bin, '--version'], { cwd: project });
    expect(v.stdout.trim()).toBe(pkg.version);
    const out = path.join(tmp, 'restored.mp4');
    const r = await run(process.execPath, [bin, 'restore', shared('footage/retalk_1.mp4'), '-o', out, '--restorer', 'classic', '--duration', '0.4', '--preset', 'ultrafast', '--json'], { cwd: project, maxBuffer: 16 << 20 });
    const summary = JSON.parse(r.stdout);
    expect(summary.version).toBe(pkg.version);
    expect(summary.restorer).toMatch(/^classic/); // its worker threads start from dist/restore/classicWorker.js
    expect(summary.faces).toBeGreaterThan(0);
    const probe = await ffprobeJson(out);
    expect(Number(probe.streams.find((s) => s.codec_type === 'video')!.nb_read_frames)).toBe(summary.frames);
  }, 120_000);

  it("`import { createPipeline } from 'facerestore'` works from the other project", async () => {
    const script = path.join(project, 'use.mjs');
    await writeFile(
      script,
      [
        "import { createPipeline } from 'facerestore';",
        "const p = await createPipeline({ restorer: 'none' });",
        'try {',
        `  const s = await p.restoreFile(${JSON.stringify(shared('footage/retalk_1.mp4'))}, ${JSON.stringify(path.join(tmp, 'lib.mp4'))}, { preset: 'ultrafast' }, { duration: 0.3 });`,
        "  console.log(JSON.stringify({ frames: s.frames, faces: s.faces, url: import.meta.resolve('facerestore') }));",
        '} finally { await p.close(); }',
      ].join('\n'),
    );
    const r = await run(process.execPath, [script], { cwd: project });
    const res = JSON.parse(r.stdout);
    expect(res.frames).toBeGreaterThan(0);
    expect(res.faces).toBeGreaterThan(0);
    expect(res.url).toMatch(/node_modules\/facerestore\/dist\/index\.js$/);
    expect(existsSync(path.join(tmp, 'lib.mp4'))).toBe(true);
    expect((await readdir(path.join(project, 'node_modules', 'facerestore'))).sort()).toEqual(expect.arrayContaining(['bin', 'dist', 'package.json']));
  }, 120_000);

  it('its declarations type-check a TypeScript consumer (no skipLibCheck) and catch a wrong option type', async () => {
    const dir = path.join(project, 'typed');
    await mkdir(dir, { recursive: true });
    await writeFile(
      path.join(dir, 'use.ts'),
      [
        "import { createPipeline, FaceRestoreError, type RunSummary } from 'facerestore';",
        "const p = await createPipeline({ restorer: 'none', fidelity: 0.5 });",
        "const s: RunSummary = await p.restoreFile('a.mp4', 'b.mp4');",
        'const n: number = s.frames;',
        "console.log(n, new FaceRestoreError('E_USAGE', 'x').code);",
      ].join('\n'),
    );
    const config = { compilerOptions: { module: 'nodenext', target: 'es2023', strict: true, noEmit: true, types: ['node'], typeRoots: [repo('node_modules/@types')] }, files: ['use.ts'] };
    await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify(config));
    const tsc = repo('node_modules/typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', dir], { cwd: dir }); // rejects on any type error
    await writeFile(path.join(dir, 'use.ts'), "import { createPipeline } from 'facerestore';\nawait createPipeline({ fidelity: 'high' });\n");
    const bad = await run(process.execPath, [tsc, '-p', dir], { cwd: dir }).catch((e: { stdout: string }) => e);
    expect((bad as { stdout: string }).stdout).toMatch(/use\.ts\(2,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
  }, 120_000);
});
