import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultBlazeFaceModel } from '../src/detect/blazeface.ts';
import { FaceRestoreError } from '../src/errors.ts';
import { OrtModel, type TensorData } from '../src/runtime/ort.ts';

// The bundled BlazeFace graph: one NHWC float input [1,256,256,3], four outputs.
describe('OrtModel offThread (session on a worker thread)', () => {
  let local: OrtModel;
  let remote: OrtModel;
  const input = new Float32Array(256 * 256 * 3);
  for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 0.37) * 0.9;
  const feeds = (m: OrtModel): Record<string, TensorData> => ({ [m.inputs[0]!.name]: { type: 'float32', dims: [1, 256, 256, 3], data: input } });

  beforeAll(async () => {
    const bytes = await readFile(defaultBlazeFaceModel());
    local = await OrtModel.create(bytes, { intraOpThreads: 1, name: 'blazeface-local' });
    remote = await OrtModel.create(bytes, { intraOpThreads: 1, name: 'blazeface-remote', offThread: true });
  });
  afterAll(async () => {
    await local?.close();
    await remote?.close();
  });

  it('declares the same inputs and outputs and gives the same outputs as the same session on this thread', async () => {
    expect(remote.inputs).toEqual(local.inputs);
    expect(remote.outputs).toEqual(local.outputs);
    expect(remote.provider).toBe('cpu');
    const a = await local.run(feeds(local));
    const b = await remote.run(feeds(remote));
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const k of Object.keys(a)) {
      expect(b[k]!.dims).toEqual(a[k]!.dims);
      expect(Array.from(b[k]!.data as Float32Array)).toEqual(Array.from(a[k]!.data as Float32Array));
    }
  });

  it('fills preallocated outputs (into) like the local session', async () => {
    const spec = remote.outputs[0]!;
    const first = await remote.run(feeds(remote));
    const buffer = new Float32Array(first[spec.name]!.data.length);
    const into = { [spec.name]: { type: 'float32' as const, dims: first[spec.name]!.dims, data: buffer } };
    const out = await remote.run(feeds(remote), { into });
    expect(out[spec.name]!.data).toBe(buffer);
    expect(Array.from(buffer)).toEqual(Array.from(first[spec.name]!.data as Float32Array));
  });

  it('checks feeds on the caller side and revives typed errors from the worker', async () => {
    const bad = { [remote.inputs[0]!.name]: { type: 'float32' as const, dims: [1, 128, 128, 3], data: new Float32Array(128 * 128 * 3) } };
    await expect(remote.run(bad)).rejects.toMatchObject({ code: 'E_MODEL_CONTRACT' });
    const err = await OrtModel.create(new Uint8Array([1, 2, 3, 4]), { name: 'garbage', offThread: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FaceRestoreError);
    expect(err).toMatchObject({ code: 'E_MODEL_INVALID' });
    expect((err as Error).message).toContain('garbage');
  });

  it('refuses runs once closed (E_CLOSED); close is idempotent', async () => {
    const m = await OrtModel.create(await readFile(defaultBlazeFaceModel()), { name: 'closing', offThread: true });
    await m.close();
    await m.close();
    await expect(m.run(feeds(m))).rejects.toMatchObject({ code: 'E_CLOSED' });
  });
});
