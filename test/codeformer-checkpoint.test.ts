import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFaceRestoreError } from '../src/errors.ts';
import { floatToHalf, halfToFloat, openCheckpoint } from '../src/models/checkpoint.ts';
import { buildCodeFormerOnnx, inferArch, loadCodeFormerCheckpoint } from '../src/models/codeformer/index.ts';
import { ALLOWED_GLOBALS, unpickle } from '../src/models/pickle.ts';
import { checkpointZip, fixtureTensors } from './helpers/hostileFiles.ts';
import { PickleWriter, f32Bytes, simpleStateDict, stateDictPickle, torchLegacy, torchZip, zipStore, type CfStorage, type CfTensor } from './helpers/cfTorch.ts';

const fixture = (name: string): string => fileURLToPath(new URL(`../../shared/fixtures/codeformer-small/${name}`, import.meta.url));
const SMALL = fixture('codeformer_small.pth');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cf-ckpt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(name: string, bytes: Uint8Array): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, bytes);
  return p;
}

/** Resolves to the E_CHECKPOINT error a promise rejects with (fails the test otherwise). */
async function checkpointError(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected a rejection').toBeDefined();
  expect(isFaceRestoreError(e, 'E_CHECKPOINT'), String(e)).toBe(true);
  return e as Error;
}

describe('zip checkpoints', () => {
  it('reads the fixture: 423 tensors under params_ema, names and shapes as keys.txt lists them', async () => {
    const ckpt = await openCheckpoint(SMALL);
    try {
      expect(ckpt.format).toBe('zip');
      expect(ckpt.stateDictKey).toBe('params_ema');
      const listed = (await readFile(fixture('keys.txt'), 'utf8')).trim().split('\n').map((l) => l.split('\t'));
      expect([...ckpt.tensors.keys()]).toEqual(listed.map((l) => l[0]));
      for (const [name, shape] of listed) expect(`[${ckpt.tensors.get(name!)!.shape.join(', ')}]`).toBe(shape);
      const pos = await ckpt.read('position_emb');
      expect(pos.length).toBe(256 * 64);
      expect(pos.every(Number.isFinite)).toBe(true);
    } finally {
      await ckpt.close();
    }
  });

  it('finds data.pkl under any folder prefix; state dict under params, params_ema or at the top level', async () => {
    const sd = simpleStateDict([{ name: 'a.weight', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) }]);
    for (const [wrap, folder] of [['params', 'weird-name'], [null, 'x'], ['params_ema', 'deep']] as const) {
      const p = await put(`prefix-${folder}.pth`, torchZip(stateDictPickle(sd.tensors, sd.storages, { wrap }), sd.storages, folder));
      const ckpt = await openCheckpoint(p);
      expect(ckpt.stateDictKey).toBe(wrap ?? '');
      expect([...(await ckpt.read('a.weight'))]).toEqual([1, 2, 3, 4]);
      await ckpt.close();
    }
  });

  it('honours strides and storage offsets (views sharing one storage) and converts float16/bfloat16/float64', async () => {
    const base = Array.from({ length: 20 }, (_, i) => i);
    const halfValues = [1.5, -2, 65504, 6.103515625e-5, 5.960464477539063e-8, -0, 0.333251953125];
    const bf16 = new Uint16Array(new Uint32Array(new Float32Array([1.5, -3.25, 1e-3]).buffer).map((b) => b >>> 16));
    const storages: CfStorage[] = [
      { key: 's', dtype: 'float32', bytes: f32Bytes(base) },
      { key: 'h', dtype: 'float16', bytes: new Uint8Array(floatToHalf(Float32Array.from(halfValues)).buffer) },
      { key: 'b', dtype: 'bfloat16', bytes: new Uint8Array(bf16.buffer) },
      { key: 'd', dtype: 'float64', bytes: new Uint8Array(Float64Array.of(0.1, 2.5).buffer) },
    ];
    const tensors: CfTensor[] = [
      { name: 'transposed', storageKey: 's', shape: [2, 3], stride: [1, 2], offset: 4 }, // t[i][j] = s[4 + i + 2j]
      { name: 'slice', storageKey: 's', shape: [3], stride: [5], offset: 1 }, // s[1], s[6], s[11]
      { name: 'whole', storageKey: 's', shape: [4, 5] },
      { name: 'half', storageKey: 'h', shape: [7] },
      { name: 'bf16', storageKey: 'b', shape: [3] },
      { name: 'double', storageKey: 'd', shape: [2] },
    ];
    const p = await put('views.pth', torchZip(stateDictPickle(tensors, storages), storages));
    const ckpt = await openCheckpoint(p);
    try {
      expect([...(await ckpt.read('transposed'))]).toEqual([4, 6, 8, 5, 7, 9]);
      expect([...(await ckpt.read('slice'))]).toEqual([1, 6, 11]);
      expect([...(await ckpt.read('whole'))]).toEqual(base);
      expect(ckpt.tensors.get('half')!.dtype).toBe('float16');
      expect([...(await ckpt.read('half'))]).toEqual(halfValues);
      const b = await ckpt.read('bf16');
      expect([b[0], b[1]]).toEqual([1.5, -3.25]);
      expect(b[2]).toBeCloseTo(1e-3, 5); // bfloat16 keeps 8 significant bits
      expect([...(await ckpt.read('double'))]).toEqual([Math.fround(0.1), 2.5]);
    } finally {
      await ckpt.close();
    }
  });

  it('float16 conversion round-trips every half value exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = floatToHalf(halfToFloat(all));
    for (let i = 0; i < 65536; i++) {
      const exp = (i >> 10) & 0x1f;
      if (exp === 31 && (i & 0x3ff) !== 0) continue; // NaN payloads need not survive
      if (back[i] !== i) throw new Error(`half 0x${i.toString(16)} came back as 0x${back[i]!.toString(16)}`);
    }
  });
});

