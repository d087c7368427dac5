import { describe, expect, it } from 'vitest';
import { nchwcBlock } from '../src/runtime/cpuFeatures.ts';

const cpuinfo = (flags: string) => `processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: ${flags}\nbugs\t\t: sysret_ss_attrs\n\nprocessor\t: 1\nflags\t\t: ${flags}\n`;

describe('nchwcBlock (the channel block of ONNX Runtime\'s blocked CPU convolutions)', () => {
  it('is 16 with AVX-512F, 8 with AVX2 and FMA, and unknown otherwise or off x64', () => {
    expect(nchwcBlock(cpuinfo('fpu sse2 avx fma avx2 avx512f avx512bw avx512vl avx512_vnni'), 'x64')).toBe(16);
    // avx512_vnni alone (without avx512f) must not count, nor must a flag that merely contains the word.
    expect(nchwcBlock(cpuinfo('fpu sse2 avx fma avx2 avx_vnni'), 'x64')).toBe(8);
    expect(nchwcBlock(cpuinfo('fpu sse2 avx avx2'), 'x64')).toBeUndefined();
    expect(nchwcBlock(cpuinfo('fpu sse2 sse4_2 avx'), 'x64')).toBeUndefined();
    expect(nchwcBlock(cpuinfo('fp asimd evtstrm aes'), 'arm64')).toBeUndefined();
    expect(nchwcBlock(cpuinfo('fpu avx2 fma avx512f'), 'arm64')).toBeUndefined();
    expect(nchwcBlock('no flags here', 'x64')).toBeUndefined();
  });

  it('reads this machine without throwing', () => {
    expect([16, 8, undefined]).toContain(nchwcBlock());
  });
});
