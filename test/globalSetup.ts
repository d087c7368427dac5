import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Fails fast, with the fix, when the test prerequisites that set-up installs are missing. */
export default function setup(): void {
  for (const tool of ['ffmpeg', 'ffprobe']) {
    try {
      execFileSync(tool, ['-version'], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is not installed: run bash scripts/setup.sh (or npm test, which runs it)`);
    }
  }
  if (!existsSync(new URL('../../shared/README.md', import.meta.url))) {
    throw new Error('../shared (the shared test material) is missing beside the checkout');
  }
}
