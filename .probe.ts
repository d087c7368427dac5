import sharp from 'sharp';
import { i420FromRgb } from './test/helpers/media.ts';
import { YuNetDetector } from './src/detect/yunet.ts';
import { BlazeFaceDetector } from './src/detect/blazeface.ts';
import { Landmark68, fivePointsFrom68, LANDMARK_SQUARE } from './src/engine/landmarkRefiner.ts';
import { alignmentFor, applyAffine } from './src/compose/align.ts';
async function load(p: string) { const { data, info } = await sharp(p).removeAlpha().raw().toBuffer({ resolveWithObject: true }); const w = info.width & ~1, h = info.height & ~1;
  const rgb = new Uint8Array(w * h * 3); for (let y = 0; y < h; y++) rgb.set(data.subarray(y * info.width * 3, y * info.width * 3 + w * 3), y * w * 3); return i420FromRgb(rgb, w, h); }
const yu = await YuNetDetector.create({ modelPath: '../shared/models/face_detection_yunet_2026may.onnx' });
const bf = await BlazeFaceDetector.create({});
for (const still of ['obama.jpg', 'obama_and_biden.jpg', 'two_people.jpg']) {
  const f = await load('../shared/stills/' + still);
  const dy = await yu.detect(f); const db = await bf.detect(f);
  for (const side of [300, 330, 360]) for (const cy of [290, 300, 310]) {
    (LANDMARK_SQUARE as any).side = side; (LANDMARK_SQUARE as any).cy = cy;
    const lm = await Landmark68.create({ passes: 1 });
    const a = await lm.landmarks(f, dy.map((d) => d.points)); const b = await lm.landmarks(f, db.map((d) => d.points));
    // agreement between detectors' starts, in px, and bbox of 68 pts in template coords
    const rows: string[] = [];
    for (let i = 0; i < Math.min(a.length, 2); i++) {
      const j = db.findIndex((d) => Math.hypot(d.box.x - dy[i]!.box.x, d.box.y - dy[i]!.box.y) < dy[i]!.box.width / 2);
      const diff = j >= 0 ? Math.max(...a[i]!.map((p, k) => Math.hypot(p[0] - b[j]![k]![0], p[1] - b[j]![k]![1]))) : NaN;
      const m = alignmentFor(fivePointsFrom68(a[i]!)); const t = a[i]!.map((p) => applyAffine(m, p));
      const xs = t.map((p) => p[0]), ys = t.map((p) => p[1]);
      const eyeDist = Math.hypot(a[i]![45]![0] - a[i]![36]![0], a[i]![45]![1] - a[i]![36]![1]);
      rows.push(`face${i} yunet-vs-blaze max ${diff.toFixed(2)} px (eye span ${eyeDist.toFixed(0)}) bbox ${Math.min(...xs).toFixed(0)}..${Math.max(...xs).toFixed(0)} x ${Math.min(...ys).toFixed(0)}..${Math.max(...ys).toFixed(0)}`);
    }
    console.log(still, side, cy, rows.join(' | '));
    await lm.close();
  }
}
