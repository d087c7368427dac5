import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * A temporary path beside `target` (same directory, so the final rename is atomic on one file system).
 * The name starts with a dot and carries `.partial` so people and cleanup scripts can tell it apart.
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
