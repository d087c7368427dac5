/** The logging surface the live modules use; a pino logger satisfies it. */
export interface LiveLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** A logger that drops everything (library default, tests). */
export const silentLogger: LiveLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
