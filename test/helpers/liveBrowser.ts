import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';

const run = promisify(execFile);

/** Debian's Chromium (set-up installs it; tests never download a browser). */
export const CHROMIUM = '/usr/bin/chromium';

/** Options of a fake-webcam clip. */
export interface Y4mOptions {
  width: number;
  height: number;
  seconds: number;
  fps?: number;
  /** Freeze the frame at this time (seconds) for the whole clip (a still: frames are comparable). */
  still?: number;
  /** Burn a 12-bit frame counter (white/black blocks) into the bottom-left corner (see readCounterScript). */
  counter?: boolean;
}

/** Side of one counter block in pixels at a given frame height (large enough to survive VP8). */
export function counterBlock(height: number): number {
  return Math.max(12, Math.round(height / 30));
}
export const COUNTER_BITS = 12;

/**
 * ffmpeg arguments that make a .y4m webcam clip from a video: centre crop to the aspect ratio, scale,
 * fixed frame rate, optional burned-in counter (bit k of the frame number is block k, left to right,
 * on a black strip at the bottom-left).
 */
export function y4mArgs(input: string, output: string, o: Y4mOptions): string[] {
  const fps = o.fps ?? 30;
  const frames = Math.round(o.seconds * fps);
  const freeze = o.still === undefined ? [] : ['trim=end_frame=1', `loop=loop=${frames}:size=1:start=0`, `setpts=N/${fps}/TB`];
  const filters = [...freeze, `crop='min(iw,ih*${o.width}/${o.height})':'min(ih,iw*${o.height}/${o.width})'`, `scale=${o.width}:${o.height}`, `fps=${fps}`];
  if (o.counter) {
    const b = counterBlock(o.height);
    const y = o.height - 2 * b;
    filters.push(`drawbox=x=0:y=${y - b / 2}:w=${(COUNTER_BITS + 1) * b}:h=${2 * b}:color=black:t=fill`);
    for (let k = 0; k < COUNTER_BITS; k++) {
      filters.push(`drawbox=x=${k * b + b / 2}:y=${y}:w=${b}:h=${b}:color=white:t=fill:enable='eq(mod(floor(n/${2 ** k}),2),1)'`);
    }
  }
  const seek = o.still === undefined ? [] : ['-ss', String(o.still)];
  return ['-v', 'error', '-y', ...seek, '-i', input, '-frames:v', String(frames), '-vf', filters.join(','), '-pix_fmt', 'yuv420p', '-an', '-f', 'yuv4mpegpipe', output];
}

/** Makes the clip (skipped when it exists). Written under a temporary name and renamed, so a run killed
 * half way never leaves a truncated clip that later runs would take as made. */
export async function makeY4m(input: string, output: string, o: Y4mOptions): Promise<string> {
  if (existsSync(output)) return output;
  const partial = `${output}.${process.pid}.partial.y4m`;
  try {
    await run('ffmpeg', y4mArgs(input, partial, o));
    await rename(partial, output);
  } finally {
    await rm(partial, { force: true });
  }
  return output;
}

/** Launches headless Chromium whose webcam plays `y4m` (flags from the infra notes). */
export function launchChromium(y4m: string, extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${y4m}`,
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--autoplay-policy=no-user-gesture-required',
      ...extraArgs,
    ],
  });
}

/**
 * Page-side function (pass to page.evaluate): draws both videos into canvases at their native size and
 * returns luma statistics of the face box and of the background, comparing original and restored.
 * `box` is in [0, 1] of the frame.
 */
export const compareVideosInPage = (args: { box: { x: number; y: number; width: number; height: number } }) => {
  const grab = (id: string) => {
    const v = document.getElementById(id) as HTMLVideoElement;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext('2d', { willReadFrequently: true })!;
    g.drawImage(v, 0, 0);
    return { w: c.width, h: c.height, data: g.getImageData(0, 0, c.width, c.height).data };
  };
  const a = grab('original');
  const b = grab('restored');
  if (a.w !== b.w || a.h !== b.h) return { sameSize: false, aw: a.w, ah: a.h, bw: b.w, bh: b.h, face: 0, background: 0 };
  const luma = (d: Uint8ClampedArray, i: number) => 0.299 * d[i]! + 0.587 * d[i + 1]! + 0.114 * d[i + 2]!;
  const bx0 = Math.floor(args.box.x * a.w), by0 = Math.floor(args.box.y * a.h);
  const bx1 = Math.ceil((args.box.x + args.box.width) * a.w), by1 = Math.ceil((args.box.y + args.box.height) * a.h);
  // Face: the central half of the box. Background: a margin of half a box side kept clear around it,
  // and away from the top-right corner (pass-through marker).
  const fx0 = bx0 + (bx1 - bx0) / 4, fx1 = bx1 - (bx1 - bx0) / 4, fy0 = by0 + (by1 - by0) / 4, fy1 = by1 - (by1 - by0) / 4;
  const mx = (bx1 - bx0) / 2, my = (by1 - by0) / 2;
  let face = 0, nf = 0, bg = 0, nb = 0;
  for (let y = 0; y < a.h; y += 2) {
    for (let x = 0; x < a.w; x += 2) {
      const i = (y * a.w + x) * 4;
      const d = Math.abs(luma(a.data, i) - luma(b.data, i));
      if (x >= fx0 && x < fx1 && y >= fy0 && y < fy1) {
        face += d;
        nf++;
      } else if ((x < bx0 - mx || x >= bx1 + mx || y < by0 - my || y >= by1 + my) && !(x > a.w * 0.85 && y < a.h * 0.15)) {
        bg += d;
        nb++;
      }
    }
  }
  return { sameSize: true, aw: a.w, ah: a.h, bw: b.w, bh: b.h, face: face / Math.max(1, nf), background: bg / Math.max(1, nb) };
};
