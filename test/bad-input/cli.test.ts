/**
 * Bad input through the real CLI in a child process: damaged and forged media, model files that are not
 * what they claim, outputs that cannot be written, files that cannot be read, and hostile file names.
 * Every refusal must give the documented exit code, one `error [CODE]` line naming the problem (no stack
 * trace), and leave the case's folder exactly as it was: no output, no partial file, an existing output
 * byte for byte untouched. Everything is generated here.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/models/graphBuilder.ts';
import { officialShapes } from '../../src/models/codeformer/random.ts';
import { f32Bytes, stateDictPickle, type CfStorage } from '../helpers/cfTorch.ts';
import { checkpointZip, runCli, viewsOf, type RunCliOptions } from '../helpers/hostileFiles.ts';
import { ffmpeg, ffprobeJson } from '../helpers/media.ts';
import { tinyRestorerModel } from '../helpers/tinyModels.ts';

const ROOT = process.getuid?.() === 0;
/** A root test process runs permission cases as `nobody`, for whom mode bits apply. */
const asUnprivileged: RunCliOptions = ROOT ? { uid: 65534, gid: 65534 } : {};

let base: string;
let cache: string;
let home: string;
const clips: Record<'tiny' | 'two' | 'fast' | 'audio' | 'late', string> = { tiny: '', two: '', fast: '', audio: '', late: '' };
beforeAll(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'fr-bad-cli-'));
  await chmod(base, 0o755);
  cache = path.join(base, 'cache');
  await mkdir(cache, { mode: 0o777 });
  await chmod(cache, 0o777);
  home = path.join(base, 'home');
  await mkdir(home);
  await chmod(home, 0o777);
  const media = path.join(base, 'media');
  await mkdir(media);
  await chmod(media, 0o755);
  clips.tiny = path.join(media, 'tiny.mp4');
  clips.two = path.join(media, 'two.mp4');
  clips.fast = path.join(media, 'fast.mp4');
  clips.audio = path.join(media, 'audio.m4a');
  clips.late = path.join(media, 'late.mp4');
  const src = ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=2', '-f', 'lavfi', '-i', 'sine=duration=2'];
  await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=0.4', '-f', 'lavfi', '-i', 'sine=duration=0.4', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', clips.tiny);
  await ffmpeg(...src, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', clips.two);
  await ffmpeg('-i', clips.two, '-c', 'copy', '-movflags', '+faststart', clips.fast);
  await ffmpeg('-i', clips.two, '-vn', '-c:a', 'copy', clips.audio);
  // Video that starts 1 s after the audio (as in short_hamilton_clip.mp4): a window before it holds no video.
  await ffmpeg('-itsoffset', '1', '-i', clips.tiny, '-i', clips.two, '-map', '0:v', '-map', '1:a', '-c', 'copy', clips.late);
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Every file under `dir` (relative path → sha256), to prove a failed run changed nothing. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        out[path.relative(dir, p) + '/'] = 'dir';
        await walk(p);
      } else {
        out[path.relative(dir, p)] = createHash('sha256').update(await readFile(p).catch(() => Buffer.from('unreadable'))).digest('hex');
      }
    }
  };
  await walk(dir);
  return out;
}

/** A case folder; `prepare` fills it and returns the CLI arguments (paths inside it). */
interface Case {
  name: string;
  prepare: (dir: string) => Promise<string[]>;
  code: number;
  error: string;
  message: RegExp;
  unprivileged?: boolean;
}

const restore = (input: string, output: string, ...more: string[]): string[] => ['restore', input, '-o', output, '--no-progress', ...more];
const put = async (file: string, data: Uint8Array | string, mode?: number): Promise<string> => {
  await writeFile(file, data);
  if (mode !== undefined) await chmod(file, mode);
  return file;
};
const copy = async (from: string, to: string): Promise<string> => (await copyFile(from, to), to);
const half = async (from: string, to: string): Promise<string> => {
  const b = await readFile(from);
  return put(to, b.subarray(0, b.length >> 1));
};

