import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFaceRestoreError } from '../src/errors.ts';
import { MODEL_REGISTRY, type RegistryEntry } from '../src/models/registry.ts';
import { addModel, pullModel, resolveModelRef, weightsDir } from '../src/models/store.ts';
import { runFacerestore } from './helpers/cli.ts';
import { startModelServer } from './helpers/modelServer.ts';
import { shared } from './helpers/paths.ts';

const INPAINT = shared('fixtures/codeformer-inpainting-small/codeformer_inpainting_small.pth');
const COLOR = shared('fixtures/codeformer-colorization-small/codeformer_colorization_small.pth');
const GFPGAN = shared('fixtures/gfpgan-small/gfpgan_small.pth');
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

let dir: string;
let cacheDir: string;
let srv: Awaited<ReturnType<typeof startModelServer>>;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fr-models-cli-'));
  cacheDir = path.join(dir, 'cache');
  // The fixtures stand in for the release files under their official names (never the internet).
  srv = await startModelServer({ 'codeformer_inpainting.pth': INPAINT, 'GFPGANv1.4.pth': GFPGAN, 'codeformer.pth': COLOR });
  env = { FACERESTORE_CACHE_DIR: cacheDir, FACERESTORE_MODEL_BASE_URL: srv.baseUrl };
});
afterAll(async () => {
  await srv.close();
  await rm(dir, { recursive: true, force: true });
});

describe('facerestore models list | pull | add | verify', () => {
  it('list names every registry entry with file, size, licence, and nothing cached yet', async () => {
    const r = await runFacerestore(['models', 'list', '--json'], env);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ name: string; file: string; licence: string; cached: boolean; sha256: string | null; sha256Confirmed: boolean }>;
    expect(rows.map((x) => x.name)).toEqual(MODEL_REGISTRY.map((e) => e.name));
    expect(rows.map((x) => x.file)).toEqual(expect.arrayContaining(['codeformer.pth', 'codeformer_inpainting.pth', 'codeformer_colorization.pth', 'GFPGANv1.3.pth', 'GFPGANv1.4.pth', 'RealESRGAN_x2plus.pth', 'RealESRGAN_x4plus.pth']));
    expect(rows.every((x) => !x.cached)).toBe(true);
    expect(rows.find((x) => x.name === 'codeformer')).toMatchObject({ sha256: '1009e537e0c2a07d4cabce6355f53cb66767cd4b4297ec7a4a64ca4b8a5684b7', sha256Confirmed: true });
    expect(rows.find((x) => x.name === 'codeformer')!.licence).toMatch(/S-Lab.*non-commercial/);
    const text = await runFacerestore(['models', 'list'], env);
    expect(text.stdout).toContain('codeformer_colorization.pth (size unpublished)');
    expect(text.stdout).toContain('not cached');
  });

  it('pull of a model without a published sha256 downloads it, warns that the hash could not be checked, and records it', async () => {
    const r = await runFacerestore(['models', 'pull', 'codeformer-inpainting'], env);
    expect(r.stderr).toContain('non-commercial');
    expect(r.stderr).toContain('no published sha256 to check the download against');
    expect(r.code).toBe(0);
    const stored = path.join(weightsDir(cacheDir), 'codeformer_inpainting.pth');
    expect(r.stdout.trim()).toBe(stored);
    expect(sha(stored)).toBe(sha(INPAINT));
    const rows = JSON.parse((await runFacerestore(['models', 'list', '--json'], env)).stdout) as Array<{ name: string; cached: boolean; verification: string | null; cachedSha256: string | null }>;
    expect(rows.find((x) => x.name === 'codeformer-inpainting')).toMatchObject({ cached: true, verification: 'recorded', cachedSha256: sha(INPAINT) });
  });

  it('pull of a file whose sha256 differs from the published one fails with E_DOWNLOAD (exit 12) and deletes it', async () => {
    const r = await runFacerestore(['models', 'pull', 'gfpgan-1.4'], env);
    expect(r.code).toBe(12);
    expect(r.stderr).toMatch(/\[E_DOWNLOAD\].*sha256 mismatch.*deleted/);
    expect(readdirSync(weightsDir(cacheDir)).filter((f) => f.startsWith('GFPGANv1.4'))).toEqual([]);
  });

  it('pull of a file whose announced size differs from the published one is refused before it is written', async () => {
    const r = await runFacerestore(['models', 'pull', 'codeformer'], env);
    expect(r.code).toBe(12);
    expect(r.stderr).toMatch(/announces \d+ bytes, expected 376637898/);
    expect(existsSync(path.join(weightsDir(cacheDir), 'codeformer.pth'))).toBe(false);
  });

  it('pull of a name the server does not have is E_DOWNLOAD with the HTTP status; an unknown name is E_CONFIG listing the names', async () => {
    const r = await runFacerestore(['models', 'pull', 'realesrgan-x2plus'], env);
    expect(r.code).toBe(12);
    expect(r.stderr).toContain('HTTP 404');
    const u = await runFacerestore(['models', 'pull', 'nope'], env);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/\[E_CONFIG\]: unknown model 'nope'; known models: codeformer, /);
  });

  it('add registers a local copy by --name; without a name an unknown file is refused, and a hash clash needs --force', async () => {
    const none = await runFacerestore(['models', 'add', COLOR], env);
    expect(none.code).toBe(4);
    expect(none.stderr).toMatch(/\[E_MODEL_INVALID\].*is not a known release; name the model with --name/);
    const clash = await runFacerestore(['models', 'add', GFPGAN, '--name', 'gfpgan-1.4'], env);
    expect(clash.code).toBe(4);
    expect(clash.stderr).toMatch(/differs from the published gfpgan-1\.4 release/);
    const ok = await runFacerestore(['models', 'add', COLOR, '--name', 'codeformer-colorization'], env);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain(`no published sha256; recorded ${sha(COLOR)}`);
    expect(sha(ok.stdout.trim())).toBe(sha(COLOR));
  });

  it('a pulled or added registry name works like a path: models build takes it, restore --model refuses one not cached', async () => {
    const out = path.join(dir, 'colorization.onnx');
    const b = await runFacerestore(['models', 'build', 'codeformer-colorization', '-o', out], env);
    expect(b.code, b.stderr).toBe(0);
    expect(readFileSync(out).length).toBeGreaterThan(1000);
    const missing = await runFacerestore(['restore', shared('footage/short_hamilton_clip.mp4'), '-o', path.join(dir, 'o.mp4'), '--model', 'codeformer'], env);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/\[E_MODEL_MISSING\]: model 'codeformer' is not in the cache.*models pull codeformer/);
  });

  it('restore --model <registry name> runs the stored checkpoint (added with --force: the fixture is not the release)', async () => {
    const fixture = shared('fixtures/codeformer-small/codeformer_small.pth');
    const add = await runFacerestore(['models', 'add', fixture, '--name', 'codeformer', '--force'], env);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stderr).toContain('DIFFERS from the published value (added with --force)');
    const list = JSON.parse((await runFacerestore(['models', 'list', '--json'], env)).stdout) as Array<{ name: string; verification: string | null }>;
    expect(list.find((x) => x.name === 'codeformer')!.verification).toBe('mismatch');
    const out = path.join(dir, 'restored.mp4');
    const r = await runFacerestore(['restore', shared('footage/short_hamilton_clip.mp4'), '-o', out, '--model', 'codeformer', '--duration', '1.2', '--preset', 'ultrafast', '--no-progress', '--threads', '2', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/restorer: (?!classic)/);
    expect(JSON.parse(r.stdout).frames).toBeGreaterThan(0);
    expect(existsSync(out)).toBe(true);
  });

  it('verify says a file is not a known release', async () => {
    const r = await runFacerestore(['models', 'verify', INPAINT, '--json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ sha256: sha(INPAINT), official: false, release: null });
  });
});

