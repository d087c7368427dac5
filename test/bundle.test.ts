import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repo, shared } from './helpers/paths.ts';

// The offline bundle (scripts/bundle.sh), built once here (minutes: xz over ~200 MB) or taken from
// FACERESTORE_BUNDLE_ARCHIVE when that names an archive already built in this run, unpacked into a temp folder and
// run through its own launcher with a PATH that holds no Node at all (only ffmpeg, ffprobe and the few tools the
// launcher's shell uses), an empty environment otherwise and a fresh HOME/cache.
const MODEL = shared('fixtures/codeformer-small/codeformer_small.pth');
const STILL = shared('stills/obama-240p.jpg');
const LIMIT = 60_000_000; // bytes: "under 60 MB" in the strict decimal sense

let tmp: string;
let archive: string;
let root: string;
let env: NodeJS.ProcessEnv;

function which(tool: string): string {
  for (const dir of ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin']) if (existsSync(path.join(dir, tool))) return path.join(dir, tool);
  throw new Error(`test needs ${tool}`);
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-bundle-'));
  const given = process.env.FACERESTORE_BUNDLE_ARCHIVE;
  if (given && existsSync(given)) archive = given;
  else {
    const stdout = execFileSync('bash', [repo('scripts/bundle.sh'), '--out', path.join(tmp, 'out')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    archive = stdout.trim().split('\n').at(-1)!;
  }
  const unpacked = path.join(tmp, 'unpacked');
  await mkdir(unpacked);
  execFileSync('tar', ['-xf', archive, '-C', unpacked]);
  const [top] = readdirSync(unpacked);
  root = path.join(unpacked, top!);
  const bin = path.join(tmp, 'bin');
  await mkdir(bin);
  for (const tool of ['ffmpeg', 'ffprobe', 'sh', 'readlink', 'dirname', 'grep']) await symlink(which(tool), path.join(bin, tool));
  env = { PATH: bin, HOME: tmp, FACERESTORE_CACHE_DIR: path.join(tmp, 'cache') };
}, 1_800_000);
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Runs the unpacked bundle's launcher with the bare environment. */
function bundled(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(path.join(root, 'facerestore'), args, { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

interface Box { x: number; y: number; width: number; height: number }
const rgb = async (file: string) => sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
/** Pixels of a w-wide RGB pair where `where` holds: how many differ. */
function changed(a: Uint8Array, b: Uint8Array, w: number, where: (x: number, y: number) => boolean): { changed: number; n: number } {
  let c = 0, n = 0;
  for (let p = 0; p < a.length / 3; p++) {
    if (!where(p % w, Math.floor(p / w))) continue;
    n++;
    if (a[p * 3] !== b[p * 3] || a[p * 3 + 1] !== b[p * 3 + 1] || a[p * 3 + 2] !== b[p * 3 + 2]) c++;
  }
  return { changed: c, n };
}
const near = (boxes: Box[], pad: number) => (x: number, y: number) => boxes.some((b) => x >= b.x - pad && x < b.x + b.width + pad && y >= b.y - pad && y < b.y + b.height + pad);

/** Restores the still through the bundle; the face changed, pixels far from it are the input's own. */
async function restoreStill(name: string, extra: string[]): Promise<string> {
  const out = path.join(tmp, `${name}.png`);
  const r = await bundled(['restore', STILL, '-o', out, '--json', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  const s = JSON.parse(r.stdout);
  expect(s.restored).toBe(1);
  const a = await rgb(STILL);
  const b = await rgb(out);
  expect([b.info.width, b.info.height]).toEqual([a.info.width, a.info.height]);
  const w = a.info.width;
  expect(changed(a.data, b.data, w, near(s.boxes, 0)).changed).toBeGreaterThan(200);
  const face = s.boxes[0] as Box;
  const far = changed(a.data, b.data, w, (x, y) => !near(s.boxes, Math.max(face.width, face.height))(x, y));
  expect(far.changed).toBe(0);
  expect(far.n).toBeGreaterThan(a.data.length / 3 / 2);
  return r.stderr;
}

describe('offline bundle', () => {
  it(`is one archive under ${LIMIT / 1e6} MB with the launcher, Node and linux-x64 binaries only`, () => {
    expect(statSync(archive).size).toBeLessThan(LIMIT);
    expect(archive).toMatch(/facerestore-\d+\.\d+\.\d+-linux-x64\.tar\.(xz|zst)$/);
    expect(statSync(path.join(root, 'facerestore')).mode & 0o111).not.toBe(0);
    const ort = path.join(root, 'app/node_modules/onnxruntime-node/bin/napi-v6');
    expect(readdirSync(ort)).toEqual(['linux']);
    expect(readdirSync(path.join(ort, 'linux'))).toEqual(['x64']);
    expect(existsSync(path.join(root, 'app/node_modules/@rolldown'))).toBe(false);
    expect(existsSync(path.join(root, 'app/node_modules/typescript'))).toBe(false);
    expect(existsSync(path.join(root, 'app/node_modules/vitest'))).toBe(false);
    expect(existsSync(path.join(root, 'app/src'))).toBe(false);
    const maps = execFileSync('find', [root, '(', '-name', '*.map', '-o', '-name', '*.d.ts', ')', '-print'], { encoding: 'utf8' });
    expect(maps).toBe('');
  });

  it('the launcher runs the bundled Node with no Node on PATH: --version', async () => {
    const none = await new Promise<number>((resolve) => execFile('sh', ['-c', 'command -v node'], { env }, (err) => resolve(err ? 1 : 0)));
    expect(none).toBe(1);
    const r = await bundled(['--version']);
    expect(r.code, r.stderr).toBe(0);
    const { version } = JSON.parse(await readFile(repo('package.json'), 'utf8')) as { version: string };
    expect(r.stdout.trim()).toBe(version);
  });

  it('devices --json: ONNX Runtime loads from the bundle (CPU runs, WebGPU is bundled)', async () => {
    const r = await bundled(['devices', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { providers: { provider: string; ok: boolean }[]; bundledBackends: string[]; auto: { provider: string } };
    expect(d.providers.map((p) => p.provider)).toEqual(['cuda', 'webgpu', 'cpu']);
    expect(d.providers.find((p) => p.provider === 'cpu')!.ok).toBe(true);
    expect(d.bundledBackends).toContain('webgpu');
    expect(['cpu', 'webgpu', 'cuda']).toContain(d.auto.provider);
  }, 300_000);

  it('restores a real photo with the classic restorer', async () => {
    expect(await restoreStill('classic', [])).toMatch(/restorer: classic/);
  }, 300_000);

  it('restores a real photo with the CodeFormer fixture checkpoint (graph built from the .pth inside the bundle)', async () => {
    expect(await restoreStill('codeformer', ['--model', MODEL, '--device', 'cpu'])).toMatch(/codeformer_small\.pth/);
  }, 600_000);
});
