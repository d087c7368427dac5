/** The logging surface of the job system; a pino logger satisfies it. */
export interface JobLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** A logger that drops everything (library default, tests). */
export const silentJobLogger: JobLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
