import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * A temporary path beside `target` (same directory, so the final rename is atomic on one file system):
 * `.<name>.<pid>.<random>.partial`. The pid lets a later run tell a dead writer's leftovers from a live one's.
 */
export function partialPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.partial`);
}

/** Moves a finished temporary file onto its target atomically. */
export async function commitPartial(partial: string, target: string): Promise<void> {
  await rename(partial, target);
}

/** Removes a temporary file; a missing one is fine. */
export async function discardPartial(partial: string): Promise<void> {
  await rm(partial, { force: true });
}

/** True when a process with this id exists (EPERM: it exists but belongs to another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files that writers of `target` left when they were killed (SIGKILL, power loss)
 * before they could clean up: those whose pid no longer runs. Returns the removed paths.
 */
export async function removeStalePartials(target: string): Promise<string[]> {
  const dir = path.dirname(target);
  const prefix = `.${path.basename(target)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  const stale = names.filter((n) => {
    if (!n.startsWith(prefix) || !n.endsWith('.partial')) return false;
    const m = /^(\d+)\.[0-9a-f]+\.partial$/.exec(n.slice(prefix.length));
    return m !== null && Number(m[1]) !== process.pid && !processAlive(Number(m[1]));
  });
  await Promise.all(stale.map((n) => rm(path.join(dir, n), { force: true })));
  return stale.map((n) => path.join(dir, n));
}

/**
 * Writes `data` to `target` atomically: into a temporary file beside it, flushed to disk, then renamed.
 * Readers see the old file or the whole new one, never a part; on failure the temporary file is removed.
 * Creates the folder when missing.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const partial = partialPathFor(target);
  try {
    const fh = await open(partial, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(partial, target);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
}
