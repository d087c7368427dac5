/**
 * A folder of images and videos through one loaded pipeline: each file is restored into the same relative
 * path under the output folder. Outputs that exist are skipped (a re-run finishes what is left) unless
 * `overwrite`; a file that fails is reported and the others continue.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { FaceRestoreError, serializeError } from '../../errors.ts';
import type { Pipeline } from './pipeline.ts';
import type { RunOptions } from './runFile.ts';
import type { FileSinkOptions } from '../../stream/fileSink.ts';
import { isImagePath, runImage, type ImageRunOptions } from './runImage.ts';

/** Extensions treated as videos inside a folder. */
export const FOLDER_VIDEO_EXTENSIONS: readonly string[] = ['.mp4', '.m4v', '.mov', '.mkv', '.avi', '.webm', '.ts', '.nut'];

export interface FolderRunOptions {
  recursive?: boolean;
  overwrite?: boolean;
  image?: ImageRunOptions;
  encode?: Omit<FileSinkOptions, 'output'>;
  /** Per-run options of the folder's videos (e.g. `faceChoice`). */
  video?: RunOptions;
  /** Called once per file as it finishes (or is skipped, or fails). */
  onFile?: (r: FolderFileResult) => void;
}

export interface FolderFileResult {
  input: string;
  output: string;
  kind: 'image' | 'video';
  status: 'done' | 'skipped' | 'failed';
  faces?: number;
  error?: { code: string; message: string };
}

export interface FolderSummary {
  files: FolderFileResult[];
  done: number;
  skipped: number;
  failed: number;
}

/** The media files under `dir` (relative paths, sorted; hidden files and our own `.partial` files left out). */
export async function listMedia(dir: string, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.')) continue;
      const r = path.join(rel, e.name);
      if (e.isDirectory()) {
        if (recursive) await walk(r);
      } else if (e.isFile() && (isImagePath(e.name) || FOLDER_VIDEO_EXTENSIONS.includes(path.extname(e.name).toLowerCase()))) out.push(r);
    }
  };
  await walk('');
  return out;
}

/** Restores every image and video in `input` into `output` (mirrored paths, same extensions). */
export async function runFolder(pipeline: Pipeline, input: string, output: string, o: FolderRunOptions = {}): Promise<FolderSummary> {
  const inAbs = path.resolve(input);
  const outAbs = path.resolve(output);
  if (outAbs === inAbs) throw new FaceRestoreError('E_USAGE', 'the output folder must not be the input folder');
  const outInfo = await stat(outAbs).catch(() => undefined);
  if (outInfo && !outInfo.isDirectory()) throw new FaceRestoreError('E_OUTPUT', `output ${output} is a file; a folder input needs an output folder`);
  const files = await listMedia(inAbs, !!o.recursive);
  if (files.length === 0) {
    throw new FaceRestoreError('E_INPUT_MISSING', `the folder ${input} holds no images or videos${o.recursive ? '' : ' (--recursive to look in the folders inside it)'}`);
  }
  // The output folder inside the input folder: never read our own outputs back as inputs.
  const inside = path.relative(inAbs, outAbs);
  const own = !inside.startsWith('..') && !path.isAbsolute(inside) ? inside + path.sep : undefined;
  const results: FolderFileResult[] = [];
  for (const rel of files) {
    if (own && rel.startsWith(own)) continue;
    const src = path.join(inAbs, rel);
    const dst = path.join(outAbs, rel);
    const kind = isImagePath(rel) ? 'image' : 'video';
    const r: FolderFileResult = { input: src, output: dst, kind, status: 'done' };
    if (kind === 'image' && path.extname(rel).toLowerCase() === '.gif') r.output = dst.replace(/\.gif$/i, '.png');
    if (!o.overwrite && (await stat(r.output).catch(() => undefined))) r.status = 'skipped';
    else {
      try {
        if (kind === 'image') r.faces = (await runImage(pipeline.components, src, r.output, o.image)).restored;
        else r.faces = (await pipeline.restoreFile(src, r.output, o.encode, o.video)).faces;
      } catch (e) {
        r.status = 'failed';
        const p = serializeError(e);
        r.error = { code: p.code, message: p.message };
      }
    }
    results.push(r);
    o.onFile?.(r);
  }
  const count = (s: FolderFileResult['status']) => results.filter((r) => r.status === s).length;
  return { files: results, done: count('done'), skipped: count('skipped'), failed: count('failed') };
}
