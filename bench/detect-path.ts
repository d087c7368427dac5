/**
 * CPU cost of the detection path's parts on real frames, one thread, as the product loads them (issue 11):
 * BlazeFace-256 on its original graph and on the channel-aligned one (models/alignChannels.ts), the 68-point
 * net with face-api's nesting of the sums and with running sums (models/faceLandmark68.ts), the detector
 * letterbox, and the landmark crop (the byte crop widened to floats, and warped straight into the tensor).
 * Each variant is timed in `rounds` interleaved rounds (thread CPU, so other processes' load matters less);
 * prints JSON with the median ms per call of each.
 *
 * Run: node bench/detect-path.ts [clip.mp4] [--rounds 5] [--runs 100]
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { invertAffine } from '../src/compose/align.ts';
import { warpToCrop } from '../src/compose/warp.ts';
import { affineCropToTensor } from '../src/detect/affineCrop.ts';
import { BlazeFaceDetector, defaultBlazeFaceModel } from '../src/detect/blazeface.ts';
import { letterboxUnitTensor } from '../src/detect/letterbox.ts';
import { landmarkInputTransform } from '../src/engine/landmarkRefiner.ts';
import { alignConvChannels } from '../src/models/alignChannels.ts';
import { nchwcBlock } from '../src/runtime/cpuFeatures.ts';
import { faceApiLandmark68Graph } from '../src/models/faceLandmark68.ts';
import { OrtModel } from '../src/runtime/ort.ts';
import type { Affine, VideoFrame } from '../src/types.ts';
import { decodeFrames } from './track-clip.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const clip = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a)) ?? path.resolve(here, '../../shared/footage/short_hamilton_clip.mp4');
const rounds = opt('--rounds', 5);
const runs = opt('--runs', 100);

/** This thread's CPU, ms. */
function threadMs(): number {
  const p = process as NodeJS.Process & { threadCpuUsage?: () => NodeJS.CpuUsage };
  const u = p.threadCpuUsage ? p.threadCpuUsage() : process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const frames: VideoFrame[] = [];
let n = 0;
for await (const f of decodeFrames(clip, 240)) if (n++ % 10 === 0) frames.push(f);

const session = { intraOpThreads: 1, threadSpinning: false };
const raw = new Uint8Array(await readFile(defaultBlazeFaceModel()));
const blazeOriginal = await OrtModel.create(raw, session);
const blazeAligned = await OrtModel.create(alignConvChannels(raw, nchwcBlock() ?? 16).bytes, session);
const lmNested = await OrtModel.create(await faceApiLandmark68Graph({ runningSums: false }), session);
const lmRunning = await OrtModel.create(await faceApiLandmark68Graph(), session);
const S = 256;
const inputs = frames.map((f) => new Float32Array(letterboxUnitTensor(f, S, S, true).data));
const detector = await BlazeFaceDetector.create(session);
const crops: Array<{ frame: VideoFrame; toInput: Affine; fromInput: Affine }> = [];
for (const f of frames) for (const d of await detector.detect(f)) crops.push({ frame: f, toInput: landmarkInputTransform(d.points), fromInput: invertAffine(landmarkInputTransform(d.points)) });
await detector.close();
const lmInput = new Float32Array(112 * 112 * 3);
affineCropToTensor(crops[0]!.frame, crops[0]!.fromInput, 112, lmInput);

const tensor = new Float32Array(S * S * 3);
const cropTensor = new Float32Array(112 * 112 * 3);
const variants: Record<string, (i: number) => Promise<unknown> | unknown> = {
  blazefaceOriginal: (i) => blazeOriginal.run({ 'input:0': { type: 'float32', dims: [1, S, S, 3], data: inputs[i % inputs.length]! } }),
  blazefaceAligned: (i) => blazeAligned.run({ 'input:0': { type: 'float32', dims: [1, S, S, 3], data: inputs[i % inputs.length]! } }),
  landmark68Nested: () => lmNested.run({ input: { type: 'float32', dims: [1, 112, 112, 3], data: lmInput } }),
  landmark68Running: () => lmRunning.run({ input: { type: 'float32', dims: [1, 112, 112, 3], data: lmInput } }),
  letterbox256: (i) => letterboxUnitTensor(frames[i % frames.length]!, S, S, true, tensor),
  cropBytesToFloats: (i) => Float32Array.from(warpToCrop(crops[i % crops.length]!.frame, crops[i % crops.length]!.toInput, 112)),
  cropIntoTensor: (i) => affineCropToTensor(crops[i % crops.length]!.frame, crops[i % crops.length]!.fromInput, 112, cropTensor),
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of Object.entries(variants)) {
    for (let i = 0; i < 5; i++) await fn(i);
    const t0 = threadMs();
    for (let i = 0; i < runs; i++) await fn(i);
    times[name]!.push((threadMs() - t0) / runs);
  }
}
await Promise.all([blazeOriginal, blazeAligned, lmNested, lmRunning].map((m) => m.close()));
const msPerCall = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Number(median(v).toFixed(3))]));
console.log(JSON.stringify({ clip: path.basename(clip), width: frames[0]!.width, height: frames[0]!.height, rounds, runs, faces: crops.length, loadavg: (await import('node:os')).loadavg(), msPerCall }, null, 2));
