import { z } from 'zod';
import { portableOptionsSchema } from '../../engine/options.ts';
import { roomNameSchema } from './protocol.ts';

/** Default latency budget: a frame older than this (since it reached the restore peer) is never restored. */
export const DEFAULT_LATENCY_BUDGET_MS = 120;

/** Live default of `--refine-every`: the 68-point net runs on every 3rd full detection (and on new faces; see LiveDetector). */
export const DEFAULT_REFINE_EVERY = 3;

/** Largest `--refine-every` accepted (with the live detection cadence of 2: once every 60 frames). */
export const MAX_REFINE_EVERY = 30;

/**
 * Version of the restore-peer config. 2: `pipeline` holds portable options only (portableOptionsSchema:
 * no cache folder or tool paths, which each peer takes from its own machine); version 1 had a free-form
 * record there. A config without `v` is read as the current version.
 */
export const PEER_CONFIG_VERSION = 2;

/**
 * What a restore peer needs: where to connect, which room, its credential, and the pipeline options.
 * A spawned peer reads it as JSON from stdin (so the token never shows in `ps`); an external one gets it
 * from `facerestore serve --connect`.
 */
export const restorePeerConfigSchema = z.strictObject({
  v: z.literal(PEER_CONFIG_VERSION, { error: `restore peer config version: expected ${PEER_CONFIG_VERSION}` }).default(PEER_CONFIG_VERSION),
  /** Signaling URL, e.g. ws://127.0.0.1:8080/ws. */
  url: z.string().regex(/^wss?:\/\//),
  room: roomNameSchema,
  peerToken: z.string().min(1).max(256),
  /** Accept a self-signed certificate (only for the server's own loopback connection). */
  insecureTls: z.boolean().default(false),
  /** What to run in the restore worker (restorer, model, detector, fidelity …); the peer adds its machine's settings. */
  pipeline: portableOptionsSchema.default(() => portableOptionsSchema.parse({})),
  latencyBudgetMs: z.number().min(10).max(10_000).default(DEFAULT_LATENCY_BUDGET_MS),
  /** Run the face detector every this many frames; the tracker predicts the faces in between. */
  detectEvery: z.number().int().min(1).max(30).default(2),
  /** With landmark refinement: the 68-point net runs on every this many full detections (and on new faces; see LiveDetector). */
  refineEvery: z.number().int().min(1).max(MAX_REFINE_EVERY).default(DEFAULT_REFINE_EVERY),
  /** A frame that cannot be restored within the budget: dropped (unless the picture would stall) or sent unrestored. */
  onMiss: z.enum(['drop', 'passthrough']).default('drop'),
  /** Draw a marker on frames passed through unrestored (over budget). */
  passthroughMarker: z.boolean().default(true),
  /** Exit after the first job ends (spawned peers are one job each). */
  exitWhenIdle: z.boolean().default(false),
  /**
   * With exitWhenIdle: how long a peer waits for its first assignment after joining before it exits, ms. A
   * camera that produced and left before the peer joined leaves nothing to assign; the peer must not hold a
   * restore slot for good.
   */
  idleExitMs: z.number().int().min(10).max(600_000).default(3000),
  /**
   * Address of the restore service (a GPU deployment: one CodeFormer session for every stream): the server's own
   * (a Unix socket) or one shared by several servers (`serve --restorer-service tcp://…`). The server sets it for
   * the peers it starts; absent: the peer loads its own model.
   */
  restoreService: z.string().min(1).max(1024).optional(),
  /** The restore service's token (with restoreService; travels on the peer's stdin like peerToken). */
  restoreServiceToken: z.string().min(16).max(1024).optional(),
  /** Name shown in the server's logs. */
  name: z.string().max(64).optional(),
});
export type RestorePeerConfigInput = z.input<typeof restorePeerConfigSchema>;
export type RestorePeerConfig = z.output<typeof restorePeerConfigSchema>;
