import { describe, expect, it } from 'vitest';
import { createLogger, prettyLine } from '../src/util/logger.ts';

describe('createLogger', () => {
  it('writes JSON lines with the base and child bindings on every line, at the chosen level', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', format: 'json', base: { service: 'jobs-worker' }, write: (s) => lines.push(s) });
    log.debug({ hidden: true }, 'not written');
    const job = log.child({ job: 'j1' });
    job.child({ segment: 2 }).info({ frames: 10 }, 'segment written');
    log.warn({}, 'plain');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed).toHaveLength(2);
    expect(parsed[0]).toMatchObject({ level: 30, service: 'jobs-worker', job: 'j1', segment: 2, frames: 10, msg: 'segment written', pid: process.pid });
    expect(parsed[1]).toMatchObject({ level: 40, service: 'jobs-worker', msg: 'plain' });
    expect(parsed[1]).not.toHaveProperty('job');
  });

  it('writes pretty lines: time, level, message, then the fields', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', format: 'pretty', base: { service: 'serve' }, write: (s) => lines.push(s) });
    log.child({ room: 'a b' }).debug({ n: 1 }, 'room created');
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} DEBUG room created service=serve room="a b" n=1\n$/);
  });

  it('formats a pino line and passes other text through; refuses an unknown level', () => {
    expect(prettyLine(JSON.stringify({ level: 50, time: Date.UTC(2026, 0, 1, 12, 3, 4, 5), pid: 1, hostname: 'h', msg: 'failed', err: 'x=y' }))).toBe('12:03:04.005 ERROR failed err="x=y"');
    expect(prettyLine('not json')).toBe('not json');
    expect(() => createLogger({ level: 'loud', format: 'json' })).toThrow(/log level/);
  });
});
