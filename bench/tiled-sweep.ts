/**
 * TiledDetector settings against each other on the same pictures (docs/detectors.md, weak candidates):
 *
 *   node bench/tiled-sweep.ts '[{"name":"base","tiled":{}},{"name":"no-weak","tiled":{"weakScoreThreshold":0}}]'
 *     [--small 8] [--crowds 10] [--empty 10] [--base 1000] [--no-stills]
 *
 * One JSON line per setting: recall on `--small` crowds of 40 faces of 20–22 px (seeds from `--base`) with the
 * missed sizes, seed 7's crowd (the test's), `--crowds` crowds of 20–120 px (misses per 20/30/45/70 px band),
 * the test's four crowds, boxes on `--empty` face-free pictures, face counts on the shared stills (found/true)
 * and face-api's photos, detector-thread CPU ms per picture, and the load average. `inner` passes BlazeFace
 * options (e.g. `{"scoreThreshold":0.4}`).
 */
import os from 'node:os';
import { threadCpuUsage } from 'node:process';
import { BlazeFaceDetector } from '../src/detect/blazeface.ts';
import { TiledDetector, type TiledDetectorOptions } from '../src/engine/tiledDetect.ts';
import { background, loadFaceSources, makeCrowd, matchFaces, sourcePhotos, type Crowd } from '../test/helpers/crowd.ts';
import { i420FromRgb, stillFrame } from '../test/helpers/media.ts';
import { shared } from '../test/helpers/paths.ts';

const args = process.argv.slice(2);
const configs = JSON.parse(args[0] ?? '[{"name":"base","tiled":{}}]') as Array<{ name: string; inner?: { scoreThreshold?: number }; tiled: TiledDetectorOptions }>;
const opt = (k: string, d: number) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d);
const nSmall = opt('--small', 8);
const nCrowd = opt('--crowds', 10);
const nEmpty = opt('--empty', 10);
const stills = !args.includes('--no-stills');

const sources = await loadFaceSources();
const small: Crowd[] = [];
for (let i = 0; i < nSmall; i++) small.push(await makeCrowd(sources, { width: 640, height: 480, count: 40, minFace: 20, maxFace: 22, seed: opt('--base', 1000) + i }));
const seed7 = await makeCrowd(sources, { width: 640, height: 480, count: 40, minFace: 20, maxFace: 22, seed: 7 });
const crowds: Crowd[] = [];
for (let i = 0; i < nCrowd; i++) crowds.push(await makeCrowd(sources, { width: 640, height: 480, count: 32, seed: opt('--base', 1000) + i }));
const testCrowds: Crowd[] = [];
for (let i = 0; i < 4; i++) testCrowds.push(await makeCrowd(sources, { width: 640, height: 480, count: 32, seed: 1000 + i }));
const empty = Array.from({ length: nEmpty }, (_, i) => i420FromRgb(background(640, 480, 5000 + i), 640, 480));
const stillFiles = { 'obama.jpg': 1, 'obama-240p.jpg': 1, 'two_people.jpg': 2, 'obama_and_biden.jpg': 3 };
const photos = sourcePhotos().slice(3);

for (const c of configs) {
  const inner = await BlazeFaceDetector.create({ intraOpThreads: 1, threadSpinning: false, ...(c.inner ?? {}) } as never);
  const det = new TiledDetector(inner, c.tiled, true);
  await det.detect(crowds[0]!.frame);
  const run = async (set: Crowd[]) => {
    let hit = 0, faces = 0, extra = 0, cpu = 0;
    const missed: number[] = [];
    for (const p of set) {
      const u0 = threadCpuUsage();
      const found = await det.detect(p.frame);
      const u1 = threadCpuUsage(u0);
      cpu += (u1.user + u1.system) / 1000;
      const m = matchFaces(p.faces, found);
      hit += m.hit; faces += p.faces.length; extra += m.extra.length;
      for (const f of m.missed) missed.push(Math.round(Math.max(f.width, f.height)));
    }
    return { recall: +(hit / faces).toFixed(4), hit, faces, extra, cpu: +(cpu / set.length).toFixed(0), missed: missed.sort((a, b) => a - b) };
  };
  const s = await run(small);
  const s7 = await run([seed7]);
  const g = await run(crowds);
  const t4 = await run(testCrowds);
  const bands = [20, 30, 45, 70, 121];
  const gb = bands.slice(0, -1).map((b, k) => g.missed.filter((m) => m >= b && m < bands[k + 1]!).length).join('/');
  let onEmpty = 0;
  for (const e of empty) onEmpty += (await det.detect(e)).length;
  const st: string[] = [];
  if (stills) {
    for (const [f, n] of Object.entries(stillFiles)) st.push(`${(await det.detect(await stillFrame(shared(`stills/${f}`)))).length}/${n}`);
    for (const p of photos) st.push(String((await det.detect(await stillFrame(p))).length));
  }
  await det.close();
  console.log(JSON.stringify({ name: c.name, small: { recall: s.recall, hit: `${s.hit}/${s.faces}`, extra: s.extra, cpu: s.cpu, missed: s.missed.join(',') }, seed7: `${s7.hit}/${s7.faces} extra ${s7.extra}`, crowds: { recall: g.recall, missed: gb, extra: g.extra, cpu: g.cpu }, test4: `${t4.recall} extra ${t4.extra}`, faceFree: onEmpty, stills: st.join(' '), load: os.loadavg()[0]!.toFixed(2) }));
}
