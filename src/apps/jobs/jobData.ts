import { z } from 'zod';
import { ERROR_EXIT_CODES, FaceRestoreError, type ErrorCode } from '../../errors.ts';
import { portableOptionsSchema } from '../../engine/options.ts';

/**
 * What the queue carries. Job data is validated where it enters a worker (it may come from another
 * version of the product), so a malformed job fails with a precise reason instead of half-running.
 * Pipeline options travel as the portable options (`portableOptionsSchema`: what to do, fully resolved);
 * each worker adds its own machine's settings (`withLocalSettings`). Errors travel as `SerializedError`.
 */

/** Version of the job data this code writes and reads. Version 1 carried untyped pipeline options and is refused. */
export const JOB_DATA_VERSION = 2;

/** A product error as it crosses the queue (see serializeError / reviveError). */
export const serializedErrorSchema = z
  .object({
    code: z.enum(Object.keys(ERROR_EXIT_CODES) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

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
    v: z.literal(JOB_DATA_VERSION),
    input: z.string().min(1),
    output: z.string().min(1),
    workDir: z.string().min(1),
    /** What to do (restorer, model, detector, fidelity…), resolved at submit; the worker adds its local settings. */
    pipeline: portableOptionsSchema,
    encode: encodeSettingsSchema,
    segmentSeconds: z.number().positive(),
    warmupSeconds: z.number().min(0),
    video: videoFactsSchema.nullable(),
    segments: z.array(segmentPlanSchema),
    /** Set when the input could not be planned (unreadable, not a video): the job fails with it. */
    error: serializedErrorSchema.nullable(),
  })
  .strict();
export type JobSpec = z.infer<typeof jobSpecSchema>;

/** A child ('segment') job. */
export const segmentJobSchema = z
  .object({
    v: z.literal(JOB_DATA_VERSION),
    jobId: z.string().min(1),
    input: z.string().min(1),
    workDir: z.string().min(1),
    frameSeconds: z.number().positive(),
    plan: segmentPlanSchema,
    pipeline: portableOptionsSchema,
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

/** Why a segment or a join failed, kept until the job is resubmitted (`jobs status` shows it). */
export const failureRecordSchema = z
  .object({
    error: serializedErrorSchema,
    /** The attempt that failed (1-based). */
    attempt: z.number().int().min(1),
    worker: z.string(),
    /** When, ms since the epoch. */
    at: z.number(),
  })
  .strict();
export type FailureRecord = z.infer<typeof failureRecordSchema>;

/** File name of segment `index` in the job's work folder. */
export function segmentFileName(index: number): string {
  return `seg-${String(index).padStart(5, '0')}.mp4`;
}

/** Validates job data at a worker's edge; throws E_JOB naming every problem, or the version when it is not this code's. */
export function parseJobData<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const v = (data as { v?: unknown } | null)?.v;
  if (v !== JOB_DATA_VERSION) {
    throw new FaceRestoreError('E_JOB', `${what} job data version ${JSON.stringify(v)} is not supported (this worker reads version ${JOB_DATA_VERSION}): submit the input again with this version of facerestore`);
  }
  const r = schema.safeParse(data);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || 'data'}: ${i.message}`).join('; ');
    throw new FaceRestoreError('E_JOB', `invalid ${what} job data (made by another version?): ${problems}`);
  }
  return r.data;
}

/** The child job of segment `plan.index` of job `jobId`. */
export function segmentJobData(jobId: string, spec: JobSpec, plan: JobSpec['segments'][number]): SegmentJobData {
  return { v: JOB_DATA_VERSION, jobId, input: spec.input, workDir: spec.workDir, frameSeconds: spec.video?.frameSeconds ?? 1 / 30, plan, pipeline: spec.pipeline, encode: spec.encode };
}

/** The child job id of segment `index` of job `jobId`. */
export function segmentJobId(jobId: string, index: number): string {
  return `${jobId}-s${index}`;
}
