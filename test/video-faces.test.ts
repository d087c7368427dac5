import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFile, type RunOptions } from '../src/apps/file/runFile.ts';
import { Components } from '../src/engine/components.ts';
import type { Box, Face, VideoFrame } from '../src/types.ts';
import { alignmentFor, cropFootprint } from '../src/compose/align.ts';
import { runFacerestore } from './helpers/cli.ts';
import { VideoDecoder } from '../src/ingest/decoder.ts';
import { probeVideo } from '../src/ingest/probe.ts';
import type { FrameSink, SinkWriteResult } from '../src/stream/sink.ts';
import type { AnalyzedFrame } from '../src/types.ts';

/** Hands each frame to a callback and ends the run after `wanted` frames. */
class FirstFrames implements FrameSink {
  #n = 0;
  readonly #wanted: number;
  readonly #onFrame: (item: AnalyzedFrame) => void;
  constructor(wanted: number, onFrame: (item: AnalyzedFrame) => void) {
    this.#wanted = wanted;
    this.#onFrame = onFrame;
  }
  async start(): Promise<void> {}
  async write(item: AnalyzedFrame): Promise<SinkWriteResult> {
    this.#onFrame(item);
    return ++this.#n === this.#wanted ? 'done' : undefined;
  }
  async finish(): Promise<void> {}
  async abort(): Promise<void> {}
}
import { shared } from './helpers/paths.ts';

const CLIP = shared('footage/short_hamilton_clip.mp4');
/** Frames looked at (the sink ends the run after them), from START s: a stretch with two and three faces. */
const FRAMES = 40;
const START = 8;

let tmp: string;
let components: Components;
let input: VideoFrame[];
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fr-video-faces-'));
  components = await Components.create({ batch: 4 });
  const d = await VideoDecoder.create(await probeVideo(CLIP), { start: START });
  input = [];
  for await (const f of d.frames()) {
    input.push(f);
    if (input.length === FRAMES) break;
  }
  await d.close();
});
afterAll(async () => {
  await components?.close();
  await rm(tmp, { recursive: true, force: true });
});

/** Luma samples of `box` outside every `avoid` rectangle: how many, and how many differ between two frames. */
function samplesOutside(a: VideoFrame, b: VideoFrame, box: Box, avoid: readonly Box[]): { n: number; changed: number } {
  let n = 0, changed = 0;
  const inside = (x: number, y: number) => avoid.some((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height);
  for (let y = Math.max(0, Math.floor(box.y)); y < Math.min(a.height, box.y + box.height); y++) {
    for (let x = Math.max(0, Math.floor(box.x)); x < Math.min(a.width, box.x + box.width); x++) {
      if (inside(x, y)) continue;
      n++;
      if (a.data[y * a.width + x] !== b.data[y * b.width + x]) changed++;
    }
  }
  return { n, changed };
}

/**
 * Runs FRAMES frames; per frame: the chosen faces' track ids, whether each chosen face's box changed, and over
 * the faces not chosen the luma samples outside every chosen face's paste footprint (and how many changed).
 */
async function restoreAndSee(run: RunOptions) {
  const chosenBy = new Map<number, { faces: Face[]; chosen: Face[] }>();
  const rows: Array<{ chosen: number[]; chosenChanged: boolean[]; others: { n: number; changed: number }; faces: number }> = [];
  const sink = new FirstFrames(FRAMES, ({ frame }) => {
    const before = input[rows.length]!;
    expect(frame.pts).toBe(before.pts);
    const { faces, chosen } = chosenBy.get(frame.index)!;
    const footprints = chosen.map((f) => cropFootprint(alignmentFor(f.points), frame.width, frame.height));
    const others = { n: 0, changed: 0 };
    for (const f of faces.filter((x) => !chosen.includes(x))) {
      const o = samplesOutside(before, frame, f.box, footprints);
      others.n += o.n;
      others.changed += o.changed;
    }
    rows.push({ chosen: chosen.map((f) => f.trackId), chosenChanged: chosen.map((f) => samplesOutside(before, frame, f.box, []).changed > 0), others, faces: faces.length });
  });
  const summary = await runFile(components, CLIP, sink, {
    start: START,
    ...run,
    onTracked: (frame, faces, _info, chosen) => chosenBy.set(frame.index, { faces: [...faces], chosen: faces.filter((f) => !chosen || chosen.has(f)) }),
  });
  expect(rows.length).toBe(FRAMES);
  return { rows, summary };
}

describe('face choice on video (per track)', () => {
  it('--faces largest restores one face per frame and keeps to its track; the other faces stay the input\'s own', async () => {
    const all = await restoreAndSee({});
    expect(all.rows.filter((r) => r.faces >= 2).length).toBeGreaterThan(20); // a stretch with several faces
    const allOthers = all.rows.reduce((a, r) => a + r.others.n, 0);
    expect(allOthers).toBe(0); // by default every face is chosen

    const one = await restoreAndSee({ faceChoice: { faces: 'largest' } });
    expect(one.summary.facesChosen).toBe(one.rows.reduce((a, r) => a + r.chosen.length, 0));
    for (const r of one.rows) {
      expect(r.chosen.length).toBe(r.faces > 0 ? 1 : 0);
      expect(r.chosenChanged.every(Boolean)).toBe(true);
      expect(r.others.changed).toBe(0); // not one sample of the other faces outside the chosen one's paste rectangle
    }
    // Those samples are many: the check covers something.
    const others = one.rows.reduce((a, r) => a + r.others.n, 0);
    expect(others).toBeGreaterThan(20 * 500);
    // Stable: while the chosen track is in the picture it stays the chosen one.
    const ids = new Set(one.rows.flatMap((r) => r.chosen));
    expect(ids.size).toBe(1);

    const none = await restoreAndSee({ faceChoice: { minFace: 10_000 } });
    expect(none.summary.facesChosen).toBe(0);
    expect(none.rows.every((r) => r.chosen.length === 0 && r.others.changed === 0)).toBe(true);
  });

  it('the CLI takes --faces on a video and reports the faces chosen', async () => {
    const out = path.join(tmp, 'largest.mp4');
    const r = await runFacerestore(['restore', CLIP, '-o', out, '--start', String(START), '--duration', '0.5', '--faces', 'largest', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.facesChosen).toBeGreaterThan(0);
    expect(s.facesChosen).toBeLessThanOrEqual(s.frames);
    expect(s.faces).toBeGreaterThan(s.facesChosen);
    const boxes = await runFacerestore(['restore', CLIP, '-o', path.join(tmp, 'x.mp4'), '--draw-boxes']);
    expect(boxes.code).toBe(2);
    expect(boxes.stderr).toMatch(/--draw-boxes works on images only/);
  });
});
