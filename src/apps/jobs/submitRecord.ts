import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { jobSpecSchema, segmentFileName, segmentRecordSchema, type JobSpec, type SegmentRecord } from './jobData.ts';
import { WORK_DIR_NAME } from './planJob.ts';
import { fileHasSize, hashFile } from './runSegment.ts';

/**
 * Durable records on disk, beside the segments in a job's work folder, so that a job survives Redis
 * losing its data (restarted empty, flushed, evicted):
 * - `submitted.json`: what `jobs submit` queued (job id, queue, the whole spec with its segments);
 * - `seg-NNNNN.json`: a finished segment's record, written by the worker right after its file is in place.
 * `jobs status --out` finds jobs whose submit record Redis no longer knows (`lost`), and `jobs submit`
 * of the same input queues only the segments without a finished record again.
 * Every file is written under a temporary name and renamed into place.
 */

export const SUBMIT_RECORD_NAME = 'submitted.json';

export const submitRecordSchema = z
  .object({
    v: z.literal(1),
    id: z.string().min(1),
    queue: z.string().min(1),
    /** When it was (last) submitted, ms since the epoch. */
    at: z.number(),
    spec: jobSpecSchema,
  })
  .strict();
export type SubmitRecord = z.infer<typeof submitRecordSchema>;

/** Writes `data` as JSON to `file` atomically (temporary name in the same folder, then rename). */
async function writeJsonAtomic(file: string, data: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(data, null, 2) + '\n');
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

async function readJson<T>(file: string, schema: z.ZodType<T>): Promise<T | undefined> {
  try {
    const r = schema.safeParse(JSON.parse(await readFile(file, 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

export function writeSubmitRecord(record: SubmitRecord): Promise<void> {
  return writeJsonAtomic(path.join(record.spec.workDir, SUBMIT_RECORD_NAME), record);
}

/** The submit record in `workDir`, or undefined when absent or unreadable. */
export function readSubmitRecord(workDir: string): Promise<SubmitRecord | undefined> {
  return readJson(path.join(workDir, SUBMIT_RECORD_NAME), submitRecordSchema);
}

/** Every readable submit record under `<outDir>/.facerestore-work/`. */
export async function listSubmitRecords(outDir: string): Promise<SubmitRecord[]> {
  const root = path.join(outDir, WORK_DIR_NAME);
  const names = await readdir(root).catch(() => [] as string[]);
  const records = await Promise.all(names.map((n) => readSubmitRecord(path.join(root, n))));
  return records.filter((r): r is SubmitRecord => r !== undefined);
}

function segmentRecordFile(workDir: string, index: number): string {
  return path.join(workDir, segmentFileName(index).replace(/\.mp4$/, '.json'));
}

/** Writes a finished segment's record beside its file (after the file is in place). */
export function writeSegmentRecordFile(workDir: string, record: SegmentRecord): Promise<void> {
  return writeJsonAtomic(segmentRecordFile(workDir, record.index), record);
}

/** The record of segment `index` when it and its file are complete (size and SHA-256 as recorded), else undefined. */
export async function finishedSegmentOnDisk(workDir: string, index: number): Promise<SegmentRecord | undefined> {
  const r = await readJson(segmentRecordFile(workDir, index), segmentRecordSchema);
  if (!r || r.index !== index) return undefined;
  const file = path.join(workDir, r.file);
  if (!(await fileHasSize(file, r.bytes))) return undefined;
  return (await hashFile(file)).sha256 === r.sha256 ? r : undefined;
}

/** The indexes of the spec's segments finished on disk. */
export async function finishedSegments(spec: JobSpec): Promise<Set<number>> {
  const done = await Promise.all(spec.segments.map((s) => finishedSegmentOnDisk(spec.workDir, s.index)));
  return new Set(done.filter((r): r is SegmentRecord => r !== undefined).map((r) => r.index));
}

/** Removes every segment record in `workDir` (their segments are then redone): for a plan that changed. */
export async function dropSegmentRecords(workDir: string): Promise<void> {
  const names = await readdir(workDir).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => /^seg-\d+\.json$/.test(n)).map((n) => rm(path.join(workDir, n), { force: true })));
}

/** True when two specs plan the same segments (a resumed job may reuse the finished ones). */
export function samePlan(a: JobSpec, b: JobSpec): boolean {
  return JSON.stringify(a.segments) === JSON.stringify(b.segments) && a.workDir === b.workDir;
}