/** ONNX models that are not what a restorer needs. */
function grayModel(): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', ['N', 1, 512, 512]);
  const w = g.input('w', 'float32', ['N']);
  g.output('out', g.op('Mul', [x, g.op('Reshape', [w, g.int64([-1, 1, 1, 1])])]), ['N', 1, 512, 512]);
  return g.encode({ graphName: 'gray' });
}
function hugeInitializerModel(): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', ['N', 3, 512, 512]);
  const w = g.input('w', 'float32', ['N']);
  // 256 GiB declared, 4 bytes present.
  g.initializers.push({ name: 'huge', dims: [1 << 16, 1 << 16, 16], dataType: 1, bytes: new Uint8Array(4) });
  const y = g.op('Add', [x, g.op('ReduceSum', [{ name: 'huge', type: 'float32' }], { keepdims: 0 })]);
  g.output('out', g.op('Mul', [y, g.op('Reshape', [w, g.int64([-1, 1, 1, 1])])]), ['N', 3, 512, 512]);
  return g.encode({ graphName: 'huge' });
}
function stride0Checkpoint(): Uint8Array {
  const one: CfStorage[] = [{ key: '0', dtype: 'float32', bytes: f32Bytes([0.5]) }];
  return checkpointZip(stateDictPickle(viewsOf(officialShapes(), '0', (s) => s.map(() => 0)), one), one);
}

