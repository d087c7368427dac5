import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repo } from './helpers/paths.ts';

/** The layering the README's architecture section describes, checked on the sources' imports. */
const SRC = repo('src');
const STAGES = ['ingest', 'detect', 'track', 'restore', 'compose', 'stream'];
/** Shared ground every layer may use. */
const SHARED = ['types.ts', 'errors.ts', 'geometry.ts', 'util', 'runtime', 'models', 'config'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.(ts|js)$/.test(e.name) ? [p] : [];
  });
}

/** First path segment under src/ (a folder or a top-level file). */
const area = (file: string): string => path.relative(SRC, file).split(path.sep)[0]!;

/** Relative import targets of a file (static, dynamic, worker URLs), resolved to absolute paths. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+|new URL\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  // siblingModule('name', import.meta.url): a worker or child entry beside the file (./name.ts in the sources)
  for (const m of text.matchAll(/siblingModule\(\s*'([^'/]+)'/g)) specs.push(`./${m[1]}.ts`);
  return specs.map((s) => path.resolve(path.dirname(file), s));
}

const files = sources(SRC);

describe('architecture', () => {
  it('finds the sources and every stage folder', () => {
    expect(files.length).toBeGreaterThan(100);
    for (const s of STAGES) expect(files.some((f) => area(f) === s), s).toBe(true);
  });

  it('stages, the engine and the shared ground never import an application', () => {
    const bad = files
      .filter((f) => area(f) !== 'apps' && area(f) !== 'index.ts')
      .flatMap((f) => imports(f).filter((t) => area(t) === 'apps').map((t) => `${path.relative(SRC, f)} → ${path.relative(SRC, t)}`));
    expect(bad).toEqual([]);
  });

  it('a stage imports no other stage and not the engine', () => {
    const bad = files
      .filter((f) => STAGES.includes(area(f)))
      .flatMap((f) => imports(f).filter((t) => area(t) !== area(f) && !SHARED.includes(area(t))).map((t) => `${path.relative(SRC, f)} → ${path.relative(SRC, t)}`));
    expect(bad).toEqual([]);
  });

  it('the shared ground imports no stage, engine or application', () => {
    const bad = files
      .filter((f) => SHARED.includes(area(f)))
      .flatMap((f) => imports(f).filter((t) => !SHARED.includes(area(t))).map((t) => `${path.relative(SRC, f)} → ${path.relative(SRC, t)}`));
    expect(bad).toEqual([]);
  });

  it('only the gateway names onnxruntime-node', () => {
    const naming = files.filter((f) => readFileSync(f, 'utf8').includes('onnxruntime-node')).map((f) => path.relative(SRC, f));
    expect(naming).toEqual([path.join('runtime', 'ort.ts')]);
  });

  it('only the config module reads process.env', () => {
    const reading = files.filter((f) => /process\.env\b/.test(readFileSync(f, 'utf8'))).map((f) => path.relative(SRC, f));
    expect(reading).toEqual([path.join('config', 'env.ts')]);
  });

  it('the checker sees a violation when there is one', () => {
    // The import scanner must find this file's own relative import, or every rule above passes vacuously.
    expect(imports(repo('src/engine/components.ts')).some((t) => t.endsWith(path.join('detect', 'createDetector.ts')))).toBe(true);
    expect(imports(repo('src/apps/live/liveRestorer.ts')).some((t) => t.endsWith('frameWorker.ts'))).toBe(true);
  });
});
