/**
 * Entry of a restore peer process (started by PeerLauncher): reads one JSON config line from stdin
 * (restorePeerConfigSchema, versioned by `v`), runs a RestorePeer with this machine's settings, and exits
 * when the peer is done or when stdin closes (the server went away), so a peer never outlives its server.
 * Logs go to stderr as JSON lines.
 */
import { readEnvironment } from '../../config/env.ts';
import { serializeError } from '../../errors.ts';
import type { LiveLogger } from './logger.ts';
import type { RestorePeerConfigInput } from './peerConfig.ts';
import { RestorePeer } from './restorePeer.ts';

// Level names (not pino's numbers): the launcher re-logs each line through the server's logger with this peer's id.
function lineLogger(bindings: Record<string, unknown>): LiveLogger {
  const write = (level: string) => (obj: Record<string, unknown>, msg: string) => {
    process.stderr.write(JSON.stringify({ level, time: Date.now(), pid: process.pid, msg, ...bindings, ...obj }) + '\n');
  };
  return { debug: () => {}, info: write('info'), warn: write('warn'), error: write('error'), child: (b) => lineLogger({ ...bindings, ...b }) };
}
const log = lineLogger({});

/** Reads the first line of stdin (the stream stays open: its end is the stop signal). */
function readConfigLine(): Promise<unknown> {
  process.stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0 && buf.length < 1_000_000) return;
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      try {
        if (nl < 0) throw new Error('config line too long');
        resolve(JSON.parse(buf.slice(0, nl)));
      } catch (e) {
        reject(e);
      }
    };
    const onEnd = () => reject(new Error('stdin closed before a config line'));
    process.stdin.on('data', onData);
    process.stdin.once('end', onEnd);
  });
}

let peer: RestorePeer | undefined;
try {
  // Validated by RestorePeer.start (E_CONFIG naming each problem).
  const config = (await readConfigLine()) as RestorePeerConfigInput;
  const env = readEnvironment();
  peer = await RestorePeer.start(config, { cacheDir: env.cacheDir, ffmpegPath: env.ffmpegPath, ffprobePath: env.ffprobePath }, log);
  const stop = () => void peer?.close();
  process.stdin.once('end', stop);
  process.stdin.once('close', stop);
  process.stdin.on('data', () => undefined);
  await peer.done;
  process.exit(0);
} catch (e) {
  const { code, message } = serializeError(e);
  log.error({ code, err: message }, 'restore peer failed');
  await peer?.close().catch(() => undefined);
  process.exit(1);
}
