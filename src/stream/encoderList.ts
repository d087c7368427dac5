/**
 * Which video encoders the installed ffmpeg has, so that `--codec` is checked before a run starts rather
 * than failing at its first frame. Parsing is pure; {@link listVideoEncoders} spawns once per call.
 */

import { ChildRunner } from '../util/process.ts';

/** ffmpeg arguments that print the encoder table. */
export function buildEncoderListArgs(): string[] {
  return ['-hide_banner', '-nostdin', '-encoders'];
}

/**
 * The video encoders' names in `ffmpeg -encoders` output: rows whose flag column starts with `V`
 * (`V....D libx264 ...`), after the `------` line that ends the legend.
 */
export function parseVideoEncoders(text: string): Set<string> {
  const out = new Set<string>();
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^\s*-{3,}\s*$/.test(l));
  for (const line of lines.slice(start + 1)) {
    const m = /^\s*(V[A-Z.]{5})\s+(\S+)/.exec(line);
    if (m) out.add(m[2]!);
  }
  return out;
}

/**
 * The video encoders of the ffmpeg at `ffmpegPath`; undefined when the list cannot be read (the run then
 * reports a bad codec when the encoder starts, as before). E_FFMPEG_MISSING when ffmpeg is not installed.
 */
export async function listVideoEncoders(ffmpegPath: string): Promise<Set<string> | undefined> {
  const runner = await ChildRunner.start(ffmpegPath, buildEncoderListArgs(), { missingCode: 'E_FFMPEG_MISSING' });
  runner.child.stdin!.end();
  let text = '';
  runner.child.stdout!.setEncoding('utf8');
  runner.child.stdout!.on('data', (c: string) => {
    if (text.length < 1 << 20) text += c;
  });
  const exit = await runner.exited;
  const list = parseVideoEncoders(text);
  return exit.code === 0 && list.size > 0 ? list : undefined;
}
