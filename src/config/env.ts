import os from 'node:os';
import path from 'node:path';

/** Everything the product takes from the environment. This is the only module that reads `process.env`. */
export interface Environment {
  /** Directory for caches (built ONNX graphs, the mediasoup worker). Default `~/.cache/facerestore`. */
  cacheDir: string;
  /** ffmpeg executable. Default `ffmpeg` on PATH. */
  ffmpegPath: string;
  /** ffprobe executable. Default `ffprobe` on PATH. */
  ffprobePath: string;
  /** Redis URL for the job queue. Default `redis://127.0.0.1:6379`. */
  redisUrl: string;
  /** mediasoup worker binary, when set. */
  mediasoupWorkerBin: string | undefined;
  /** pino log level (`--log-level`'s default). Default `info`. */
  logLevel: string;
  /** Mirror for `models pull`: release files are fetched as `<base>/<file name>` instead of their release URLs. */
  modelBaseUrl: string | undefined;
  /** `--log-format`'s default: `json` or `pretty`. Default `json`. */
  logFormat: 'json' | 'pretty';
  /** `serve --announced-address`'s default (containers: the address browsers reach for media). */
  announcedAddress: string | undefined;
  /** `serve --rtc-min-port` / `--rtc-max-port` defaults (containers: the UDP range that is published). */
  rtcMinPort: number | undefined;
  rtcMaxPort: number | undefined;
}

/** A port number from the environment, or undefined when unset or not a port (the flag check then reports it). */
function portFrom(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined;
}

/** Reads the environment once; pass the result down instead of reading `process.env` elsewhere. */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  return {
    cacheDir: env.FACERESTORE_CACHE_DIR || path.join(os.homedir(), '.cache', 'facerestore'),
    ffmpegPath: env.FACERESTORE_FFMPEG || 'ffmpeg',
    ffprobePath: env.FACERESTORE_FFPROBE || 'ffprobe',
    redisUrl: env.FACERESTORE_REDIS_URL || env.REDIS_URL || 'redis://127.0.0.1:6379',
    mediasoupWorkerBin: env.MEDIASOUP_WORKER_BIN || undefined,
    logLevel: env.FACERESTORE_LOG_LEVEL || 'info',
    modelBaseUrl: env.FACERESTORE_MODEL_BASE_URL || undefined,
    logFormat: env.FACERESTORE_LOG_FORMAT === 'pretty' ? 'pretty' : 'json',
    announcedAddress: env.FACERESTORE_ANNOUNCED_ADDRESS || undefined,
    rtcMinPort: portFrom(env.FACERESTORE_RTC_MIN_PORT),
    rtcMaxPort: portFrom(env.FACERESTORE_RTC_MAX_PORT),
  };
}

/**
 * The Vulkan loader's driver override (VK_DRIVER_FILES, or the older VK_ICD_FILENAMES): which variable is set and
 * the ICD manifests it names. The loader reads it in this process itself; device errors report it (a list that
 * points nowhere hides every adapter). Undefined when neither is set.
 */
export function vulkanDriverOverride(env: NodeJS.ProcessEnv = process.env): { variable: string; files: string[] } | undefined {
  for (const variable of ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES']) {
    const v = env[variable];
    if (v) return { variable, files: v.split(':').filter(Boolean) };
  }
  return undefined;
}
