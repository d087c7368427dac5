/** Machine-readable error codes; each maps to a process exit code for the CLI. */
export const ERROR_EXIT_CODES = {
  E_USAGE: 2,
  E_CONFIG: 2,
  E_INPUT_MISSING: 3,
  E_PROBE: 3,
  E_NO_VIDEO: 3,
  E_DECODE: 3,
  /** A reference photo (`--reference`) in which no face is found. */
  E_NO_FACE: 3,
  E_MODEL_MISSING: 4,
  E_MODEL_INVALID: 4,
  E_MODEL_CONTRACT: 4,
  E_MODEL_RUN: 4,
  E_CHECKPOINT: 4,
  E_DEVICE: 5,
  E_ENCODE: 6,
  E_OUTPUT: 6,
  E_FFMPEG_MISSING: 7,
  E_PROTOCOL: 8,
  E_JOB: 9,
  E_CLOSED: 10,
  E_UNAVAILABLE: 11,
  E_DOWNLOAD: 12,
  /** A folder run in which some files failed (each reported; the others were done). */
  E_SOME_FAILED: 13,
  /** A restore service refused the token (`serve --restorer-service`, or a client of `restore-service`). */
  E_AUTH: 14,
  E_INTERNAL: 1,
} as const;

export type ErrorCode = keyof typeof ERROR_EXIT_CODES;

/** Every error the product raises on purpose: a stable `code`, a message for people, optional details. */
export class FaceRestoreError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FaceRestoreError';
    this.code = code;
    this.details = options?.details;
  }

  /** Process exit code for this error (see ERROR_EXIT_CODES). */
  get exitCode(): number {
    return ERROR_EXIT_CODES[this.code];
  }
}

/** True when `e` is a FaceRestoreError, optionally with the given code. */
export function isFaceRestoreError(e: unknown, code?: ErrorCode): e is FaceRestoreError {
  return e instanceof FaceRestoreError && (code === undefined || e.code === code);
}

/** An error as it crosses a process or machine boundary (worker message, job record, child's stdout). */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** True when `code` is one of the product's error codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_EXIT_CODES, code);
}

/**
 * Plain, JSON-safe form of any thrown value: a FaceRestoreError keeps its code and details; anything
 * else becomes E_INTERNAL with its message. Details that do not survive JSON are dropped.
 */
export function serializeError(e: unknown): SerializedError {
  if (e instanceof FaceRestoreError) {
    let details: Record<string, unknown> | undefined;
    if (e.details) {
      try {
        details = JSON.parse(JSON.stringify(e.details)) as Record<string, unknown>;
      } catch {
        details = undefined;
      }
    }
    return details ? { code: e.code, message: e.message, details } : { code: e.code, message: e.message };
  }
  return { code: 'E_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/** The typed error back from its serialized form; an unknown or missing code revives as E_INTERNAL. */
export function reviveError(s: unknown): FaceRestoreError {
  const o = (typeof s === 'object' && s !== null ? s : {}) as Partial<Record<keyof SerializedError, unknown>>;
  const code = isErrorCode(o.code) ? o.code : 'E_INTERNAL';
  const message = typeof o.message === 'string' ? o.message : 'unknown error';
  const details = typeof o.details === 'object' && o.details !== null && !Array.isArray(o.details) ? (o.details as Record<string, unknown>) : undefined;
  return new FaceRestoreError(code, message, details ? { details } : undefined);
}
