import type { FaceDetection, FivePoints, Point } from '../types.ts';
import { iou } from '../geometry.ts';

export { iou };

/**
 * Weighted non-maximum suppression (MediaPipe's variant): detections overlapping the best remaining one
 * by more than `iouThreshold` are merged into it, box and points averaged by score. Averaging, rather
 * than discarding, lowers frame-to-frame landmark noise. Returns detections sorted by descending score.
 */
export function weightedNms(candidates: readonly FaceDetection[], iouThreshold: number): FaceDetection[] {
  const rest = [...candidates].sort((a, b) => b.score - a.score);
  const kept: FaceDetection[] = [];
  while (rest.length > 0) {
    const best = rest[0]!;
    const group: FaceDetection[] = [];
    for (let i = rest.length - 1; i >= 0; i--) {
      if (iou(best.box, rest[i]!.box) > iouThreshold) group.push(rest.splice(i, 1)[0]!);
    }
    let total = 0;
    const box = { x: 0, y: 0, width: 0, height: 0 };
    const pts = [0, 0, 0, 0, 0].map(() => [0, 0]);
    for (const d of group) {
      total += d.score;
      box.x += d.box.x * d.score;
      box.y += d.box.y * d.score;
      box.width += d.box.width * d.score;
      box.height += d.box.height * d.score;
      d.points.forEach((p, k) => {
        pts[k]![0]! += p[0] * d.score;
        pts[k]![1]! += p[1] * d.score;
      });
    }
    kept.push({
      score: best.score,
      box: { x: box.x / total, y: box.y / total, width: box.width / total, height: box.height / total },
      points: pts.map(([x, y]) => [x! / total, y! / total] as Point) as unknown as FivePoints,
    });
  }
  return kept;
}
