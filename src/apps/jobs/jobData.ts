import { z } from 'zod';
import { FaceRestoreError } from '../../errors.ts';

/**
 * What the queue carries. Job data is validated where it enters a worker (it may come from another
 * version of the product), so a malformed job fails with a precise reason instead of half-running.
 */

/** Encoder settings of a job (the same for every segment, so the segments join without re-encoding). */
export const encodeSettingsSchema = z
  .object({
    codec: z.string().min(1),
    crf: z.number().min(0).max(63),
    preset: z.string().min(1),
    deterministic: z.boolean(),
  })
  .strict();
export type EncodeSettings = z.infer<typeof encodeSettingsSchema>;

export const segmentPlanSchema = z
  .object({
    index: z.number().int().min(0),
    firstFrame: z.number().int().min(0),
    frameCount: z.number().int().min(1).nullable(),
    startTime: z.number().nullable(),
    endTime: z.number().nullable(),
    firstTime: z.number().nullable(),
    lastTime: z.number().nullable(),
    windowStart: z.number().min(0).nullable(),
    windowDuration: z.number().positive().nullable(),
  })
  .strict();

/** Facts about the input a job keeps (for status and for the join's checks). */
export const videoFactsSchema = z
  .object({
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    frameRate: z.string(),
    fps: z.number().positive(),
    frameSeconds: z.number().positive(),
    /** Output frame count: exact for constant-rate input, an estimate (±1) for variable-rate input. */
    frames: z.number().int().min(1),
    framesExact: z.boolean(),
    audioCodec: z.string().nullable(),
  })
  .strict();

/** The parent ('join') job: one input file → one output file. */
export const jobSpecSchema = z
  .object({
    v: z.literal(1),
    input: z.string().min(1),
    output: z.string().min(1),
    workDir: z.string().min(1),
    /** Pipeline options (validated by the pipeline itself when a worker builds it). */
    pipeline: z.record(z.string(), z.unknown()),
    encode: encodeSettingsSchema,
    segmentSeconds: z.number().positive(),
    warmupSeconds: z.number().min(0),
    video: videoFactsSchema.nullable(),
    segments: z.array(segmentPlanSchema),
    /** Set when the input could not be planned (unreadable, not a video): the job fails with it. */
    error: z.object({ code: z.string(), message: z.string() }).strict().nullable(),
  })
  .strict();
export type JobSpec = z.infer<typeof jobSpecSchema>;

/** A child ('segment') job. */
export const segmentJobSchema = z
  .object({
    v: z.literal(1),
    jobId: z.string().min(1),
    input: z.string().min(1),
    workDir: z.string().min(1),
    frameSeconds: z.number().positive(),
    plan: segmentPlanSchema,
    pipeline: z.record(z.string(), z.unknown()),
    encode: encodeSettingsSchema,
  })
  .strict();
export type SegmentJobData = z.infer<typeof segmentJobSchema>;

/** The durable result of a segment (also its job's return value). */
export const segmentRecordSchema = z
  .object({
    index: z.number().int().min(0),
    file: z.string(),
    frames: z.number().int().min(1),
    bytes: z.number().int().min(1),
    sha256: z.string(),
    seconds: z.number(),
    worker: z.string(),
  })
  .strict();
export type SegmentRecord = z.infer<typeof segmentRecordSchema>;

/** The durable result of a join (also the parent job's return value). */
export const joinRecordSchema = z
  .object({
    output: z.string(),
    frames: z.number().int().min(1),
    bytes: z.number().int().min(1),
    sha256: z.string(),
    segments: z.number().int().min(1),
    seconds: z.number(),
    worker: z.string(),
  })
  .strict();
export type JoinRecord = z.infer<typeof joinRecordSchema>;

/** File name of segment `index` in the job's work folder. */
export function segmentFileName(index: number): string {
  return `seg-${String(index).padStart(5, '0')}.mp4`;
}

/** Validates job data at a worker's edge; throws E_JOB naming every problem. */
export function parseJobData<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const r = schema.safeParse(data);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || 'data'}: ${i.message}`).join('; ');
    throw new FaceRestoreError('E_JOB', `invalid ${what} job data (made by another version?): ${problems}`);
  }
  return r.data;
}

/** The child job of segment `plan.index` of job `jobId`. */
export function segmentJobData(jobId: string, spec: JobSpec, plan: JobSpec['segments'][number]): SegmentJobData {
  return { v: 1, jobId, input: spec.input, workDir: spec.workDir, frameSeconds: spec.video?.frameSeconds ?? 1 / 30, plan, pipeline: spec.pipeline, encode: spec.encode };
}

/** The child job id of segment `index` of job `jobId`. */
export function segmentJobId(jobId: string, index: number): string {
  return `${jobId}-s${index}`;
}
