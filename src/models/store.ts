/**
 * The local model store: registry files pulled or added into `<cacheDir>/weights`, with a manifest that
 * records each file's sha256 and whether it matched a published value. `--model <registry name>`
 * resolves here to the stored file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { FaceRestoreError } from '../errors.ts';
import { processAlive, writeFileAtomic } from '../util/atomicFile.ts';
import { fileProblem, sha256File } from './checkpoint.ts';
import { downloadFile } from './download.ts';
import { entryUrl, findRegistryEntry, MODEL_REGISTRY, registryEntryBySha256, type RegistryEntry } from './registry.ts';

/** One stored file, as the manifest records it. */
export interface StoredModel {
  name: string;
  file: string;
  sha256: string;
  bytes: number;
  /** 'published': matched the registry's published sha256; 'recorded': no published value, hash recorded; 'mismatch': added by hand and differs from the published value. */
  verification: 'published' | 'recorded' | 'mismatch';
  source: 'pull' | 'add';
  /** Where it came from: the URL, or the added file's path. */
  from: string;
}

interface Manifest {
  version: 1;
  models: Record<string, StoredModel>;
}

/** Directory holding the stored files. */
export function weightsDir(cacheDir: string): string {
  return path.join(cacheDir, 'weights');
}

function manifestPath(cacheDir: string): string {
  return path.join(weightsDir(cacheDir), 'manifest.json');
}

function parseManifest(text: string | undefined): Manifest {
  if (text === undefined) return { version: 1, models: {} };
  try {
    const m = JSON.parse(text) as Partial<Manifest>;
    if (m && m.version === 1 && typeof m.models === 'object' && m.models !== null) return { version: 1, models: m.models };
  } catch {
    // fall through: a damaged manifest is treated as empty (files are re-hashed when pulled or added)
  }
  return { version: 1, models: {} };
}

async function readManifest(cacheDir: string): Promise<Manifest> {
  return parseManifest(await readFile(manifestPath(cacheDir), 'utf8').catch(() => undefined));
}

async function writeManifest(cacheDir: string, m: Manifest): Promise<void> {
  await writeFileAtomic(manifestPath(cacheDir), Buffer.from(JSON.stringify(m, null, 2) + '\n'));
}

/** The registry entry named `name`; E_CONFIG naming the known ones otherwise. */
export function requireEntry(name: string, registry: readonly RegistryEntry[] = MODEL_REGISTRY): RegistryEntry {
  const e = findRegistryEntry(name, registry);
  if (!e) throw new FaceRestoreError('E_CONFIG', `unknown model '${name}'; known models: ${registry.map((r) => r.name).join(', ')}`);
  return e;
}

/** Options for {@link pullModel}. */
export interface PullOptions {
  cacheDir: string;
  /** Mirror base URL (Environment.modelBaseUrl). */
  baseUrl?: string | undefined;
  onProgress?: (received: number, total: number | undefined) => void;
  attempts?: number;
  signal?: AbortSignal;
}

/**
 * Takes `<target>.lock` (holding this process id) so that two pulls never write one `.part`; a lock
 * whose process is gone is taken over. Resolves to its release.
 */
