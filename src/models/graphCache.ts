import { stat } from 'node:fs/promises';
import { FaceRestoreError } from '../errors.ts';
import { writeFileAtomic } from '../util/atomicFile.ts';

/**
 * The graph file at `target` (a cache path keyed by the checkpoint's sha256, the graph layout's version and
 * the build options), building it with `build` and writing it atomically when it is missing or empty.
 * `onBuild` is told before a build starts (builds take seconds to minutes). Errors: what `build` throws,
 * E_OUTPUT when the cache cannot be written.
 */
export async function cachedGraph(target: string, build: () => Promise<Uint8Array>, onBuild?: () => void): Promise<string> {
  try {
    const s = await stat(target);
    if (s.isFile() && s.size > 0) return target;
  } catch {
    // not cached yet
  }
  onBuild?.();
  const bytes = await build();
  try {
    await writeFileAtomic(target, bytes);
  } catch (e) {
    throw new FaceRestoreError('E_OUTPUT', `cannot write the built model to ${target}: ${(e as Error).message}`, { cause: e });
  }
  return target;
}
