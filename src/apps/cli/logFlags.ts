import type { Command } from 'commander';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat, type Logger } from '../../util/logger.ts';
import type { CliContext } from './context.ts';
import { oneOf } from './parse.ts';

/** `--log-level` and `--log-format` of every long-running command (defaults: FACERESTORE_LOG_LEVEL / FACERESTORE_LOG_FORMAT, else info / json). */
export function addLogFlags(cmd: Command, ctx: CliContext): Command {
  return cmd
    .option('--log-level <level>', `log level: ${LOG_LEVELS.join(' | ')} (default: FACERESTORE_LOG_LEVEL or info)`, oneOf(...LOG_LEVELS), ctx.env.logLevel)
    .option('--log-format <format>', 'json (one object a line, for collectors) | pretty (for people) (default: FACERESTORE_LOG_FORMAT or json)', oneOf(...LOG_FORMATS), ctx.env.logFormat);
}

/** The command's one logger, with `base` (worker name, service) on every line. */
export function loggerFromFlags(flags: Record<string, unknown>, base: Record<string, unknown>): Logger {
  return createLogger({ level: flags.logLevel as string, format: flags.logFormat as LogFormat, base });
}
