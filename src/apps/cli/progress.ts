import cliProgress from 'cli-progress';
import type { Progress } from '../file/pipeline.ts';

/** `--progress`: a bar (terminals), plain lines every few seconds (logs, CI, Docker), or nothing; auto picks bar on a TTY. */
export type ProgressMode = 'auto' | 'bar' | 'plain' | 'none';
export const PROGRESS_MODES: readonly ProgressMode[] = ['auto', 'bar', 'plain', 'none'];

/** What a command drives: one update per progress event, one stop at the end (idempotent). */
export interface ProgressReporter {
  update: (p: Progress) => void;
  stop: () => void;
}

/** Seconds between two plain progress lines. */
const PLAIN_INTERVAL_MS = 5000;

/** `--progress` value from parsed flags (`--no-progress` is `none`). */
export function progressModeFromFlags(v: unknown): ProgressMode {
  return v === false ? 'none' : ((v as ProgressMode | undefined) ?? 'auto');
}

/** A progress reporter on stderr for `mode` (auto: a bar when stderr is a terminal, else plain lines). */
export function progressReporter(mode: ProgressMode, write: (s: string) => void = (s) => process.stderr.write(s)): ProgressReporter {
  const resolved = mode === 'auto' ? (process.stderr.isTTY ? 'bar' : 'plain') : mode;
  if (resolved === 'none') return { update: () => undefined, stop: () => undefined };
  return resolved === 'bar' ? progressBar() : plainProgress(write);
}

/** One line per PLAIN_INTERVAL_MS (the first update prints at once), and a last line at stop. */
function plainProgress(write: (s: string) => void): ProgressReporter {
  let last: Progress | undefined;
  let printedAt = -Infinity;
  let printed: Progress | undefined;
  const line = (p: Progress) => {
    const total = Math.max(p.totalFrames, p.frames);
    const eta = p.fps > 0 && total > p.frames ? `${Math.ceil((total - p.frames) / p.fps)} s` : p.frames >= total ? '0 s' : '?';
    const pct = total > 0 ? ((100 * p.frames) / total).toFixed(0) : '?';
    write(`facerestore: progress: ${p.frames}/${total} frames (${pct}%), ${p.fps.toFixed(1)} fps, ETA ${eta}\n`);
    printed = p;
  };
  return {
    update(p) {
      last = p;
      const now = performance.now();
      if (now - printedAt >= PLAIN_INTERVAL_MS) {
        printedAt = now;
        line(p);
      }
    },
    stop() {
      if (last && printed !== last) line(last);
      last = undefined;
    },
  };
}

/** A progress bar on stderr with fps and ETA. */
function progressBar(): ProgressReporter {
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '{bar} {percentage}% | {value}/{total} frames | {fps} fps | ETA {eta_formatted}', hideCursor: true, etaBuffer: 30 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      if (!started) {
        bar.start(p.totalFrames, 0, { fps: '0.0' });
        started = true;
      }
      bar.setTotal(Math.max(p.totalFrames, p.frames));
      bar.update(p.frames, { fps: p.fps.toFixed(1) });
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
