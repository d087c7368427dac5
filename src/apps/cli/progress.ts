import cliProgress from 'cli-progress';
import type { Progress } from '../file/pipeline.ts';

/** A progress bar on stderr with fps and ETA; silent when stderr is not a terminal or when disabled. */
export function progressBar(enabled: boolean): { update: (p: Progress) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
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
    },
  };
}
