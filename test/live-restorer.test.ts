import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { i420Size } from '../src/compose/i420.ts';
import { LiveRestorer, type I420Frame } from '../src/apps/live/liveRestorer.ts';
import { shared } from './helpers/paths.ts';

/** Real frames of a talking-face clip as I420 (what the WebRTC decoder hands over). */
function i420Frames(width: number, height: number, count: number): Uint8Array[] {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', shared('footage/retalk_1.mp4'), '-vf', `scale=${width}:${height}`, '-frames:v', String(count), '-pix_fmt', 'yuv420p', '-f', 'rawvideo', '-'], { maxBuffer: 64 << 20 });
  const size = i420Size(width, height);
  return Array.from({ length: count }, (_, i) => new Uint8Array(raw.subarray(i * size, (i + 1) * size)));
}

async function run(restorer: LiveRestorer, frames: Uint8Array[], width: number, height: number, out: Array<{ frame: I420Frame; restored: boolean }>, gapMs: number): Promise<void> {
  for (const f of frames) {
    restorer.push({ width, height, data: f.slice() });
    await new Promise((r) => setTimeout(r, gapMs));
  }
  await new Promise((r) => setTimeout(r, 500));
}

describe('LiveRestorer (worker thread, real detector and classic restorer)', () => {
  it('changes only the face: every pixel outside the pasted face box is the decoder’s own', async () => {
    const [w, h] = [320, 240];
    const frames = i420Frames(w, h, 6);
    const out: Array<{ frame: I420Frame; restored: boolean }> = [];
    const lr = await LiveRestorer.create({ pipeline: { restorer: 'classic', fidelity: 0 }, budgetMs: 5000, detectEvery: 1, onFrame: (frame, restored) => out.push({ frame, restored }) });
    try {
      expect(lr.restoring).toBe(true);
      await run(lr, frames, w, h, out, 400);
      expect(out.length).toBeGreaterThanOrEqual(4);
      expect(out.every((o) => o.restored)).toBe(true);
      expect(lr.faces).toHaveLength(1);
      const box = lr.faces[0]!.box;
      const last = out.at(-1)!.frame.data;
      const orig = frames[frames.length - 1]!;
      let inside = 0;
      let outside = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const d = Math.abs(last[y * w + x]! - orig[y * w + x]!);
          // Paste-back writes inside the aligned crop's footprint: about 2× the detector's box around it.
          const far = x < (box.x - box.width) * w || x > (box.x + 2 * box.width) * w || y < (box.y - box.height) * h || y > (box.y + 2 * box.height) * h;
          if (far) outside += d;
          const core = x > (box.x + box.width / 4) * w && x < (box.x + (3 * box.width) / 4) * w && y > (box.y + box.height / 4) * h && y < (box.y + (3 * box.height) / 4) * h;
          if (core) inside += d;
        }
      }
      expect(outside).toBe(0);
      expect(inside).toBeGreaterThan(0);
      const stats = lr.stats();
      expect(stats).toMatchObject({ width: w, height: h, passedThrough: 0 });
      expect(stats.restored).toBe(out.length);
    } finally {
      await lr.close();
    }
  });

  it('passes frames through at once, unmarked, when there is nothing to restore', async () => {
    const [w, h] = [320, 240];
    const frames = i420Frames(w, h, 3);
    const out: Array<{ frame: I420Frame; restored: boolean }> = [];
    const lr = await LiveRestorer.create({ pipeline: { restorer: 'none' }, budgetMs: 100, onFrame: (frame, restored) => out.push({ frame, restored }) });
    try {
      expect(lr.restoring).toBe(false);
      for (const f of frames) {
        lr.push({ width: w, height: h, data: f.slice() });
        // Synchronous: the frame is out before push returns.
        expect(Buffer.compare(out.at(-1)!.frame.data, f)).toBe(0);
      }
      await new Promise((r) => setTimeout(r, 1000));
      expect(lr.faces.length).toBe(1);
    } finally {
      await lr.close();
    }
  });
});
