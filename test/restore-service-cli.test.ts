import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_EXIT_CODES } from '../src/errors.ts';
import { RemoteRestorer } from '../src/restore/remoteRestorer.ts';
import { CROP_BYTES } from '../src/restore/restorer.ts';
import { readTokenFile, tokensEqual } from '../src/util/tokens.ts';
import { runFacerestore } from './helpers/cli.ts';
import { repo, shared } from './helpers/paths.ts';

const TOKEN = 'cli-service-token-0123456789';
let dir: string;
const file = (name: string, text: string, mode = 0o600) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
};
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'fr-service-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('token files', () => {
  it('reads the token without its newline; refuses empty, short, spaced and world-readable ones with the file named', async () => {
    expect(await readTokenFile(file('good', `${TOKEN}\n`))).toBe(TOKEN);
    await expect(readTokenFile(file('empty', '\n'))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/the token in .*empty is empty/) });
    await expect(readTokenFile(file('short', 'abc123'))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/is 6 characters long \(at least 16/) });
    await expect(readTokenFile(file('spaced', 'abcdefgh ijklmnopq'))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/white space/) });
    await expect(readTokenFile(file('open', TOKEN, 0o644))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/readable by every user \(mode 644\): chmod 600/) });
    await expect(readTokenFile(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/cannot read token file .*missing/) });
  });

  it('compares tokens whole (a prefix, a longer one and an empty one are not equal)', () => {
    expect(tokensEqual(TOKEN, TOKEN)).toBe(true);
    expect(tokensEqual(TOKEN.slice(0, -1), TOKEN)).toBe(false);
    expect(tokensEqual(`${TOKEN}x`, TOKEN)).toBe(false);
    expect(tokensEqual('', TOKEN)).toBe(false);
  });
});

describe('facerestore restore-service and serve --restorer-service', () => {
  it('serves over a Unix socket until SIGTERM; a client with the token is served; serve with a wrong token exits 14 (E_AUTH)', { timeout: 300_000 }, async () => {
    expect(ERROR_EXIT_CODES.E_AUTH).toBe(14);
    const sock = path.join(dir, 'svc.sock');
    const tokenFile = file('svc-token', `${TOKEN}\n`);
    const child = spawn(process.execPath, [repo('bin/facerestore.mjs'), 'restore-service', '--listen', `unix:${sock}`, '--token-file', tokenFile, '--restorer', 'classic', '--device', 'cpu'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', () => stdout.includes('restore service at') && resolve());
        void exited.then((code) => reject(new Error(`restore-service exited ${code}: ${stderr}`)));
      });
      expect(stdout).toMatch(new RegExp(`restore service at unix:${sock.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(classic.*micro-batched.*; at most 32 faces per request\\)`));
      const client = await RemoteRestorer.connect(`unix:${sock}`, { token: TOKEN, waitMs: 0 });
      const out = await client.restore([new Uint8Array(CROP_BYTES).fill(90)], [0.5]);
      expect(out[0]!.length).toBe(CROP_BYTES);
      await client.close();
      // File mode through the service: the same output as the classic restorer run in the process.
      const [viaService, local] = [path.join(dir, 'via.png'), path.join(dir, 'local.png')];
      const v = await runFacerestore(['restore', shared('stills/obama-240p.jpg'), '-o', viaService, '--restorer', 'classic', '--restorer-service', `unix:${sock}`, '--restorer-token-file', tokenFile], {}, 120_000);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stderr).toMatch(/restorer: service unix:.*svc\.sock: classic/);
      expect(v.stderr).toMatch(/1 of 1 faces restored/);
      const l = await runFacerestore(['restore', shared('stills/obama-240p.jpg'), '-o', local, '--restorer', 'classic'], {}, 120_000);
      expect(l.code, l.stderr).toBe(0);
      expect(readFileSync(viaService).equals(readFileSync(local))).toBe(true);
      // serve probes the service at start: a wrong token stops it with E_AUTH's exit code.
      const wrong = file('wrong-token', 'not-the-token-of-this-service');
      const r = await runFacerestore(['serve', '--port', '0', '--restorer', 'classic', '--restorer-service', `unix:${sock}`, '--restorer-token-file', wrong], {}, 60_000);
      expect(r.stderr).toMatch(/error \[E_AUTH\]: restore service token refused/);
      expect(r.code).toBe(14);
      // A world-readable token file is refused before anything starts (E_CONFIG, exit 2).
      const open = file('open-token', TOKEN, 0o644);
      const o = await runFacerestore(['serve', '--port', '0', '--restorer-service', `unix:${sock}`, '--restorer-token-file', open], {}, 60_000);
      expect(o.code).toBe(2);
      expect(o.stderr).toMatch(/E_CONFIG.*readable by every user/);
      const u = await runFacerestore(['serve', '--port', '0', '--restorer-service', `unix:${sock}`], {}, 60_000);
      expect(u.code).toBe(2);
      expect(u.stderr).toMatch(/--restorer-service needs --restorer-token-file/);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses a bad address and a missing model before loading anything', async () => {
    const tokenFile = file('t2', TOKEN);
    const a = await runFacerestore(['restore-service', '--listen', 'http://0.0.0.0:80', '--token-file', tokenFile, '--restorer', 'classic'], {}, 60_000);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/tcp:\/\/HOST:PORT or unix:\/path/);
    const m = await runFacerestore(['restore-service', '--listen', 'tcp://127.0.0.1:0', '--token-file', tokenFile], {}, 60_000);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/needs --model/);
  });
});
