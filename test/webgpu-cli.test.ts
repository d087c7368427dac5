import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignmentFor, cropFootprint } from '../src/compose/align.ts';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import { probeProvider } from '../src/runtime/devices.ts';
import type { Box, VideoFrame } from '../src/types.ts';
import { decodeFrames, ffprobeJson, rgbFromI420 } from './helpers/media.ts';
import { shared } from './helpers/paths.ts';
import { runFacerestore } from './helpers/cli.ts';

// `facerestore restore --device webgpu --model <fixture .pth>` end to end. On lavapipe one face costs minutes of
// CPU, so the clip is two frames of a one-face video.
const webgpu = await probeProvider('webgpu');
if (!webgpu.ok) console.warn(`WebGPU end-to-end test skipped: no Vulkan adapter on this machine (${webgpu.reason})`);

async function frames(file: string): Promise<VideoFrame[]> {
  const out: VideoFrame[] = [];
  for await (const f of decodeFrames(file)) out.push(f);
  return out;
}
const inside = (x: number, y: number, r: Box, margin: number) => x >= r.x - margin && x < r.x + r.width + margin && y >= r.y - margin && y < r.y + r.height + margin;

const cli = (args: string[]) => runFacerestore(args, { FACERESTORE_CACHE_DIR: tmp });

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-webgpu-cli-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe.skipIf(!webgpu.ok)('facerestore restore --device webgpu with the CodeFormer fixture checkpoint', () => {
  it('keeps every frame and the audio, changes the face, leaves pixels away from the face bit-identical', { timeout: 1_800_000 }, async () => {
    const input = shared('footage/retalk_1.mp4');
    // Lossless, single-threaded encoding: away from the faces both runs encode the same pixels the same way.
    const common = ['--duration', '0.1', '--crf', '0', '--preset', 'ultrafast', '--deterministic', '--json', '--no-progress'];
    const plain = path.join(tmp, 'none.mp4');
    const restored = path.join(tmp, 'webgpu.mp4');
    const a = await cli(['restore', input, '-o', plain, '--restorer', 'none', ...common]);
    expect(a.code, a.stderr).toBe(0);
    const r = await cli(['restore', input, '-o', restored, '--device', 'webgpu', '--model', shared('fixtures/codeformer-small/codeformer_small.pth'), ...common]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/restorer: onnx:.* \(webgpu, batch 4\)/);
    expect(r.stderr).toMatch(/CodeFormer graph: float32 on webgpu/);
    const summary = JSON.parse(r.stdout);
    expect(summary.faces).toBeGreaterThanOrEqual(2);

    const probe = await ffprobeJson(restored);
    expect(probe.streams.some((s) => s.codec_type === 'audio')).toBe(true);
    const ref = await frames(plain);
    const out = await frames(restored);
    expect(ref.length).toBe(2);
    expect(out.map((f) => [f.index, f.width, f.height])).toEqual(ref.map((f) => [f.index, f.width, f.height]));

    const detector = await BlazeFaceDetector.create();
    try {
      for (let i = 0; i < out.length; i++) {
        const f = out[i]!, g = ref[i]!;
        const rects = (await detector.detect(g)).map((d) => cropFootprint(alignmentFor(d.points), g.width, g.height));
        expect(rects.length).toBe(1);
        // Frames come as I420; compare as RGB (the decoder's planes converted with the same matrix both sides).
        const fd = rgbFromI420(f), gd = rgbFromI420(g);
        let faceDiff = 0, faceN = 0, awayChanged = 0, awayN = 0;
        for (let y = 0; y < f.height; y++) for (let x = 0; x < f.width; x++) {
          const k = (y * f.width + x) * 3;
          const d = Math.abs(fd[k]! - gd[k]!) + Math.abs(fd[k + 1]! - gd[k + 1]!) + Math.abs(fd[k + 2]! - gd[k + 2]!);
          const r0 = rects[0]!;
          if (x >= r0.x + r0.width * 0.35 && x < r0.x + r0.width * 0.65 && y >= r0.y + r0.height * 0.35 && y < r0.y + r0.height * 0.65) { faceDiff += d; faceN++; }
          // 8 px beyond the footprint: tracking smoothing moves it a little, and 4:2:0 chroma mixes neighbours.
          else if (!rects.some((rr) => inside(x, y, rr, 8))) { awayN++; if (d) awayChanged++; }
        }
        expect(faceN).toBeGreaterThan(1000);
        expect(faceDiff / faceN, `frame ${i}: mean face change`).toBeGreaterThan(10);
        expect(awayN).toBeGreaterThan(10_000);
        expect(awayChanged, `frame ${i}: pixels changed away from the face`).toBe(0);
      }
    } finally {
      await detector.close();
    }
  });
});
