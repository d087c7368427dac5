/**
 * Recall on synthetic crowds (test/helpers/crowd.ts: real faces pasted at known places, 20–120 px) and false
 * positives on face-free backgrounds, for each detector. Prints JSON: per detector recall, faces, missed by
 * size band, false positives (extra boxes on the crowds, boxes on the face-free pictures), CPU and wall
 * milliseconds per picture (detector runs on this thread, one intra-op thread, as the product runs them).
 *
 * Run: node bench/crowd-detectors.ts [--pictures N] [--width W --height H] [--faces N] [--min-face PX --max-face PX] [--only name,name] [--tiled '{"smallestTile":128}']
 */
import { parseArgs } from 'node:util';
import os from 'node:os';
import { threadCpuUsage } from 'node:process';
import { BlazeFaceDetector, frontBlazeFaceModel } from '../src/detect/blazeface.ts';
import type { FaceDetector } from '../src/detect/detector.ts';
import { YuNetDetector } from '../src/detect/yunet.ts';
import { TiledDetector, type TiledDetectorOptions } from '../src/engine/tiledDetect.ts';
import { background, loadFaceSources, makeCrowd, matchFaces, type Crowd } from '../test/helpers/crowd.ts';
import { i420FromRgb } from '../test/helpers/media.ts';
import { shared } from '../test/helpers/paths.ts';

const { values } = parseArgs({
  options: {
    pictures: { type: 'string', default: '10' },
    width: { type: 'string', default: '640' },
    height: { type: 'string', default: '480' },
    faces: { type: 'string', default: '32' },
    'min-face': { type: 'string', default: '20' },
    'max-face': { type: 'string', default: '120' },
    only: { type: 'string' },
    tiled: { type: 'string', default: '{}' },
  },
});
const N = Number(values.pictures);
const W = Number(values.width);
const H = Number(values.height);

const one = { intraOpThreads: 1, threadSpinning: false } as const;
const yunetModel = shared('models/face_detection_yunet_2026may.onnx');
const makers: Record<string, () => Promise<FaceDetector>> = {
  blazeface: () => BlazeFaceDetector.create(one),
  'blazeface-front-128': () => BlazeFaceDetector.create({ ...one, modelPath: frontBlazeFaceModel() }),
  'blazeface-tiled': async () => new TiledDetector(await BlazeFaceDetector.create(one), JSON.parse(values.tiled) as TiledDetectorOptions),
  yunet: () => YuNetDetector.create({ ...one, modelPath: yunetModel }),
  'yunet-960': () => YuNetDetector.create({ ...one, modelPath: yunetModel, maxSide: 960 }),
};
const only = values.only?.split(',');

const sources = await loadFaceSources();
const crowds: Crowd[] = [];
for (let i = 0; i < N; i++) crowds.push(await makeCrowd(sources, { width: W, height: H, count: Number(values.faces), minFace: Number(values['min-face']), maxFace: Number(values['max-face']), seed: 1000 + i }));
const empty = Array.from({ length: N }, (_, i) => i420FromRgb(background(W, H, 5000 + i), W, H));
const bands = [20, 30, 45, 70, 121];

const results: Record<string, unknown> = {};
for (const [name, make] of Object.entries(makers)) {
  if (only && !only.includes(name)) continue;
  const det = await make();
  let faces = 0;
  let hit = 0;
  let extra = 0;
  let onEmpty = 0;
  const missedBySize = bands.slice(0, -1).map(() => 0);
  const facesBySize = bands.slice(0, -1).map(() => 0);
  let cpu = 0;
  let wall = 0;
  await det.detect(crowds[0]!.frame); // warm-up
  for (const c of crowds) {
    const t0 = performance.now();
    const u0 = threadCpuUsage();
    const found = await det.detect(c.frame);
    const u1 = threadCpuUsage(u0);
    wall += performance.now() - t0;
    cpu += (u1.user + u1.system) / 1000;
    const m = matchFaces(c.faces, found);
    faces += c.faces.length;
    hit += m.hit;
    extra += m.extra.length;
    const band = (b: { width: number; height: number }) => bands.findIndex((_, k) => Math.max(b.width, b.height) < bands[k + 1]!);
    for (const f of c.faces) facesBySize[Math.max(0, band(f))]! += 1;
    for (const f of m.missed) missedBySize[Math.max(0, band(f))]! += 1;
  }
  for (const e of empty) onEmpty += (await det.detect(e)).length;
  await det.close();
  results[name] = {
    detector: det.name,
    recall: Number((hit / faces).toFixed(4)),
    faces,
    missedBySize: Object.fromEntries(bands.slice(0, -1).map((b, k) => [`${b}-${bands[k + 1]! - 1}px`, `${missedBySize[k]}/${facesBySize[k]}`])),
    extraOnCrowds: extra,
    boxesOnFaceFree: onEmpty,
    cpuMsPerPicture: Number((cpu / N).toFixed(1)),
    wallMsPerPicture: Number((wall / N).toFixed(1)),
  };
}
console.log(JSON.stringify({ pictures: N, size: `${W}x${H}`, sources: sources.length, loadavg: os.loadavg().map((l) => Number(l.toFixed(2))), results }, null, 2));
