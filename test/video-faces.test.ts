import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFile, type RunOptions } from '../src/apps/file/runFile.ts';
import { Components } from '../src/engine/components.ts';
import { FaceChooser } from '../src/engine/faceChoice.ts';
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
import { ffmpeg } from './helpers/media.ts';
import { tinyEmbeddingModel } from './helpers/tinyModels.ts';

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

  it('--reference on a video: a still of the clip\'s own speaker picks every frame\'s face, another person\'s none', async () => {
    const model = path.join(tmp, 'embed.onnx');
    await writeFile(model, tinyEmbeddingModel());
    const clip = shared('footage/retalk_1.mp4');
    const still = path.join(tmp, 'speaker.png');
    await ffmpeg('-ss', '0.5', '-i', clip, '-frames:v', '1', still);
    const withRef = (ref: string) => runFacerestore(['restore', clip, '-o', path.join(tmp, 'ref.mp4'), '--duration', '1', '--preset', 'ultrafast', '--json', '--reference', ref, '--reference-model', model, '--reference-threshold', '0.8']);
    const same = await withRef(still);
    expect(same.code, same.stderr).toBe(0);
    const a = JSON.parse(same.stdout);
    expect(a.faces).toBeGreaterThan(10);
    expect(a.facesChosen).toBe(a.faces);
    const other = await withRef(shared('stills/obama.jpg'));
    expect(other.code, other.stderr).toBe(0);
    const b = JSON.parse(other.stdout);
    expect(b.faces).toBe(a.faces);
    expect(b.facesChosen).toBe(0);
  });
});

describe('FaceChooser', () => {
  const frame = { index: 0, pts: 0, width: 640, height: 360, data: new Uint8Array(640 * 360 * 1.5), colour: { matrix: 'bt601', range: 'full' } } as VideoFrame;
  const face = (trackId: number, x: number, size: number): Face => ({
    trackId, box: { x, y: 100, width: size, height: size }, score: 0.9, fidelity: 0.5,
    points: [[x + 10, 110], [x + 20, 110], [x + 15, 115], [x + 11, 120], [x + 19, 120]], rawPoints: [[x + 10, 110], [x + 20, 110], [x + 15, 115], [x + 11, 120], [x + 19, 120]],
  });
  const ids = (s: Set<Face>) => [...s].map((f) => f.trackId).sort();

  it('keeps a chosen track while it is here, fills a free place by the rule, and chooses each frame alone without tracking', async () => {
    const c = new FaceChooser({ faces: 'largest' });
    expect(ids((await c.choose(frame, [face(1, 0, 80), face(2, 200, 60)])).chosen)).toEqual([1]);
    expect(ids((await c.choose(frame, [face(1, 0, 50), face(2, 200, 90)])).chosen)).toEqual([1]); // 2 grew larger: 1 stays
    expect(ids((await c.choose(frame, [face(2, 200, 90), face(3, 400, 95)])).chosen)).toEqual([3]); // 1 left: the largest now
    const two = new FaceChooser({ faces: 2, minFace: 40 });
    expect(ids((await two.choose(frame, [face(1, 0, 80), face(2, 200, 60), face(3, 400, 30)])).chosen)).toEqual([1, 2]);
    const r = await two.choose(frame, [face(1, 0, 80), face(2, 200, 30), face(3, 400, 70)]);
    expect(r.sized.map((f) => f.trackId)).toEqual([1, 3]); // 2 fell under --min-face
    expect(ids(r.chosen)).toEqual([1, 3]);
    const alone = new FaceChooser({ faces: 'largest', byTrack: false });
    await alone.choose(frame, [face(1, 0, 80), face(2, 200, 60)]);
    expect(ids((await alone.choose(frame, [face(1, 0, 50), face(2, 200, 90)])).chosen)).toEqual([2]);
    expect(new FaceChooser({}).choosesAll).toBe(true);
    expect(new FaceChooser({ minFace: 1 }).choosesAll).toBe(false);
  });
});
