import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignmentFor, cropFootprint } from '../src/compose/align.ts';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import { decodeFrames, ffmpeg, ffprobeJson, rgbFromI420 } from './helpers/media.ts';
import { repo, shared } from './helpers/paths.ts';
import { runFacerestore, type CliResult } from './helpers/cli.ts';



/** Runs the real CLI. */
const cli = (...args: string[]) => runFacerestore(args);

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-cli-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function frameStats(file: string) {
  const p = await ffprobeJson(file);
  const v = p.streams.find((s) => s.codec_type === 'video')!;
  return { frames: Number(v.nb_read_frames), width: v.width as number, height: v.height as number, duration: Number(p.format.duration), fps: eval(v.avg_frame_rate) as number, audio: p.streams.some((s) => s.codec_type === 'audio') };
}

describe('facerestore restore on real footage', () => {
  for (const clip of ['short_hamilton_clip.mp4', 'retalk_1.mp4']) {
    it(`${clip}: same frame count, size and duration (±1 frame), audio kept, faces changed`, async () => {
      const input = shared(`footage/${clip}`);
      const out = path.join(tmp, `out-${clip}`);
      const r = await cli('restore', input, '-o', out, '--json', '--crf', '12', '--preset', 'veryfast');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/restorer: classic/);
      const summary = JSON.parse(r.stdout);
      const a = await frameStats(input);
      const b = await frameStats(out);
      expect(Math.abs(b.frames - a.frames)).toBeLessThanOrEqual(1);
      expect([b.width, b.height]).toEqual([a.width, a.height]);
      expect(Math.abs(b.duration - a.duration)).toBeLessThanOrEqual(1.5 / a.fps + 0.05);
      expect(b.audio).toBe(true);
      expect(summary.faces).toBeGreaterThan(50);
      for (const k of ['decode', 'detect', 'align', 'restore', 'paste', 'encode']) expect(summary.stageMs[k]).toBeGreaterThan(0);
      // Faces changed: inside the faces' crop footprints (found by running the detector on the input here),
      // the output differs from the input far more than outside, where only coding noise differs.
      const detector = await BlazeFaceDetector.create();
      const src = decodeFrames(input);
      let faceDiff = 0, faceN = 0, bgDiff = 0, bgN = 0;
      let i = 0;
      for await (const f of decodeFrames(out)) {
        const g = (await src.next()).value!;
        if (i++ % 10 !== 0) continue;
        const rects = (await detector.detect(g)).map((d) => cropFootprint(alignmentFor(d.points), g.width, g.height));
        const fr = rgbFromI420(f);
        const gr = rgbFromI420(g);
        for (let y = 0; y < f.height; y += 2) for (let x = 0; x < f.width; x += 2) {
          const k = (y * f.width + x) * 3;
          const d = Math.abs(fr[k]! - gr[k]!) + Math.abs(fr[k + 1]! - gr[k + 1]!) + Math.abs(fr[k + 2]! - gr[k + 2]!);
          if (rects.some((r) => x >= r.x + r.width * 0.3 && x < r.x + r.width * 0.7 && y >= r.y + r.height * 0.3 && y < r.y + r.height * 0.7)) { faceDiff += d; faceN++; }
          else if (!rects.some((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height)) { bgDiff += d; bgN++; }
        }
      }
      await detector.close();
      expect(faceN).toBeGreaterThan(1000);
      expect(faceDiff / faceN).toBeGreaterThan(1.5 * (bgDiff / bgN));
    });
  }

  it('a file without faces is re-encoded with every frame', async () => {
    const clip = path.join(tmp, 'noface.mp4');
    await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=2', '-f', 'lavfi', '-i', 'sine=duration=2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', clip);
    const out = path.join(tmp, 'noface-out.mp4');
    const r = await cli('restore', clip, '-o', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).faces).toBe(0);
    expect((await frameStats(out)).frames).toBe(50);
  });
});

