import { Writable } from 'node:stream';
import { pino } from 'pino';

/** The logging surface long-running parts (live server, job workers) use; a pino logger satisfies it. */
export interface Logger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
  /** A logger that adds `bindings` (request, job, room ids) to every line. */
  child(bindings: Record<string, unknown>): Logger;
}

/** A logger that drops everything (library default, tests). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/** One pino JSON line as a human-readable one: `HH:MM:SS.mmm LEVEL msg key=value …` (non-JSON lines pass unchanged). */
export function prettyLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 23) : '';
  const level = LEVEL_NAMES[o.level as number] ?? String(o.level);
  const fields = Object.entries(o)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/[\s"=]/.test(v) ? v : JSON.stringify(v)}`);
  return [time, level.padEnd(5), String(o.msg ?? ''), ...fields].filter((s) => s !== '').join(' ');
}

/** A stream that writes pino's JSON lines to `out` in the pretty form. */
function prettyStream(out: (s: string) => void): Writable {
  let rest = '';
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop()!;
      for (const l of lines) if (l) out(prettyLine(l) + '\n');
      done();
    },
    final(done) {
      if (rest) out(prettyLine(rest) + '\n');
      done();
    },
  });
}

/**
 * The one logger of a long-running command (`serve`, `jobs worker`, `jobs serve`): pino on stderr,
 * JSON lines (`json`, for collectors) or `pretty` lines (people at a terminal), with `base` on every line.
 */
export function createLogger(o: { level: string; format: LogFormat; base?: Record<string, unknown>; write?: (s: string) => void }): Logger {
  if (!(LOG_LEVELS as readonly string[]).includes(o.level)) throw new TypeError(`Expected a log level among ${LOG_LEVELS.join(', ')} but received ${JSON.stringify(o.level)}`);
  const write = o.write ?? ((s: string) => process.stderr.write(s));
  const options = { level: o.level, base: { pid: process.pid, ...o.base } };
  if (o.format === 'pretty') return pino(options, prettyStream(write));
  if (o.write) return pino(options, { write: o.write });
  return pino(options, pino.destination({ fd: 2, sync: true }));
}
