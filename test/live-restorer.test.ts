import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { i420Layout } from '../src/util/yuv.ts';
import { LiveRestorer, type I420Frame } from '../src/apps/live/liveRestorer.ts';
import { FaceRestoreError } from '../src/errors.ts';
import { shared } from './helpers/paths.ts';

/** Real frames of a talking-face clip as I420 (what the WebRTC decoder hands over). */
function i420Frames(width: number, height: number, count: number): Uint8Array[] {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', shared('footage/retalk_1.mp4'), '-vf', `scale=${width}:${height}`, '-frames:v', String(count), '-pix_fmt', 'yuv420p', '-f', 'rawvideo', '-'], { maxBuffer: 64 << 20 });
  const size = i420Layout(width, height).size;
  return Array.from({ length: count }, (_, i) => new Uint8Array(raw.subarray(i * size, (i + 1) * size)));
}

/** Pushes the frames one by one, each once the previous one is out (so none is superseded on a busy machine). */
async function run(restorer: LiveRestorer, frames: Uint8Array[], width: number, height: number, out: unknown[]): Promise<void> {
  for (const [i, f] of frames.entries()) {
    const before = out.length;
    restorer.push({ width, height, data: f.slice(), pts: i / 30 });
    const end = Date.now() + 60_000;
    while (out.length === before) {
      if (Date.now() > end) throw new Error(`frame ${i} never came out`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Collects a LiveRestorer's outgoing frames. */
function collect(restorer: LiveRestorer): Array<{ frame: I420Frame; restored: boolean }> {
  const out: Array<{ frame: I420Frame; restored: boolean }> = [];
  restorer.on('frame', (frame, restored) => out.push({ frame, restored }));
  return out;
}

describe('LiveRestorer (worker thread, real detector and classic restorer)', () => {
  it('changes only the face: every pixel outside the pasted face box is the decoder’s own', async () => {
    const [w, h] = [320, 240];
    const frames = i420Frames(w, h, 6);
    const lr = await LiveRestorer.create({ pipeline: { restorer: 'classic', fidelity: 0 }, budgetMs: 5000, detectEvery: 1 });
    const out = collect(lr);
    try {
      expect(lr.restoring).toBe(true);
      await run(lr, frames, w, h, out);
      expect(out.length).toBe(frames.length);
      expect(out.every((o) => o.restored)).toBe(true);
      // Frames leave in order, each with the pts it came with (it went to the worker and back).
      expect(out.map((o) => o.frame.pts)).toEqual(frames.map((_, i) => i / 30));
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
      // Where the worker's time went: every part that ran is counted, and the parts fit in the whole.
      const st = stats.stagesMs!;
      expect(st.frames).toBe(frames.length);
      for (const k of ['detect', 'refine', 'warp', 'restore', 'paste', 'total'] as const) expect(st[k], k).toBeGreaterThan(0);
      expect(st.convert).toBeGreaterThanOrEqual(0);
      expect(st.detect + st.refine + st.warp + st.restore + st.paste).toBeLessThanOrEqual(st.total);
      // Landmarks are on (the default): refined on every 3rd detection (refineEvery default 3).
      expect(lr.detectorName).toMatch(/\+landmark68\/3$/);
    } finally {
      await lr.close();
    }
  });

  it('passes frames through at once, unmarked, when there is nothing to restore', async () => {
    const [w, h] = [320, 240];
    const frames = i420Frames(w, h, 3);
    const lr = await LiveRestorer.create({ pipeline: { restorer: 'none' }, budgetMs: 100 });
    const out = collect(lr);
    try {
      expect(lr.restoring).toBe(false);
      for (const [i, f] of frames.entries()) {
        lr.push({ width: w, height: h, data: f.slice(), pts: i / 30 });
        // Synchronous: the frame is out before push returns.
        expect(Buffer.compare(out.at(-1)!.frame.data, f)).toBe(0);
      }
      // The worker looks for faces in a copy, for the overlay only, when it is free.
      for (let t = 0; t < 600 && lr.faces.length === 0; t++) await new Promise((r) => setTimeout(r, 50));
      expect(lr.faces.length).toBe(1);
    } finally {
      await lr.close();
    }
  });

  it('refuses bad options in the caller (E_CONFIG) and revives the worker’s load error with its code', async () => {
    await expect(LiveRestorer.create({ pipeline: { restorer: 'onnx' }, budgetMs: 100 })).rejects.toMatchObject({ name: 'FaceRestoreError', code: 'E_CONFIG' });
    await expect(LiveRestorer.create({ pipeline: { fidelity: 2 }, budgetMs: 100 })).rejects.toMatchObject({ code: 'E_CONFIG' });
    // Machine-local settings never travel in portable options.
    await expect(LiveRestorer.create({ pipeline: { cacheDir: '/tmp' } as never, budgetMs: 100 })).rejects.toMatchObject({ code: 'E_CONFIG' });
    // The model is looked for in the worker thread; its typed error crosses back as it was raised there.
    const missing = LiveRestorer.create({ pipeline: { restorer: 'onnx', model: '/nonexistent/codeformer.onnx' }, budgetMs: 100 });
    await expect(missing).rejects.toBeInstanceOf(FaceRestoreError);
    await expect(missing).rejects.toMatchObject({ code: 'E_MODEL_MISSING' });
  });
});
