/**
 * Hostile checkpoints through the real CLI (`facerestore models build`) in a child process: each is
 * generated here, must be refused with exit code 4, E_CHECKPOINT and a message naming the problem, leave
 * no output and no partial file, and keep the child's peak RSS low. Before the bounds, the first of these
 * (an 85 KB file) built an official-size model at 1 GB peak RSS; larger widths went past 6 GB.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OFFICIAL_CONFIG, codeformerShapes, officialShapes } from '../../src/models/codeformer/random.ts';
import { PickleWriter, f32Bytes, stateDictPickle, torchLegacy, type CfStorage, type CfTensor } from '../helpers/cfTorch.ts';
import { checkpointZip, pickleOnly, runCli, viewsOf, zipArchive } from '../helpers/hostileFiles.ts';

/**
 * Peak RSS allowed for a refused checkpoint, MiB: the CLI's own start-up (Node, ONNX Runtime, sharp) is
 * about 150 MiB on this machine; reading any of these files to the end would take 1 GB and more.
 */
const REFUSED_PEAK_MIB = 320;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fr-bad-ckpt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const one: CfStorage[] = [{ key: '0', dtype: 'float32', bytes: f32Bytes([0.5]) }];
/** A raw deflate stream of nothing: records that declare a size they never deliver (never read, if refused first). */
const EMPTY_DEFLATE = deflateRawSync(new Uint8Array(0));

/** One storage per tensor whose records declare the right size but hold nothing: the shapes alone are on trial. */
function hollow(shapes: ReadonlyMap<string, readonly number[]>): { tensors: CfTensor[]; storages: Array<CfStorage & { declaredSize: number; deflated: Uint8Array }> } {
  const tensors: CfTensor[] = [];
  const storages: Array<CfStorage & { declaredSize: number; deflated: Uint8Array }> = [];
  [...shapes].forEach(([name, shape], i) => {
    const numel = shape.reduce((a, b) => a * b, 1);
    tensors.push({ name, storageKey: String(i), shape: [...shape] });
    storages.push({ key: String(i), dtype: 'float32', bytes: new Uint8Array(0), declaredSize: numel * 4, deflated: EMPTY_DEFLATE });
  });
  return { tensors, storages };
}

/** The pickle of tensors whose storages declare `numel` elements each (without allocating them). */
function pickleWithNumel(tensors: CfTensor[], numel: (key: string) => number): Uint8Array {
  const fake: CfStorage[] = [...new Set(tensors.map((t) => t.storageKey))].map((key) => ({ key, dtype: 'float32', bytes: { length: numel(key) * 4 } as Uint8Array }));
  return stateDictPickle(tensors, fake);
}

interface Case {
  name: string;
  file: () => Uint8Array;
  message: RegExp;
  legacy?: boolean;
}

const official = officialShapes();
const numelOf = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