const cases: Case[] = [
  // ---- media
  { name: 'a zero-byte .mp4', prepare: async (d) => restore(await put(path.join(d, 'empty.mp4'), ''), path.join(d, 'out.mp4')), code: 3, error: 'E_PROBE', message: /empty file/ },
  { name: 'random bytes named .mp4', prepare: async (d) => restore(await put(path.join(d, 'noise.mp4'), Uint8Array.from({ length: 50_000 }, (_, i) => (i * 2654435761) >>> 24)), path.join(d, 'out.mp4')), code: 3, error: 'E_PROBE', message: /noise\.mp4/ },
  { name: 'a truncated MP4 (index at the end)', prepare: async (d) => restore(await half(clips.two, path.join(d, 'cut.mp4')), path.join(d, 'out.mp4')), code: 3, error: 'E_PROBE', message: /cannot read .*cut\.mp4/ },
  { name: 'a truncated MP4 (index first): fails after decoding part of it', prepare: async (d) => restore(await half(clips.fast, path.join(d, 'cut-fast.mp4')), path.join(d, 'out.mp4')), code: 3, error: 'E_DECODE', message: /truncated or corrupt/ },
  { name: 'an audio-only file', prepare: async (d) => restore(await copy(clips.audio, path.join(d, 'audio.m4a')), path.join(d, 'out.mp4')), code: 3, error: 'E_NO_VIDEO', message: /no video stream \(streams: audio\)/ },
  { name: 'a missing input', prepare: async (d) => restore(path.join(d, 'nothing.mp4'), path.join(d, 'out.mp4')), code: 3, error: 'E_INPUT_MISSING', message: /nothing\.mp4 does not exist/ },
  { name: 'a folder without images or videos as input', prepare: async (d) => (await mkdir(path.join(d, 'clip.mp4')), restore(path.join(d, 'clip.mp4'), path.join(d, 'out.mp4'))), code: 3, error: 'E_INPUT_MISSING', message: /the folder .*clip\.mp4 holds no images or videos \(--recursive/ },
  { name: 'an unreadable input', unprivileged: true, prepare: async (d) => restore(await put(path.join(d, 'secret.mp4'), await readFile(clips.tiny), 0o000), path.join(d, 'out.mp4')), code: 3, error: 'E_PROBE', message: /secret\.mp4.*[Pp]ermission denied/ },
  { name: 'track on a truncated MP4', prepare: async (d) => ['track', await half(clips.two, path.join(d, 'cut.mp4')), '--json', path.join(d, 't.json'), '--no-progress'], code: 3, error: 'E_PROBE', message: /cut\.mp4/ },
  // ---- model files
  { name: 'a .onnx of random bytes', prepare: async (d) => restore(clips.tiny, path.join(d, 'out.mp4'), '--model', await put(path.join(d, 'm.onnx'), Uint8Array.from({ length: 4096 }, (_, i) => (i * 40503) & 0xff))), code: 4, error: 'E_MODEL_INVALID', message: /m\.onnx is not a loadable ONNX model/ },
  { name: 'a truncated ONNX', prepare: async (d) => { const m = tinyRestorerModel(); return restore(clips.tiny, path.join(d, 'out.mp4'), '--model', await put(path.join(d, 'cut.onnx'), m.subarray(0, m.length >> 1))); }, code: 4, error: 'E_MODEL_INVALID', message: /cut\.onnx is not a loadable ONNX model: .*protobuf parsing failed/ },
  { name: 'an ONNX with the wrong inputs (one channel)', prepare: async (d) => restore(clips.tiny, path.join(d, 'out.mp4'), '--model', await put(path.join(d, 'gray.onnx'), grayModel())), code: 4, error: 'E_MODEL_CONTRACT', message: /gray\.onnx does not fit the restorer contract.*inputs x: float32\[N,1,512,512\]/ },
  { name: 'an ONNX declaring a 256 GiB initializer', prepare: async (d) => restore(clips.tiny, path.join(d, 'out.mp4'), '--model', await put(path.join(d, 'huge.onnx'), hugeInitializerModel())), code: 4, error: 'E_MODEL_INVALID', message: /Initializer 'huge' declares a size of 274877906944 bytes/ },
  { name: 'a zero-byte .onnx', prepare: async (d) => restore(clips.tiny, path.join(d, 'out.mp4'), '--model', await put(path.join(d, 'zero.onnx'), '')), code: 4, error: 'E_MODEL_INVALID', message: /zero\.onnx is an empty file/ },
  { name: 'a missing .pth model', prepare: async (d) => restore(clips.tiny, path.join(d, 'out.mp4'), '--model', path.join(d, 'gone.pth')), code: 4, error: 'E_MODEL_MISSING', message: /gone\.pth: no such file/ },
  { name: 'restore with a stride-0 hostile .pth (built through the model cache)', prepare: async (d) => restore(clips.tiny, path.join(d, 'out.mp4'), '--model', await put(path.join(d, 'evil.pth'), stride0Checkpoint())), code: 4, error: 'E_CHECKPOINT', message: /tensor position_emb has shape \[256, 512\] with stride 0/ },
  { name: 'models verify on a folder', prepare: async (d) => (await mkdir(path.join(d, 'weights.pth')), ['models', 'verify', path.join(d, 'weights.pth')]), code: 4, error: 'E_CHECKPOINT', message: /weights\.pth: is a directory/ },
  { name: 'models verify on a missing file', prepare: async (d) => ['models', 'verify', path.join(d, 'gone.pth')], code: 4, error: 'E_MODEL_MISSING', message: /gone\.pth: no such file/ },
  { name: 'models verify on an unreadable file', unprivileged: true, prepare: async (d) => ['models', 'verify', await put(path.join(d, 'locked.pth'), stride0Checkpoint(), 0o000)], code: 4, error: 'E_CHECKPOINT', message: /locked\.pth: cannot be read: permission denied/ },
  { name: 'models build on an unreadable file', unprivileged: true, prepare: async (d) => ['models', 'build', await put(path.join(d, 'locked.pth'), stride0Checkpoint(), 0o000), '-o', path.join(d, 'm.onnx')], code: 4, error: 'E_CHECKPOINT', message: /locked\.pth: cannot be read: permission denied/ },
  { name: 'models build on a folder', prepare: async (d) => (await mkdir(path.join(d, 'ckpt.pth')), ['models', 'build', path.join(d, 'ckpt.pth'), '-o', path.join(d, 'm.onnx')]), code: 4, error: 'E_CHECKPOINT', message: /ckpt\.pth: is a directory/ },
  { name: 'models build -o a folder: refused before building', prepare: async (d) => (await mkdir(path.join(d, 'models')), ['models', 'build', await put(path.join(d, 'evil.pth'), stride0Checkpoint()), '-o', path.join(d, 'models')]), code: 6, error: 'E_OUTPUT', message: /model .*models is a folder/ },
  // ---- outputs
  { name: 'an output ending in .gif', prepare: async (d) => restore(clips.tiny, path.join(d, 'out.gif')), code: 2, error: 'E_USAGE', message: /cannot write a '\.gif' file .*supported output extensions: \.mp4, .*\.webm/ },
  { name: 'an output ending in .xyz', prepare: async (d) => restore(clips.tiny, path.join(d, 'sub', 'out.xyz')), code: 2, error: 'E_USAGE', message: /cannot write a '\.xyz' file/ },
  { name: 'a .png output from a video', prepare: async (d) => restore(clips.tiny, path.join(d, 'frame.png')), code: 2, error: 'E_USAGE', message: /cannot write an image \(.*frame\.png\) from a video input/ },
  // The encoder fails only after the sink has started (and created new/deeper/): both folders go again.
  { name: 'folders created for an output are removed when the run fails', prepare: async (d) => restore(clips.tiny, path.join(d, 'new', 'deeper', 'out.mkv'), '--preset', 'nope'), code: 6, error: 'E_ENCODE', message: /encoding .*out\.mkv failed: .*invalid preset 'nope'/ },
  { name: 'a folder that already existed is kept when the run fails', prepare: async (d) => (await mkdir(path.join(d, 'kept')), restore(clips.tiny, path.join(d, 'kept', 'new', 'out.mkv'), '--preset', 'nope')), code: 6, error: 'E_ENCODE', message: /invalid preset 'nope'/ },
  { name: 'a .webm output with --codec libx264', prepare: async (d) => restore(clips.tiny, path.join(d, 'out.webm'), '--codec', 'libx264'), code: 2, error: 'E_USAGE', message: /a \.webm file cannot hold libx264 video; use --codec libvpx/ },
  { name: 'an output in a folder that is not writable', unprivileged: true, prepare: async (d) => { await mkdir(path.join(d, 'ro'), { mode: 0o555 }); await chmod(path.join(d, 'ro'), 0o555); return restore(clips.tiny, path.join(d, 'ro', 'out.mp4')); }, code: 6, error: 'E_OUTPUT', message: /the folder .*ro is not writable/ },
  { name: 'an output below a file', prepare: async (d) => restore(clips.tiny, path.join(await put(path.join(d, 'file'), 'x'), 'out.mp4')), code: 6, error: 'E_OUTPUT', message: /file is a file, not a folder/ },
  { name: 'an output that is a folder', prepare: async (d) => (await mkdir(path.join(d, 'out.mp4')), restore(clips.tiny, path.join(d, 'out.mp4'))), code: 6, error: 'E_OUTPUT', message: /output .*out\.mp4 is a folder/ },
  { name: 'the output is the input', prepare: async (d) => { const f = await copy(clips.tiny, path.join(d, 'same.mp4')); return restore(f, f); }, code: 2, error: 'E_USAGE', message: /must not be the input/ },
  { name: 'an existing output is untouched when the input fails mid-run', prepare: async (d) => restore(await half(clips.fast, path.join(d, 'cut.mp4')), await copy(clips.two, path.join(d, 'keep.mp4'))), code: 3, error: 'E_DECODE', message: /truncated or corrupt/ },
  { name: 'an existing output is untouched when the model is bad', prepare: async (d) => restore(clips.tiny, await copy(clips.two, path.join(d, 'keep.mp4')), '--model', await put(path.join(d, 'gray.onnx'), grayModel())), code: 4, error: 'E_MODEL_CONTRACT', message: /gray\.onnx/ },
  { name: 'an existing output is untouched when its extension is unsupported', prepare: async (d) => restore(clips.tiny, await put(path.join(d, 'keep.gif'), 'GIF89a')), code: 2, error: 'E_USAGE', message: /'\.gif'/ },
  { name: 'track --json a folder', prepare: async (d) => (await mkdir(path.join(d, 'tracks')), ['track', clips.tiny, '--json', path.join(d, 'tracks'), '--no-progress']), code: 6, error: 'E_OUTPUT', message: /tracks file .*tracks is a folder/ },
  { name: 'track --json into a folder that is not writable', unprivileged: true, prepare: async (d) => { await mkdir(path.join(d, 'ro')); await chmod(path.join(d, 'ro'), 0o555); return ['track', clips.tiny, '--json', path.join(d, 'ro', 't.json'), '--no-progress']; }, code: 6, error: 'E_OUTPUT', message: /the folder .*ro is not writable/ },
  // ---- jobs
  { name: 'jobs status with Redis unreachable: not exit 9 (no job failed)', prepare: async () => ['jobs', 'status', '--redis', 'redis://127.0.0.1:1'], code: 11, error: 'E_UNAVAILABLE', message: /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/ },
  { name: 'jobs submit with Redis unreachable: its own exit code, nothing queued or written', prepare: async (d) => ['jobs', 'submit', clips.tiny, '--out', path.join(d, 'restored'), '--redis', 'redis://127.0.0.1:1'], code: 11, error: 'E_UNAVAILABLE', message: /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/ },
  { name: 'a --start past the end of the video', prepare: async (d) => restore(clips.tiny, path.join(d, 'out.mp4'), '--start', '5'), code: 2, error: 'E_USAGE', message: /no video frames of .*tiny\.mp4 lie between 5 s and the end: its video runs from 0 s to 0\.4 s/ },
  { name: 'a --duration window before a video that starts late', prepare: async (d) => restore(clips.late, path.join(d, 'out.mp4'), '--duration', '0.5'), code: 2, error: 'E_USAGE', message: /no video frames of .*late\.mp4 lie between 0 s and 0\.5 s: its video runs from 1 s/ },
  { name: 'an encoder this ffmpeg does not have', prepare: async (d) => restore(clips.tiny, path.join(d, 'out.mkv'), '--codec', 'nonsense'), code: 2, error: 'E_USAGE', message: /this ffmpeg has no video encoder 'nonsense'; it has libx264/ },
  { name: 'restore --tracks-json a folder', prepare: async (d) => (await mkdir(path.join(d, 'tracks')), restore(clips.tiny, path.join(d, 'out.mp4'), '--tracks-json', path.join(d, 'tracks'))), code: 6, error: 'E_OUTPUT', message: /tracks file .*tracks is a folder/ },
];

describe('bad input through the CLI: exit code, one error line naming the problem, nothing written, nothing changed', () => {
  it('covers at least 30 cases', () => expect(cases.length).toBeGreaterThanOrEqual(30));

  for (const c of cases) {
    it(`${c.name} → exit ${c.code} ${c.error}`, async () => {
      const dir = path.join(base, c.name.replace(/\W+/g, '-').slice(0, 70));
      await mkdir(dir);
      await chmod(dir, 0o777);
      const args = await c.prepare(dir);
      const before = await snapshot(dir);
      const env = { FACERESTORE_CACHE_DIR: cache, HOME: home };
      const r = await runCli(args, { env, ...(c.unprivileged ? asUnprivileged : {}) });
      expect(r.code, r.stderr).toBe(c.code);
      const errors = r.stderr.split('\n').filter((l) => /error/.test(l));
      expect(errors, r.stderr).toHaveLength(1);
      expect(errors[0]).toMatch(new RegExp(`^facerestore: error \\[${c.error}\\]: `));
      expect(errors[0]).toMatch(c.message);
      expect(r.stderr).not.toMatch(/internal error|^\s+at /m);
      expect(await snapshot(dir)).toEqual(before);
      expect(await readdir(path.join(cache, 'models')).catch(() => [])).toEqual([]);
    });
  }
});

describe('hostile file names and the formats the CLI writes', () => {
  /** Runs restore with relative names from inside a case folder, as a user typing them would. */
  async function restoreNamed(input: string, output: string): Promise<{ code: number; stderr: string; dir: string }> {
    const dir = await mkdtemp(path.join(base, 'names-'));
    await copyFile(clips.tiny, path.join(dir, input));
    const args = input.startsWith('-') ? ['restore', '-o', output, '--no-progress', '--', input] : ['restore', input, '-o', output, '--no-progress'];
    const r = await runCli(args, { cwd: dir, env: { FACERESTORE_CACHE_DIR: cache } });
    return { ...r, dir };
  }
  // A leading dash was read by ffprobe as an option and a colon as a protocol before local paths reached
  // ffmpeg as `file:` + absolute path.
  const names: Array<[string, string, string]> = [
    ['spaces', 'my clip.mp4', 'my clip restored.mp4'],
    ['unicode', 'visage-été-顔.mp4', 'restauré-顔.mp4'],
    ['a leading dash', '-clip.mp4', '-restored.mp4'],
    ['a colon (ffmpeg protocol syntax)', 'take:1.mp4', 'out:1.mp4'],
  ];
  for (const [what, input, output] of names) {
    it(`names with ${what} are read and written as files`, async () => {
      const r = await restoreNamed(input, output);
      expect(r.code, r.stderr).toBe(0);
      const probe = await ffprobeJson(path.join(r.dir, output));
      expect(Number(probe.streams.find((s) => s.codec_type === 'video')!.nb_read_frames)).toBe(10);
      expect((await readdir(r.dir)).sort()).toEqual([input, output].sort());
    });
  }

  it('a .webm output gets VP9 video and Opus audio (the defaults chosen for the container)', async () => {
    const dir = await mkdtemp(path.join(base, 'webm-'));
    const out = path.join(dir, 'out.webm');
    const r = await runCli(restore(clips.tiny, out), { env: { FACERESTORE_CACHE_DIR: cache } });
    expect(r.code, r.stderr).toBe(0);
    const probe = await ffprobeJson(out);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp9']);
    expect((await stat(out)).size).toBeGreaterThan(1000);
  });
});