describe('legacy (pre-1.6) checkpoints', () => {
  it('reads a hand-written legacy file: magic, protocol, sys info, pickle, keys, raw storages', async () => {
    const storages: CfStorage[] = [
      { key: '140371', dtype: 'float32', bytes: f32Bytes([1, 2, 3, 4, 5, 6]) },
      { key: '140372', dtype: 'float16', bytes: new Uint8Array(floatToHalf(Float32Array.of(0.5, -1, 2)).buffer) },
    ];
    const tensors: CfTensor[] = [
      { name: 'w', storageKey: '140371', shape: [2, 3] },
      { name: 'wt', storageKey: '140371', shape: [3, 2], stride: [1, 3] },
      { name: 'h', storageKey: '140372', shape: [2], offset: 1 },
    ];
    const p = await put('legacy.pth', torchLegacy(tensors, storages, { wrap: 'params' }));
    const ckpt = await openCheckpoint(p);
    try {
      expect(ckpt.format).toBe('legacy');
      expect(ckpt.stateDictKey).toBe('params');
      expect([...(await ckpt.read('w'))]).toEqual([1, 2, 3, 4, 5, 6]);
      expect([...(await ckpt.read('wt'))]).toEqual([1, 4, 2, 5, 3, 6]);
      expect([...(await ckpt.read('h'))]).toEqual([-1, 2]);
    } finally {
      await ckpt.close();
    }
  });

  it('the fixture rewritten in the legacy format builds the very same ONNX bytes as the zip original', async () => {
    const { weights } = await loadCodeFormerCheckpoint(SMALL);
    const { tensors, storages } = simpleStateDict([...weights].map(([name, data]) => ({ name, shape: [], data })));
    const ckpt = await openCheckpoint(SMALL);
    tensors.forEach((t) => (t.shape = [...ckpt.tensors.get(t.name)!.shape]));
    await ckpt.close();
    const p = await put('small-legacy.pth', torchLegacy(tensors, storages));
    const fromLegacy = await buildCodeFormerOnnx(p);
    const fromZip = await buildCodeFormerOnnx(SMALL);
    expect(fromLegacy.length).toBe(fromZip.length);
    expect(Buffer.compare(Buffer.from(fromLegacy), Buffer.from(fromZip))).toBe(0);
  });

  it('a truncated legacy file is refused', async () => {
    const sd = simpleStateDict([{ name: 'a', shape: [64], data: new Float32Array(64) }]);
    const full = torchLegacy(sd.tensors, sd.storages);
    const p = await put('legacy-cut.pth', full.subarray(0, full.length - 10));
    const e = await checkpointError(openCheckpoint(p));
    expect(e.message).toMatch(/truncated/);
  });
});

