import type { Environment } from '../../config/env.ts';

/** What every command receives: the environment (read once) and output channels. */
export interface CliContext {
  env: Environment;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Exit code a command sets when it finishes without throwing (e.g. partial failures). */
  exitCode: number;
}