describe('bad input: a clear error, a distinct exit code, no partial output', () => {
  let bad: Record<string, string>;
  beforeAll(async () => {
    const dir = path.join(tmp, 'bad');
    await mkdir(dir);
    const good = await readFile(shared('footage/retalk_2.mp4'));
    bad = {
      empty: path.join(dir, 'empty.mp4'),
      truncated: path.join(dir, 'truncated.mp4'),
      truncatedStreamable: path.join(dir, 'truncated-faststart.mp4'),
      audio: path.join(dir, 'audio.m4a'),
      text: path.join(dir, 'notes.mp4'),
    };
    await writeFile(bad.empty!, '');
    await writeFile(bad.truncated!, good.subarray(0, good.length >> 1));
    const fast = path.join(dir, 'fast.mp4');
    await ffmpeg('-i', shared('footage/retalk_2.mp4'), '-c', 'copy', '-movflags', '+faststart', fast);
    await writeFile(bad.truncatedStreamable!, (await readFile(fast)).subarray(0, good.length >> 1));
    await ffmpeg('-i', shared('footage/retalk_2.mp4'), '-vn', '-c:a', 'copy', bad.audio!);
    await writeFile(bad.text!, 'this is not a video\n'.repeat(100));
  });

  const cases: Array<[string, () => string[], number, RegExp]> = [
    ['zero-byte file', () => [bad.empty!], 3, /E_PROBE.*empty file/],
    ['truncated mp4 (index at the end)', () => [bad.truncated!], 3, /E_PROBE.*cannot read/],
    ['truncated mp4 (index first): fails after decoding part of it', () => [bad.truncatedStreamable!], 3, /E_DECODE.*truncated or corrupt/],
    ['audio-only file', () => [bad.audio!], 3, /E_NO_VIDEO.*no video stream \(streams: audio\)/],
    ['a text file named .mp4', () => [bad.text!], 3, /E_PROBE/],
    ['nonexistent input', () => ['/nonexistent/in.mp4'], 3, /E_INPUT_MISSING/],
    ['nonexistent model', () => [shared('footage/retalk_2.mp4'), '--model', '/nonexistent/model.onnx'], 4, /E_MODEL_MISSING.*no such file/],
    ['a model that is not ONNX', () => [shared('footage/retalk_2.mp4'), '--model', repo('package.json')], 4, /E_MODEL_INVALID.*not a loadable ONNX model/],
    ['an ONNX whose inputs do not fit the contract', () => [shared('footage/retalk_2.mp4'), '--model', shared('models/face_detection_yunet_2026may.onnx')], 4, /E_MODEL_CONTRACT.*face_detection_yunet/],
    ['an unknown device', () => [shared('footage/retalk_2.mp4'), '--device', 'tpu'], 2, /Expected one of cpu, webgpu, cuda, auto/],
    ['fidelity out of range', () => [shared('footage/retalk_2.mp4'), '--fidelity', '1.5'], 2, /Expected a number in \[0, 1\]/],
    ['yunet without a model file', () => [shared('footage/retalk_2.mp4'), '--detector', 'yunet'], 2, /E_CONFIG.*detectorModel/],
    ['CUDA where it cannot load', () => [shared('footage/retalk_2.mp4'), '--device', 'cuda'], 5, /E_DEVICE.*CUDA execution provider is not available.*libonnxruntime_providers/],
  ];
  for (const [name, args, code, message] of cases) {
    it(name, async () => {
      const outDir = path.join(tmp, `out-${name.replace(/\W+/g, '-')}`);
      await mkdir(outDir);
      const r = await cli('restore', ...args(), '-o', path.join(outDir, 'out.mp4'), '--no-progress');
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/internal error|    at /);
      expect(await readdir(outDir)).toEqual([]);
    });
  }

  it('an existing output is replaced only on success', async () => {
    const out = path.join(tmp, 'keep.mp4');
    await copyFile(shared('footage/retalk_2.mp4'), out);
    const before = await readFile(out);
    const r = await cli('restore', bad.truncatedStreamable!, '-o', out, '--no-progress');
    expect(r.code).toBe(3);
    expect(Buffer.compare(await readFile(out), before)).toBe(0);
    expect((await readdir(tmp)).filter((f) => f.includes('.partial'))).toEqual([]);
  });

  it('--device auto says which provider runs and why CUDA did not load', async () => {
    const out = path.join(tmp, 'auto.mp4');
    const r = await cli('restore', shared('footage/retalk_2.mp4'), '-o', out, '--device', 'auto', '--duration', '0.5', '--no-progress');
    expect(r.code, r.stderr).toBe(0);
    // WebGPU where a Vulkan adapter exists (lavapipe in CI), else the CPU with a warning (test/webgpu.test.ts covers that case).
    expect(r.stderr).toMatch(/device auto: running on (webgpu|cpu)\b.*cuda did not load: CUDA execution provider is not available/);
  });
});

describe('interrupted runs', () => {
  it('SIGKILL mid-run leaves only a hidden partial file, which the next run removes; the output appears only when complete', async () => {
    const dir = path.join(tmp, 'killed');
    await mkdir(dir);
    const out = path.join(dir, 'out.mp4');
    const child = execFile(process.execPath, [repo('bin/facerestore.mjs'), 'restore', shared('footage/retalk_1.mp4'), '-o', out, '--no-progress']);
    // Wait until the encoder has written something, then kill the whole run hard.
    for (let i = 0; i < 600; i++) {
      const names = await readdir(dir);
      if (names.some((n) => n.endsWith('.partial'))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // ffmpeg children of the killed CLI see their stdin close and exit; give them a moment.
    await new Promise((r) => setTimeout(r, 500));
    const left = await readdir(dir);
    expect(left.filter((n) => n === 'out.mp4')).toEqual([]);
    expect(left.filter((n) => n.endsWith('.partial')).length).toBe(1);
    const r = await cli('restore', shared('footage/retalk_1.mp4'), '-o', out, '--no-progress', '--duration', '0.5');
    expect(r.code, r.stderr).toBe(0);
    expect(await readdir(dir)).toEqual(['out.mp4']);
  });

  it('SIGINT stops the run cleanly: exit code for an interruption, no output, no partial file', async () => {
    const dir = path.join(tmp, 'interrupted');
    await mkdir(dir);
    const child = execFile(process.execPath, [repo('bin/facerestore.mjs'), 'restore', shared('footage/retalk_1.mp4'), '-o', path.join(dir, 'out.mp4'), '--no-progress']);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    for (let i = 0; i < 600 && !(await readdir(dir)).some((n) => n.endsWith('.partial')); i++) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code, stderr).toBe(10);
    expect(stderr).toMatch(/E_CLOSED.*interrupted/);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('missing ffmpeg', () => {
  for (const [variable, tool] of [['FACERESTORE_FFPROBE', 'ffprobe'], ['FACERESTORE_FFMPEG', 'ffmpeg']] as const) {
    it(`a missing ${tool} is a clear error with its own exit code`, async () => {
      const r = await new Promise<CliResult>((resolve) => {
        execFile(process.execPath, [repo('bin/facerestore.mjs'), 'restore', shared('footage/retalk_2.mp4'), '-o', path.join(tmp, `no-${tool}.mp4`), '--no-progress'], { env: { ...process.env, [variable]: `/nonexistent/${tool}` } }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
      expect(r.code).toBe(7);
      expect(r.stderr).toMatch(new RegExp(`E_FFMPEG_MISSING.*/nonexistent/${tool} not found.*apt-get install ffmpeg`));
    });
  }
});