describe('malicious and damaged checkpoints', () => {
  const evil = (module: string, name: string): Uint8Array =>
    new PickleWriter().proto(2).global(module, name).mark().str('touch /tmp/cf-pwned').tuple().reduce().stop().bytes();

  it.each([
    ['os', 'system'],
    ['posix', 'system'],
    ['builtins', 'eval'],
    ['builtins', 'exec'],
    ['__builtin__', 'eval'],
    ['subprocess', 'Popen'],
    ['torch', 'load'],
  ])('refuses the global %s.%s, naming it, before anything runs', async (module, name) => {
    const p = await put(`evil-${module}-${name}.pth`, torchZip(evil(module, name), []));
    const e = await checkpointError(openCheckpoint(p));
    expect(e.message).toContain(`'${module}.${name}'`);
    expect(existsSync('/tmp/cf-pwned')).toBe(false);
  });

  it('refuses a disallowed global hidden after valid tensors, and one built with STACK_GLOBAL (protocol 4)', async () => {
    // A real state dict followed by a REDUCE of posix.system: the scan refuses it before the tensors are built.
    const sd = simpleStateDict([{ name: 'a', shape: [2], data: Float32Array.of(1, 2) }]);
    const good = stateDictPickle(sd.tensors, sd.storages, { wrap: null });
    const tail = new PickleWriter().global('posix', 'system').mark().str('id').tuple().reduce().raw(0x30).stop().bytes();
    const mixed = new Uint8Array([...good.subarray(0, good.length - 1), ...tail]);
    let e = await checkpointError(openCheckpoint(await put('evil-tail.pth', torchZip(mixed, sd.storages))));
    expect(e.message).toContain("'posix.system'");

    const stackGlobal = new PickleWriter().proto(4).shortStr('os').shortStr('system').raw(0x93).mark().str('id').tuple().reduce().stop().bytes();
    e = await checkpointError(openCheckpoint(await put('evil-stack.pth', torchZip(stackGlobal, []))));
    expect(e.message).toContain("'os.system'");

    const inst = new PickleWriter().proto(0).mark().str('id').raw(...new TextEncoder().encode('ios\nsystem\n')).stop().bytes();
    e = await checkpointError(openCheckpoint(await put('evil-inst.pth', torchZip(inst, []))));
    expect(e.message).toContain("'os.system'");
  });

  it('the allow-list holds only data builders', () => {
    expect(ALLOWED_GLOBALS).toContain('collections.OrderedDict');
    expect(ALLOWED_GLOBALS).toContain('torch._utils._rebuild_tensor_v2');
    expect(ALLOWED_GLOBALS).toContain('torch.HalfStorage');
    expect(ALLOWED_GLOBALS.some((g) => /^(os|posix|nt|builtins|__builtin__|subprocess|sys|importlib)\./.test(g))).toBe(false);
    expect(() => unpickle(new PickleWriter().proto(2).global('collections', 'OrderedDict').emptyTuple().reduce().stop().bytes())).not.toThrow();
  });

  it('an empty file, a truncated zip, a zip without data.pkl and random bytes are refused with the reason', async () => {
    let e = await checkpointError(openCheckpoint(await put('empty.pth', new Uint8Array(0))));
    expect(e.message).toMatch(/empty/);
    const real = await readFile(SMALL);
    e = await checkpointError(openCheckpoint(await put('cut.pth', real.subarray(0, real.length >> 1))));
    expect(e.message).toMatch(/zip/);
    e = await checkpointError(openCheckpoint(await put('nopkl.pth', zipStore([{ name: 'a/readme.txt', data: new Uint8Array(4) }]))));
    expect(e.message).toMatch(/data\.pkl/);
    e = await checkpointError(openCheckpoint(await put('noise.pth', new Uint8Array(1000).fill(7))));
    expect(e.message).toMatch(/neither/);
  });

  it('refuses a tensor that reaches past its storage, and a missing storage record', async () => {
    const storages: CfStorage[] = [{ key: '0', dtype: 'float32', bytes: f32Bytes([1, 2, 3]) }];
    let e = await checkpointError(openCheckpoint(await put('oob.pth', torchZip(stateDictPickle([{ name: 'big', storageKey: '0', shape: [4] }], storages), storages))));
    expect(e.message).toMatch(/storage '0'/);
    e = await checkpointError(openCheckpoint(await put('norecord.pth', torchZip(stateDictPickle([{ name: 't', storageKey: '0', shape: [3] }], storages), []))));
    expect(e.message).toMatch(/t: storage record 0 is missing/);
  });

  it('a checkpoint with one wrong-shaped tensor is refused, naming that tensor', async () => {
    const { weights } = await loadCodeFormerCheckpoint(SMALL);
    const ckpt = await openCheckpoint(SMALL);
    const entries = [...weights].map(([name, data]) => ({ name, shape: [...ckpt.tensors.get(name)!.shape], data }));
    await ckpt.close();
    entries.find((x) => x.name === 'generator.blocks.4.conv2.weight')!.shape = [64, 64, 1, 9];
    const sd = simpleStateDict(entries);
    const p = await put('wrong-shape.pth', torchZip(stateDictPickle(sd.tensors, sd.storages), sd.storages));
    const e = await checkpointError(buildCodeFormerOnnx(p));
    expect(e.message).toContain('tensor generator.blocks.4.conv2.weight has shape [64, 64, 1, 9], expected [64, 64, 3, 3]');
  });

  it('a checkpoint of another network is refused, naming the first tensor that does not fit', async () => {
    const sd = simpleStateDict([
      { name: 'position_emb', shape: [256, 64], data: new Float32Array(256 * 64) },
      { name: 'quantize.embedding.weight', shape: [64, 256], data: new Float32Array(64 * 256) },
      { name: 'backbone.conv.weight', shape: [8, 3, 3, 3], data: new Float32Array(8 * 27) },
    ]);
    const p = await put('other.pth', torchZip(stateDictPickle(sd.tensors, sd.storages), sd.storages));
    const e = await checkpointError(buildCodeFormerOnnx(p));
    expect(e.message).toMatch(/does not fit the CodeFormer architecture: unexpected tensor backbone\.conv\.weight/);
  });
});