async function lockDownload(target: string): Promise<() => Promise<void>> {
  const lock = `${target}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(lock, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => rm(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const pid = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
        throw new FaceRestoreError('E_DOWNLOAD', `another pull (process ${pid}) is downloading ${target}; wait for it, or remove ${lock} if that process is not facerestore`);
      }
      await rm(lock, { force: true }); // stale: its process is gone
    }
  }
}

/** Downloads a registry model into the store (resuming a partial file) and records it. */
export async function pullModel(entry: RegistryEntry, o: PullOptions): Promise<StoredModel & { path: string; resumed: boolean }> {
  const dir = weightsDir(o.cacheDir);
  await mkdir(dir, { recursive: true });
  const target = path.join(dir, entry.file);
  const unlock = await lockDownload(target);
  try {
    return await pullLocked(entry, o, target);
  } finally {
    await unlock();
  }
}

async function pullLocked(entry: RegistryEntry, o: PullOptions, target: string): Promise<StoredModel & { path: string; resumed: boolean }> {
  const url = entryUrl(entry, o.baseUrl);
  const r = await downloadFile({ url, target, bytes: entry.bytes, sha256: entry.sha256, onProgress: o.onProgress, attempts: o.attempts, signal: o.signal });
  const stored: StoredModel = { name: entry.name, file: entry.file, sha256: r.sha256, bytes: r.bytes, verification: r.verified ? 'published' : 'recorded', source: 'pull', from: url };
  const m = await readManifest(o.cacheDir);
  m.models[entry.name] = stored;
  await writeManifest(o.cacheDir, m);
  return { ...stored, path: target, resumed: r.resumed };
}

/**
 * Registers a local copy (air-gapped sites): hashes `file`, recognises the registry entry by its sha256
 * (or takes `name`), and copies it into the store. A file whose hash differs from the entry's published
 * value is refused unless `force`.
 */
export async function addModel(file: string, o: { cacheDir: string; name?: string | undefined; force?: boolean }, registry: readonly RegistryEntry[] = MODEL_REGISTRY): Promise<StoredModel & { path: string }> {
  let info;
  try {
    info = await stat(file);
  } catch (e) {
    throw new FaceRestoreError('E_INPUT_MISSING', `${file}: ${fileProblem(e)}`, { cause: e });
  }
  if (!info.isFile()) throw new FaceRestoreError('E_INPUT_MISSING', `${file}: is not a regular file`);
  const { sha256, bytes } = await sha256File(file);
  const entry = o.name !== undefined ? requireEntry(o.name, registry) : registryEntryBySha256(sha256, registry);
  if (!entry) {
    throw new FaceRestoreError('E_MODEL_INVALID', `${file} (sha256 ${sha256}) is not a known release; name the model with --name (known: ${registry.map((r) => r.name).join(', ')})`);
  }
  let verification: StoredModel['verification'] = entry.sha256 === undefined ? 'recorded' : entry.sha256 === sha256 ? 'published' : 'mismatch';
  if (verification === 'mismatch' && !o.force) {
    throw new FaceRestoreError('E_MODEL_INVALID', `${file}: sha256 ${sha256} differs from the published ${entry.name} release (${entry.sha256}); not added (--force adds it anyway)`, {
      details: { sha256, expected: entry.sha256 },
    });
  }
  const dir = weightsDir(o.cacheDir);
  await mkdir(dir, { recursive: true });
  const target = path.join(dir, entry.file);
  if (path.resolve(file) !== path.resolve(target)) {
    const tmp = `${target}.add-${process.pid}`;
    try {
      await copyFile(file, tmp);
      await rename(tmp, target);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new FaceRestoreError('E_OUTPUT', `cannot copy ${file} into ${dir}: ${(e as Error).message}`, { cause: e });
    }
  }
  const stored: StoredModel = { name: entry.name, file: entry.file, sha256, bytes, verification, source: 'add', from: path.resolve(file) };
  const m = await readManifest(o.cacheDir);
  m.models[entry.name] = stored;
  await writeManifest(o.cacheDir, m);
  return { ...stored, path: target };
}

/** One `models list` row: the registry entry and what the store holds for it. */
export interface ListedModel {
  entry: RegistryEntry;
  stored: (StoredModel & { path: string }) | undefined;
}

/** Every registry entry with its stored file, when one is recorded and still present. */
export async function listModels(cacheDir: string, registry: readonly RegistryEntry[] = MODEL_REGISTRY): Promise<ListedModel[]> {
  const m = await readManifest(cacheDir);
  return registry.map((entry) => {
    const s = m.models[entry.name];
    const p = s ? path.join(weightsDir(cacheDir), s.file) : undefined;
    return { entry, stored: s && p && existsSync(p) ? { ...s, path: p } : undefined };
  });
}

/**
 * What a model flag means: an existing path stays a path; a registry name becomes its stored file
 * (E_MODEL_MISSING with the pull command when it is not stored); anything else is returned unchanged
 * for the loader to report. Synchronous, since flags are turned into options synchronously.
 */
export function resolveModelRef(value: string | undefined, cacheDir: string, registry: readonly RegistryEntry[] = MODEL_REGISTRY): string | undefined {
  if (value === undefined || existsSync(value)) return value;
  const entry = findRegistryEntry(value, registry);
  if (!entry) return value;
  let text: string | undefined;
  try {
    text = readFileSync(manifestPath(cacheDir), 'utf8');
  } catch {
    text = undefined;
  }
  const s = parseManifest(text).models[entry.name];
  const p = path.join(weightsDir(cacheDir), s?.file ?? entry.file);
  if (!s || !existsSync(p)) {
    throw new FaceRestoreError('E_MODEL_MISSING', `model '${entry.name}' is not in the cache (${weightsDir(cacheDir)}); run \`facerestore models pull ${entry.name}\` or \`facerestore models add <file> --name ${entry.name}\``);
  }
  return p;
}

/** The registry entry a file is, recognised by its sha256 (for `models verify`). */
export async function recogniseFile(file: string, registry: readonly RegistryEntry[] = MODEL_REGISTRY): Promise<{ sha256: string; bytes: number; entry: RegistryEntry | undefined }> {
  const { sha256, bytes } = await sha256File(file);
  return { sha256, bytes, entry: registryEntryBySha256(sha256, registry) };
}