const cases: Case[] = [
  {
    name: 'official key set, every tensor a stride-0 view of one 4-byte storage',
    file: () => checkpointZip(stateDictPickle(viewsOf(official, '0', (s) => s.map(() => 0)), one), one),
    message: /tensor position_emb has shape \[256, 512\] with stride 0 on dimension 0 \(size 256\)/,
  },
  {
    name: 'the same, deflate-compressed',
    file: () => checkpointZip(stateDictPickle(viewsOf(official, '0', (s) => s.map(() => 0)), one), one, { deflatePickle: true, deflateStorages: true }),
    message: /tensor position_emb has shape \[256, 512\] with stride 0/,
  },
  {
    name: 'official key set with overlapping strides (every stride 1) on one small storage',
    file: () => {
      const span = Math.max(...[...official.values()].map((s) => s.reduce((a, d) => a + d - 1, 1)));
      const st: CfStorage[] = [{ key: '0', dtype: 'float32', bytes: new Uint8Array(span * 4) }];
      return checkpointZip(stateDictPickle(viewsOf(official, '0', (s) => s.map(() => 1)), st), st);
    },
    message: /tensor position_emb has shape \[256, 512\] with strides \[1, 1\], which make its elements overlap/,
  },
  {
    name: 'contiguous tensors that reach past their 1-element storage',
    file: () => checkpointZip(stateDictPickle(viewsOf(official, '0', (s) => contiguous(s)), one), one),
    message: /tensor position_emb of shape \[256, 512\] at offset 0 reaches element 131071 of storage '0', which holds 1/,
  },
  {
    name: 'a storage record that declares 2 GiB for a 1-element storage (deflate, tiny on disk)',
    file: () => checkpointZip(stateDictPickle([{ name: 'position_emb', storageKey: '0', shape: [1] }], one), [{ ...one[0]!, declaredSize: 2 ** 31, deflated: EMPTY_DEFLATE }]),
    message: /tensor position_emb: storage record 0 declares 2147483648 bytes, but its storage holds 1 float32 elements \(4 bytes\)/,
  },
  {
    name: 'a compressed 1 GiB record of which the only tensor reads 4 bytes',
    file: () => checkpointZip(pickleWithNumel([{ name: 'position_emb', storageKey: '0', shape: [1] }], () => 2 ** 28), [{ ...one[0]!, declaredSize: 2 ** 30, deflated: EMPTY_DEFLATE }]),
    message: /storage record 0 is compressed and declares 1073741824 bytes, but its tensors read only 4/,
  },
  {
    name: 'one tensor of 2^26 elements (256 MiB) backed by a deflated record that holds nothing',
    file: () => checkpointZip(pickleWithNumel([{ name: 'position_emb', storageKey: '0', shape: [2 ** 26] }], () => 2 ** 26), [{ ...one[0]!, declaredSize: 2 ** 28, deflated: EMPTY_DEFLATE }]),
    message: /tensor position_emb has shape \[67108864\]: more than 33554432 elements, the limit for one tensor/,
  },
  {
    name: 'a 4-element view whose strides span 2^26 storage elements',
    file: () => checkpointZip(pickleWithNumel([{ name: 'position_emb', storageKey: '0', shape: [2, 2], stride: [2 ** 26, 1] }], () => 2 ** 26 + 2), [{ ...one[0]!, declaredSize: (2 ** 26 + 2) * 4, deflated: EMPTY_DEFLATE }]),
    message: /tensor position_emb spans 67108866 elements of storage '0'/,
  },
  {
    name: 'a consistent CodeFormer twice as wide as the official one (376 M parameters), records hollow',
    file: () => {
      const { tensors, storages } = hollow(codeformerShapes({ ...OFFICIAL_CONFIG, nf: 128 }));
      return checkpointZip(pickleWithNumel(tensors, (k) => storages[Number(k)]!.declaredSize / 4), storages);
    },
    message: /brings the state dict past 268435456 elements, the limit over all tensors/,
  },
  {
    name: 'a consistent CodeFormer 1.5× as wide with 24 transformer layers (216 M parameters): over the architecture cap',
    file: () => {
      const { tensors, storages } = hollow(codeformerShapes({ ...OFFICIAL_CONFIG, nf: 96, nLayers: 24 }));
      return checkpointZip(pickleWithNumel(tensors, (k) => storages[Number(k)]!.declaredSize / 4), storages);
    },
    message: /does not fit the CodeFormer architecture: its tensors add up to 216495395 parameters, more than the 200000000 accepted/,
  },
  {
    name: 'data.pkl declaring 2 GiB (deflate, a few bytes on disk)',
    file: () => zipArchive([{ name: 'archive/data.pkl', data: new Uint8Array(0), deflated: EMPTY_DEFLATE, declaredSize: 2 ** 31 }]),
    message: /record archive\/data\.pkl declares 2147483648 bytes, more than the 67108864 it may hold/,
  },
  {
    name: 'data.pkl declaring 100 bytes that inflates to 64 MiB',
    file: () => zipArchive([{ name: 'archive/data.pkl', data: new Uint8Array(0), deflated: deflateRawSync(new Uint8Array(64 << 20)), declaredSize: 100 }]),
    message: /record archive\/data\.pkl is damaged or truncated: too many bytes in the stream/,
  },
  {
    name: 'a pickle that names os.system',
    file: () => pickleOnly(new PickleWriter().proto(2).global('os', 'system').mark().str('touch /tmp/fr-pwned').tuple().reduce().stop()),
    message: /refers to the Python global 'os\.system'/,
  },
  {
    name: 'APPENDS of 400,000 items (a stack overflow before)',
    file: () => {
      const p = new PickleWriter().proto(2).emptyList().mark();
      for (let i = 0; i < 400_000; i++) p.raw(0x4e);
      return pickleOnly(p.appends().stop());
    },
    message: /does not hold a dict/,
  },
  {
    name: 'a dict key nested 100,000 tuples deep',
    file: () => {
      const p = new PickleWriter().proto(2).emptyDict().emptyTuple();
      for (let i = 0; i < 100_000; i++) p.raw(0x85); // TUPLE1
      return pickleOnly(p.int(1).setitem().stop());
    },
    message: /a dict key is a nested tuple/,
  },
  {
    name: 'a list nested 100,000 deep used as a dict key (a stack overflow before)',
    file: () => {
      const p = new PickleWriter().proto(2).emptyDict();
      for (let i = 0; i < 100_000; i++) p.emptyList();
      for (let i = 0; i < 99_999; i++) p.raw(0x61); // APPEND
      return pickleOnly(p.int(1).setitem().stop());
    },
    message: /a dict key is a nested tuple/,
  },
  {
    name: 'a memo index of 10^20 (text PUT)',
    file: () => pickleOnly(new PickleWriter().proto(0).none().raw(...new TextEncoder().encode('p100000000000000000000\n')).stop()),
    message: /invalid memo index '100000000000000000000'/,
  },
  {
    name: 'a memo read at index 2^32-1 that was never written',
    file: () => pickleOnly(new PickleWriter().proto(2).raw(0x6a, 0xff, 0xff, 0xff, 0xff).stop()),
    message: /pickle memo 4294967295 read before it was written/,
  },
  {
    name: 'a string declaring 2 GiB - 1 bytes',
    file: () => pickleOnly(new PickleWriter().proto(2).raw(0x58, 0xff, 0xff, 0xff, 0x7f).stop()),
    message: /data\.pkl is truncated or damaged: a 2147483647-byte field at byte \d+ runs past the end of the pickle/,
  },
  {
    name: 'a LONG4 integer declaring 256 MiB',
    file: () => pickleOnly(new PickleWriter().proto(2).raw(0x8b, 0, 0, 0, 0x10).stop()),
    message: /a 268435456-byte integer at byte 2; a state dict never needs more than 64 bytes/,
  },
  {
    name: '1.2 million opcodes',
    file: () => {
      const p = new PickleWriter().proto(2);
      for (let i = 0; i < 1_200_000; i++) p.raw(0x4e);
      return pickleOnly(p.stop());
    },
    message: /the pickle has more than 1000000 opcodes/,
  },
  {
    name: 'legacy format: a storage that declares 2^60 elements',
    legacy: true,
    file: () => {
      const sd = { tensors: [{ name: 'position_emb', storageKey: '1', shape: [2] }], storages: [{ key: '1', dtype: 'float32' as const, bytes: f32Bytes([1, 2]) }] };
      const bytes = Buffer.from(torchLegacy(sd.tensors, sd.storages));
      bytes.writeBigUInt64LE(2n ** 60n, bytes.length - 16); // the element count before the 8 data bytes
      return bytes;
    },
    message: /declares 1152921504606846976 elements for storage 1, more than the file's \d+ bytes/,
  },
  {
    name: 'legacy format: a string in the header declaring 2 GiB - 1 bytes',
    legacy: true,
    file: () => {
      const magic = new PickleWriter().proto(2).long(0x1950a86a20f9469cfc6cn).stop().bytes();
      return Buffer.concat([magic, new PickleWriter().proto(2).raw(0x58, 0xff, 0xff, 0xff, 0x7f).stop().bytes()]);
    },
    message: /ends inside its pickled header \(truncated file\?\): a 2147483647-byte field/,
  },
];

function contiguous(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let i = shape.length - 1, acc = 1; i >= 0; acc *= shape[i]!, i--) s[i] = acc;
  return s;
}

describe('hostile checkpoints: models build refuses them with E_CHECKPOINT, a message naming the problem, low peak memory, no output', () => {
  it('the hostile set is large enough to matter', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    expect(numelOf(official.get('position_emb')!)).toBe(256 * 512);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const caseDir = path.join(dir, c.name.replace(/\W+/g, '-').slice(0, 60));
      await mkdir(caseDir);
      const input = path.join(caseDir, c.legacy ? 'legacy.pth' : 'hostile.pth');
      await writeFile(input, c.file());
      const out = path.join(caseDir, 'out', 'model.onnx');
      const r = await runCli(['models', 'build', input, '-o', out]);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/facerestore: error \[E_CHECKPOINT\]: /);
      expect(r.stderr).toMatch(c.message);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.peakRssMiB, `peak RSS ${r.peakRssMiB.toFixed(0)} MiB`).toBeLessThan(REFUSED_PEAK_MIB);
      expect(await readdir(caseDir)).toEqual([path.basename(input)]);
    });
  }
});
