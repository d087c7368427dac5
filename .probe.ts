import sharp from 'sharp';
import { decodeFrames, rgbFromI420 } from './test/helpers/media.ts';
import { BlazeFaceDetector } from './src/detect/blazeface.ts';
import { YuNetDetector } from './src/detect/yunet.ts';
import { Landmark68, fivePointsFrom68 } from './src/engine/landmarkRefiner.ts';
const det = await BlazeFaceDetector.create({ intraOpThreads: 1 });
const yu = await YuNetDetector.create({ modelPath: '../shared/models/face_detection_yunet_2026may.onnx', intraOpThreads: 1 });
const lm = await Landmark68.create({ intraOpThreads: 1 });
let n = 0, saved = 0;
for await (const f of decodeFrames('../shared/footage/short_hamilton_clip.mp4')) {
  if (n++ % 3) continue;
  const d = await det.detect(f);
  const l = await lm.landmarks(f, d.map((x) => x.points));
  const y = await yu.detect(f);
  for (let i = 0; i < d.length; i++) {
    const x = d[i]!; const r = fivePointsFrom68(l[i]!);
    const iod = Math.hypot(x.points[1][0] - x.points[0][0], x.points[1][1] - x.points[0][1]);
    const m = r.reduce((s, p, k) => s + Math.hypot(p[0] - x.points[k]![0], p[1] - x.points[k]![1]), 0) / 5 / iod;
    const yy = y.find((q) => Math.hypot(q.box.x - x.box.x, q.box.y - x.box.y) < x.box.width / 2);
    const my = yy ? r.reduce((s, p, k) => s + Math.hypot(p[0] - yy.points[k]![0], p[1] - yy.points[k]![1]), 0) / 5 / iod : NaN;
    const mb = yy ? x.points.reduce((s, p, k) => s + Math.hypot(p[0] - yy.points[k]![0], p[1] - yy.points[k]![1]), 0) / 5 / iod : NaN;
    console.log(f.index, 'box', Math.round(x.box.width), 'score', x.score.toFixed(2), 'ref-vs-blaze', m.toFixed(2), 'ref-vs-yunet', my.toFixed(2), 'blaze-vs-yunet', mb.toFixed(2));
    if (m > 0.5 && saved < 4) {
      saved++;
      const rgb = rgbFromI420(f);
      const dot = (p: readonly number[], c: number[]) => { for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) { const px = Math.round(p[0]! + dx), py = Math.round(p[1]! + dy); if (px >= 0 && py >= 0 && px < f.width && py < f.height) rgb.set(c, (py * f.width + px) * 3); } };
      x.points.forEach((p) => dot(p, [255, 0, 0])); r.forEach((p) => dot(p, [0, 255, 0])); l[i]!.forEach((p) => { const px = Math.round(p[0]), py = Math.round(p[1]); if (px >= 0 && py >= 0 && px < f.width && py < f.height) rgb.set([255, 255, 0], (py * f.width + px) * 3); });
      yy?.points.forEach((p) => dot(p, [0, 128, 255]));
      const b = x.box; const pad = b.width * 0.6;
      const left = Math.max(0, Math.round(b.x - pad)), top = Math.max(0, Math.round(b.y - pad));
      const w = Math.min(f.width - left, Math.round(b.width + 2 * pad)), h = Math.min(f.height - top, Math.round(b.height + 2 * pad));
      await sharp(rgb, { raw: { width: f.width, height: f.height, channels: 3 } }).extract({ left, top, width: w, height: h }).resize(Math.max(w, 300), undefined, { kernel: 'nearest' }).png().toFile(`/tmp/lm/vis/f${f.index}_${i}.png`);
    }
  }
}
