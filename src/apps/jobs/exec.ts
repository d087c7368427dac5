import { FaceRestoreError, type ErrorCode } from '../../errors.ts';
import { ChildRunner } from '../../util/process.ts';

/**
 * Runs an ffmpeg/ffprobe command to completion and resolves to its stdout. A non-zero exit rejects with
 * `code` and the command's last error lines; `signal` kills it.
 */
export async function runTool(command: string, args: readonly string[], o: { code: ErrorCode; what: string; signal?: AbortSignal }): Promise<string> {
  const runner = await ChildRunner.start(command, args, { missingCode: 'E_FFMPEG_MISSING' });
  const chunks: Buffer[] = [];
  runner.child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  const kill = () => void runner.kill();
  o.signal?.addEventListener('abort', kill, { once: true });
  try {
    const exit = await runner.exited;
    if (o.signal?.aborted) throw o.signal.reason ?? new FaceRestoreError('E_CLOSED', `${o.what}: interrupted`);
    if (exit.code !== 0) throw new FaceRestoreError(o.code, `${o.what} failed (${command} exit ${exit.code ?? exit.signal}): ${runner.stderrTail(3) || 'no message'}`);
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    o.signal?.removeEventListener('abort', kill);
  }
}
