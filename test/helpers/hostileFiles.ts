/**
 * Hostile and damaged inputs for the bad-input regression suite, generated at test time (nothing large is
 * committed): a zip writer that can deflate entries and lie about their sizes, checkpoints built on the
 * official CodeFormer key set or on the small parity fixture, and a runner that starts the real CLI in a
 * child process and reports its exit code, output and peak RSS.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openCheckpoint } from '../../src/models/checkpoint.ts';
import { PickleWriter, stateDictPickle, zipArchive, type CfStorage, type CfTensor } from './cfTorch.ts';
export { zipArchive, type ZipEntry } from './cfTorch.ts';
import { repo } from './paths.ts';

/** A zip checkpoint from a pickle and storages, each record stored unless listed in `deflate`. */
export function checkpointZip(pickle: Uint8Array, storages: Array<CfStorage & { declaredSize?: number; deflated?: Uint8Array }>, o: { deflatePickle?: boolean; deflateStorages?: boolean } = {}): Uint8Array {
  return zipArchive([
    { name: 'archive/data.pkl', data: pickle, deflate: o.deflatePickle },
    ...storages.map((s) => ({ name: `archive/data/${s.key}`, data: s.bytes, deflate: o.deflateStorages, deflated: s.deflated, declaredSize: s.declaredSize })),
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
  ]);
}

/** Tensors named and shaped as given, every one a view of storage `key` with the given strides. */
export function viewsOf(shapes: ReadonlyMap<string, readonly number[]>, key: string, stride: (shape: readonly number[]) => number[], offset: (i: number) => number = () => 0): CfTensor[] {
  return [...shapes].map(([name, shape], i) => ({ name, storageKey: key, shape: [...shape], stride: stride(shape), offset: offset(i) }));
}

/** A pickle whose state dict is `{params_ema: OrderedDict(...)}` of the given tensors. */
export function statePickle(tensors: CfTensor[], storages: CfStorage[]): Uint8Array {
  return stateDictPickle(tensors, storages);
}

/** Raw pickle bytes wrapped into a zip checkpoint with no storages (for pickle-level attacks). */
export function pickleOnly(p: PickleWriter | Uint8Array): Uint8Array {
  return checkpointZip(p instanceof PickleWriter ? p.bytes() : p, []);
}

/** The parity fixture's tensors: names, shapes and float32 data (read through the product's reader). */
export async function fixtureTensors(file: string): Promise<Array<{ name: string; shape: number[]; data: Float32Array }>> {
  const ckpt = await openCheckpoint(file);
  try {
    const out = [];
    for (const t of ckpt.tensors.values()) out.push({ name: t.name, shape: [...t.shape], data: await ckpt.read(t.name) });
    return out;
  } finally {
    await ckpt.close();
  }
}

/** Result of a CLI run. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the CLI's own process (not its children), MiB. */
  peakRssMiB: number;
}

/** Options for {@link runCli}. */
export interface RunCliOptions {
  env?: NodeJS.ProcessEnv;
  /** Run as this user and group (a root test process uses it to test permissions). */
  uid?: number;
  gid?: number;
  cwd?: string;
}

/** A preload script that writes the process's peak RSS (KiB, from getrusage) to $FR_TEST_PEAK_FILE on exit. */
const PEAK_HOOK =
  "import { writeFileSync } from 'node:fs';\n" +
  "process.on('exit', () => { const f = process.env.FR_TEST_PEAK_FILE; if (f) writeFileSync(f, String(process.resourceUsage().maxRSS)); });\n";

/** Runs `bin/facerestore.mjs` with `args` in a child process; never rejects. */
export async function runCli(args: string[], o: RunCliOptions = {}): Promise<CliRun> {
  const peakDir = await mkdtemp(path.join(os.tmpdir(), 'fr-peak-'));
  await chmod(peakDir, 0o777);
  const hook = path.join(peakDir, 'peak.mjs');
  await writeFile(hook, PEAK_HOOK);
  await chmod(hook, 0o644);
  const peakFile = path.join(peakDir, 'kib');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', hook, repo('bin/facerestore.mjs'), ...args],
      { maxBuffer: 64 << 20, env: { ...process.env, ...o.env, FR_TEST_PEAK_FILE: peakFile }, uid: o.uid, gid: o.gid, cwd: o.cwd },
      async (err, stdout, stderr) => {
        const kib = Number(await readFile(peakFile, 'utf8').catch(() => 'NaN'));
        await rm(peakDir, { recursive: true, force: true });
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr, peakRssMiB: kib / 1024 });
      },
    );
  });
}
