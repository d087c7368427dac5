/** Machine-readable error codes; each maps to a process exit code for the CLI. */
export const ERROR_EXIT_CODES = {
  E_USAGE: 2,
  E_CONFIG: 2,
  E_INPUT_MISSING: 3,
  E_PROBE: 3,
  E_NO_VIDEO: 3,
  E_DECODE: 3,
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
