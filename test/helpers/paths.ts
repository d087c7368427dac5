import { fileURLToPath } from 'node:url';

/** Absolute path of a file in ../shared (test material beside the checkout). */
export function shared(rel: string): string {
  return fileURLToPath(new URL(`../../../shared/${rel}`, import.meta.url));
}

/** Absolute path inside the repository. */
export function repo(rel: string): string {
  return fileURLToPath(new URL(`../../${rel}`, import.meta.url));
}
