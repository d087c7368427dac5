/**
 * The URL of a module next to `base` (a caller's `import.meta.url`), for worker and child-process entry
 * points: `name.ts` when the caller runs from the TypeScript sources (a checkout, type stripping), `name.js`
 * when it runs from the compiled package (`dist/`, as installed under node_modules).
 */
export function siblingModule(name: string, base: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}