describe('bounds on what a checkpoint can make the reader allocate', () => {
  it('a re-zipped checkpoint with deflate-compressed records reads the same values, views and offsets included', async () => {
    const base = Array.from({ length: 5000 }, (_, i) => i);
    const storages: CfStorage[] = [{ key: 's', dtype: 'float32', bytes: f32Bytes(base) }];
    const tensors: CfTensor[] = [
      { name: 'transposed', storageKey: 's', shape: [2, 3], stride: [1, 2], offset: 4000 },
      { name: 'slice', storageKey: 's', shape: [3], stride: [5], offset: 4100 },
      { name: 'whole', storageKey: 's', shape: [50, 100] },
    ];
    const p = await put('deflated-views.pth', checkpointZip(stateDictPickle(tensors, storages), storages, { deflatePickle: true, deflateStorages: true }));
    const ckpt = await openCheckpoint(p);
    try {
      expect([...(await ckpt.read('transposed'))]).toEqual([4000, 4002, 4004, 4001, 4003, 4005]);
      expect([...(await ckpt.read('slice'))]).toEqual([4100, 4105, 4110]);
      expect([...(await ckpt.read('whole'))]).toEqual(base);
    } finally {
      await ckpt.close();
    }
  });

  it('the fixture with every record deflated builds the very same ONNX bytes as the stored original', async () => {
    const entries = await fixtureTensors(SMALL);
    const sd = simpleStateDict(entries);
    const p = await put('small-deflated.pth', checkpointZip(stateDictPickle(sd.tensors, sd.storages), sd.storages, { deflatePickle: true, deflateStorages: true }));
    expect(Buffer.compare(Buffer.from(await buildCodeFormerOnnx(p)), Buffer.from(await buildCodeFormerOnnx(SMALL)))).toBe(0);
  });

  it('refuses stride 0, overlapping strides and views past their storage, naming the tensor; accepts size-1 dimensions with any stride', async () => {
    const storages: CfStorage[] = [{ key: '0', dtype: 'float32', bytes: f32Bytes([1, 2, 3, 4, 5, 6]) }];
    const open = (t: CfTensor) => openCheckpoint(checkpointPathFor(t, storages));
    const checkpointPathFor = (t: CfTensor, st: CfStorage[]): string => {
      const file = path.join(dir, `view-${t.name}.pth`);
      writeFileSync(file, torchZip(stateDictPickle([t], st), st));
      return file;
    };
    let e = await checkpointError(open({ name: 'bcast', storageKey: '0', shape: [3, 2], stride: [0, 1] }));
    expect(e.message).toMatch(/tensor bcast has shape \[3, 2\] with stride 0 on dimension 0 \(size 3\)/);
    e = await checkpointError(open({ name: 'overlap', storageKey: '0', shape: [2, 3], stride: [1, 1] }));
    expect(e.message).toMatch(/tensor overlap .* overlap in the storage/);
    e = await checkpointError(open({ name: 'past', storageKey: '0', shape: [2, 3], offset: 1 }));
    expect(e.message).toMatch(/tensor past of shape \[2, 3\] at offset 1 reaches element 6 of storage '0', which holds 6/);
    const ckpt = await open({ name: 'unit', storageKey: '0', shape: [1, 3, 1], stride: [0, 2, 0], offset: 1 });
    expect([...(await ckpt.read('unit'))]).toEqual([2, 4, 6]);
    await ckpt.close();
  });

  it('element limits per tensor and in total are enforced before anything is read; CodeFormer caps its parameters', async () => {
    const sd = simpleStateDict([
      { name: 'a', shape: [10, 10], data: new Float32Array(100) },
      { name: 'b', shape: [10, 10], data: new Float32Array(100) },
    ]);
    const p = await put('limits.pth', torchZip(stateDictPickle(sd.tensors, sd.storages), sd.storages));
    let e = await checkpointError(openCheckpoint(p, { limits: { maxTensorElements: 99 } }));
    expect(e.message).toMatch(/tensor a has shape \[10, 10\]: more than 99 elements, the limit for one tensor/);
    e = await checkpointError(openCheckpoint(p, { limits: { maxTotalElements: 150 } }));
    expect(e.message).toMatch(/tensor b brings the state dict past 150 elements/);
    const ckpt = await openCheckpoint(SMALL);
    const shapes = new Map([...ckpt.tensors.values()].map((t) => [t.name, t.shape]));
    expect(ckpt.totalElements).toBeGreaterThan(1e6);
    await ckpt.close();
    expect(() => inferArch(shapes, { maxParams: 1000 })).toThrow(/add up to \d+ parameters, more than the 1000 accepted/);
  });

  it('pickle inputs that used to overflow the stack are E_CHECKPOINT', () => {
    const appends = new PickleWriter().proto(2).emptyList().mark();
    for (let i = 0; i < 300_000; i++) appends.raw(0x4e);
    expect(unpickle(appends.appends().stop().bytes()).value).toHaveLength(300_000);
    const nested = new PickleWriter().proto(2).emptyDict();
    for (let i = 0; i < 50_000; i++) nested.emptyList();
    for (let i = 0; i < 49_999; i++) nested.raw(0x61);
    expect(() => unpickle(nested.int(1).setitem().stop().bytes())).toThrow(/nested tuple/);
    expect(() => unpickle(new PickleWriter().proto(2).none().raw(0x70, ...new TextEncoder().encode('99999999999\n')).stop().bytes())).toThrow(/invalid memo index/);
  });
});
