import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliResult } from './helpers/cli.ts';
import { repo, shared } from './helpers/paths.ts';

/** Runs the real CLI in `cwd` (stdout/stderr are pipes, not terminals). */
function cli(args: string[], cwd = tmp): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [repo('bin/facerestore.mjs'), ...args], { cwd, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const CLIP = shared('footage/retalk_1.mp4');
const MODEL = shared('fixtures/codeformer-small/codeformer_small.pth');
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-conv-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A short, fast restore (half a second of the clip, classic restorer) with extra arguments. */
const shortRestore = (out: string, ...args: string[]) => cli(['restore', CLIP, '-o', path.join(tmp, out), '--restorer', 'classic', '--duration', '0.5', '--preset', 'ultrafast', ...args]);

describe('facerestore CLI conventions', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(repo('package.json'), 'utf8')) as { version: string };
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('a usage error prints the one relevant line and a hint, not the whole help', async () => {
    for (const [args, what] of [
      [['restore', CLIP], /required option '-o, --output <file>' not specified/],
      [['restore', CLIP, '-o', 'x.mp4', '-w', '3'], /--fidelity <w>' argument '3' is invalid\. Expected a number in \[0, 1\]/],
      [['restore', CLIP, '-o', 'x.mp4', '--progress', 'loud'], /Expected one of auto, bar, plain, none but received 'loud'/],
      [['track', CLIP, '--json', 't.json', '--bogus'], /unknown option '--bogus'/],
    ] as const) {
      const r = await cli([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(2);
      expect(lines[0]).toMatch(what);
      expect(lines[1]).toBe(`(see facerestore ${args[0]} --help)`);
      expect(r.stderr).not.toMatch(/Usage:|Options:/);
    }
    const unknown = await cli(['restor']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("error: unknown command 'restor'\n(Did you mean restore?)\n(see facerestore --help)\n");
  });

  it("each command's help lists only its own flags; track refuses restore-only flags", async () => {
    const restoreOnly = ['--restorer', '--model', '--precision', '--batch', '--upscale', '--bg-upsampler', '--colorize', '--inpaint-mask', '--codec', '--crf'];
    const track = await cli(['track', '--help']);
    const restore = await cli(['restore', '--help']);
    expect(track.code).toBe(0);
    expect(restore.code).toBe(0);
    for (const flag of restoreOnly) {
      expect(track.stdout, flag).not.toMatch(new RegExp(`${flag}\\b`));
      expect(restore.stdout, flag).toMatch(new RegExp(`${flag}\\b`));
    }
    for (const flag of ['--detector', '-w, --fidelity', '--progress', '--config', '--json <file>']) expect(track.stdout).toContain(flag);
    const refused = await cli(['track', CLIP, '--json', path.join(tmp, 't.json'), '--model', MODEL]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/unknown option '--model'/);
  });

  it('--json carries the version, the resolved settings (-w as --fidelity), the device and the model with its sha256', async () => {
    const pkg = JSON.parse(await readFile(repo('package.json'), 'utf8')) as { version: string };
    const r = await cli(['restore', CLIP, '-o', path.join(tmp, 'model.mp4'), '--model', MODEL, '-w', '0.25', '--duration', '0.3', '--preset', 'ultrafast', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.version).toBe(pkg.version);
    expect(s.settings).toMatchObject({ fidelity: 0.25, model: MODEL, detector: 'auto', device: 'cpu', batch: 4, detectEvery: 1 });
    expect(s.device).toBe('cpu');
    expect(s.restorer).toMatch(/^onnx:codeformer-/);
    const sha = createHash('sha256').update(await readFile(MODEL)).digest('hex');
    expect(s.model).toEqual({ path: MODEL, sha256: sha });
    // auto progress with --json on a pipe: no progress lines on stderr
    expect(r.stderr).not.toMatch(/progress:/);
    const classic = await shortRestore('classic.mp4', '--json');
    expect(classic.code, classic.stderr).toBe(0);
    expect(JSON.parse(classic.stdout).model).toBeNull();
  });

  it('--progress plain prints lines with frames, fps and ETA (auto on a pipe too); none prints none', async () => {
    const line = /^facerestore: progress: (\d+)\/(\d+) frames \(\d+%\), [\d.]+ fps, ETA (\d+ s|\?)$/m;
    const plain = await shortRestore('plain.mp4', '--progress', 'plain');
    expect(plain.code, plain.stderr).toBe(0);
    const lines = plain.stderr.split('\n').filter((l) => l.includes('progress:'));
    expect(lines.length).toBeGreaterThanOrEqual(2); // the first update at once, and the last one at the end
    for (const l of lines) expect(l).toMatch(line);
    const lastMatch = line.exec(lines.at(-1)!)!;
    expect(lastMatch[1]).toBe(lastMatch[2]); // ends at all frames
    expect(lastMatch[3]).toBe('0 s');
    const auto = await shortRestore('auto.mp4');
    expect(auto.stderr).toMatch(line);
    for (const quiet of [['--progress', 'none'], ['--no-progress']]) {
      const r = await shortRestore('none.mp4', ...quiet);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/progress:/);
    }
    const track = await cli(['track', CLIP, '--json', path.join(tmp, 'tracks.json'), '--duration', '0.3', '--progress', 'plain']);
    expect(track.code, track.stderr).toBe(0);
    expect(track.stderr).toMatch(line);
  });

  it('a config file gives defaults (facerestore.config.json in the cwd, or --config), validated like the flags', async () => {
    const dir = await mkdtemp(path.join(tmp, 'cfg-'));
    await writeFile(path.join(dir, 'facerestore.config.json'), JSON.stringify({ fidelity: 0.7, 'detect-every': 2, track: true, restore: { crf: 30, progress: 'none' } }));
    const run = (...args: string[]) => cli(['restore', CLIP, '-o', path.join(dir, 'o.mp4'), '--restorer', 'classic', '--duration', '0.3', '--preset', 'ultrafast', '--json', ...args], dir);
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).settings).toMatchObject({ fidelity: 0.7, detectEvery: 2, track: true });
    // the command line wins over the file
    const flag = await run('-w', '0.1');
    expect(JSON.parse(flag.stdout).settings.fidelity).toBe(0.1);
    // --config names another file, which replaces the one in the cwd
    const other = path.join(tmp, 'other.json');
    await writeFile(other, JSON.stringify({ fidelity: 0.9, track: false }));
    const named = await run('--config', other);
    expect(named.code, named.stderr).toBe(0);
    expect(JSON.parse(named.stdout).settings).toMatchObject({ fidelity: 0.9, detectEvery: 1, track: false });
    // bad files: each refused with the file, the key and what was expected; nothing is written
    const bad: Array<[unknown, RegExp]> = [
      [{ fidelty: 0.7 }, /unknown key "fidelty" \(not a flag of any command/],
      [{ fidelity: 'high' }, /"fidelity": Expected a number in \[0, 1\] but received 'high'/],
      [{ fidelity: 2 }, /"fidelity": Expected a number in \[0, 1\] but received '2'/],
      [{ track: 'yes' }, /"track": expected true or false but received "yes"/],
      [{ detector: ['yunet'] }, /"detector": expected a string or a number but received \["yunet"\]/],
      [{ restore: { json: 3, fidelity: 0.2 } }, /"restore\.json": expected true or false but received 3/],
      [{ track: { crf: 20 } }, /unknown key "track\.crf" \(facerestore track has no --crf/],
      [{ restore: 1 }, /"restore" must be an object of flags for facerestore restore/],
      [[1, 2], /expected a JSON object of flag defaults/],
    ];
    for (const [doc, message] of bad) {
      await writeFile(other, JSON.stringify(doc));
      const b = await run('--config', other);
      expect(b.code, JSON.stringify(doc)).toBe(2);
      expect(b.stderr).toContain(`config file ${other}`);
      expect(b.stderr).toMatch(message);
      expect(b.stderr).toMatch(/\(see facerestore restore --help\)\n$/);
    }
    await writeFile(other, '{ "fidelity": 0.5,');
    const broken = await run('--config', other);
    expect(broken.stderr).toMatch(/not valid JSON/);
    const missing = await run('--config', path.join(tmp, 'nope.json'));
    expect(missing.stderr).toMatch(/nope\.json: not found/);
    // a section for track with a restore-only flag is refused for track
    await writeFile(other, JSON.stringify({ track: { model: MODEL } }));
    const t = await cli(['track', CLIP, '--json', path.join(dir, 't.json'), '--config', other], dir);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/unknown key "track\.model" \(facerestore track has no --model/);
  });
});
