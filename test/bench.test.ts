import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyRestorerModel } from './helpers/tinyModels.ts';
import { repo, shared } from './helpers/paths.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-bench-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function positive(v: unknown, name: string): void {
  expect(typeof v, name).toBe('number');
  expect(v as number, name).toBeGreaterThan(0);
  expect(Number.isFinite(v as number), name).toBe(true);
}

describe('facerestore bench --json', () => {
  it('prints every field as a positive number, on CPU with a small ONNX model', async () => {
    const model = path.join(tmp, 'tiny.onnx');
    await writeFile(model, tinyRestorerModel());
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [repo('bin/facerestore.mjs'), 'bench', '--json', shared('footage/retalk_2.mp4'), '--model', model, '--duration', '1', '--memory', '1,2', '--batches', '1,4', '--faces', '4', '--preset', 'ultrafast'],
      { maxBuffer: 16 << 20 },
    );
    const r = JSON.parse(stdout);
    expect(r.settings.restorer).toMatch(/onnx:tiny\.onnx/);
    for (const stage of ['decode', 'detect', 'align', 'restore', 'paste', 'encode']) {
      positive(r.stages[stage].ms, `${stage}.ms`);
      positive(r.stages[stage].fps, `${stage}.fps`);
    }
    for (const k of ['frames', 'faces', 'seconds', 'fps', 'peakRssMB']) positive(r.endToEnd[k], `endToEnd.${k}`);
    positive(r.ffmpegBaseline.seconds, 'ffmpegBaseline.seconds');
    positive(r.ffmpegBaseline.fps, 'ffmpegBaseline.fps');
    positive(r.overheadRatio, 'overheadRatio');
    expect(r.restorer.throughput.map((t: { batch: number }) => t.batch)).toEqual([1, 4]);
    for (const t of r.restorer.throughput) for (const k of ['faces', 'seconds', 'facesPerSecond', 'secondsPerFace']) positive(t[k], `throughput.${k}`);
    expect(r.memory.map((m: { clipSeconds: number }) => m.clipSeconds)).toEqual([1, 2]);
    for (const m of r.memory) {
      positive(m.peakRssMB, 'memory.peakRssMB');
      positive(m.frames, 'memory.frames');
    }
    expect(r.memory[1].frames).toBeGreaterThan(r.memory[0].frames);
    positive(r.memoryRatio, 'memoryRatio');
    positive(r.machine.cpus, 'machine.cpus');
  });
});