describe('store: recognition by sha256 and name resolution', () => {
  const fake: RegistryEntry = { ...MODEL_REGISTRY[0]!, name: 'fake', file: 'fake.pth', sha256: sha(GFPGAN), bytes: undefined };

  it('add recognises a file by its published sha256 without --name, as verified', async () => {
    const cache = path.join(dir, 'cache2');
    const r = await addModel(GFPGAN, { cacheDir: cache }, [fake]);
    expect(r).toMatchObject({ name: 'fake', verification: 'published', sha256: sha(GFPGAN) });
    expect(resolveModelRef('fake', cache, [fake])).toBe(path.join(weightsDir(cache), 'fake.pth'));
  });

  it('a pull refuses while another live process holds the lock, and takes over a lock whose process is gone', async () => {
    const cache = path.join(dir, 'cache3');
    const entry: RegistryEntry = { ...MODEL_REGISTRY[0]!, name: 'fake', file: 'fake.pth', sha256: sha(GFPGAN), bytes: undefined };
    const local = await startModelServer({ 'fake.pth': GFPGAN });
    try {
      mkdirSync(weightsDir(cache), { recursive: true });
      const lock = path.join(weightsDir(cache), 'fake.pth.lock');
      writeFileSync(lock, String(process.pid));
      const err = await pullModel(entry, { cacheDir: cache, baseUrl: local.baseUrl }).catch((e: unknown) => e);
      expect(isFaceRestoreError(err, 'E_DOWNLOAD')).toBe(true);
      expect((err as Error).message).toContain(`another pull (process ${process.pid})`);
      expect(local.requests).toEqual([]);
      const gone = spawnSync('true').pid!;
      writeFileSync(lock, String(gone));
      const r = await pullModel(entry, { cacheDir: cache, baseUrl: local.baseUrl });
      expect(r).toMatchObject({ verification: 'published', sha256: sha(GFPGAN) });
      expect(existsSync(lock)).toBe(false);
    } finally {
      await local.close();
    }
  });

  it('resolveModelRef leaves paths and unknown names alone and refuses a registry name not cached', () => {
    expect(resolveModelRef(GFPGAN, path.join(dir, 'empty'))).toBe(GFPGAN);
    expect(resolveModelRef('not-a-model.onnx', path.join(dir, 'empty'))).toBe('not-a-model.onnx');
    expect(resolveModelRef(undefined, path.join(dir, 'empty'))).toBeUndefined();
    let err: unknown;
    try {
      resolveModelRef('realesrgan-x4plus', path.join(dir, 'empty'));
    } catch (e) {
      err = e;
    }
    expect(isFaceRestoreError(err, 'E_MODEL_MISSING')).toBe(true);
  });
});
