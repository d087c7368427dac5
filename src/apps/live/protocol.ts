import { z } from 'zod';

/**
 * The live signaling protocol: JSON text messages over one WebSocket per client, each a discriminated
 * union on `type`. Requests carry an `id` (the client's counter); the server answers each with exactly
 * one `response` carrying the same id. Events (`newProducer`, `faces`, …) carry no id.
 *
 * Roles: a `publisher` sends its webcam (source `camera`) and receives the restored track; a `viewer`
 * only receives; a `restorer` (a restore peer, see restorePeer.ts) consumes a camera producer it is
 * assigned and produces its restored track (source `restored`). Browsers join with the room token;
 * restorers with the separate peer token.
 */

/** Largest accepted message, bytes. Router capabilities and RTP parameters are a few KiB. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** Room names: what fits in a URL fragment without escaping. */
export const roomNameSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'room: 1-64 of A-Z a-z 0-9 _ -');

const idSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** mediasoup object ids (UUIDs) and peer ids. */
const objectIdSchema = z.string().min(1).max(64);
const unit = z.number().min(0).max(1);

/** DTLS parameters as mediasoup-client sends them (mediasoup validates the rest). */
const dtlsParametersSchema = z.looseObject({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z.array(z.looseObject({ algorithm: z.string().max(16), value: z.string().max(256) })).min(1).max(8),
});

/** RTP parameters of a producer: bounded arrays; mediasoup checks the details. */
const rtpParametersSchema = z.looseObject({
  mid: z.string().max(32).optional(),
  codecs: z.array(z.looseObject({ mimeType: z.string().max(64), payloadType: z.number().int(), clockRate: z.number().int() })).min(1).max(16),
  headerExtensions: z.array(z.looseObject({ uri: z.string().max(256), id: z.number().int() })).max(32).optional(),
  encodings: z.array(z.looseObject({})).max(8).optional(),
  rtcp: z.looseObject({}).optional(),
});

/** RTP capabilities of a receiving device. */
const rtpCapabilitiesSchema = z.looseObject({
  codecs: z.array(z.looseObject({ mimeType: z.string().max(64), kind: z.enum(['audio', 'video']), clockRate: z.number().int() })).max(64).optional(),
  headerExtensions: z.array(z.looseObject({ uri: z.string().max(256) })).max(64).optional(),
});

/** Where a producer's media comes from. */
export const producerSourceSchema = z.enum(['camera', 'restored']);
export type ProducerSource = z.infer<typeof producerSourceSchema>;

export const roleSchema = z.enum(['publisher', 'viewer', 'restorer']);
export type Role = z.infer<typeof roleSchema>;

/** A face as the restorer reports it: box in [0, 1] of the frame, its track id and current w. */
export const faceInfoSchema = z.strictObject({
  trackId: z.number().int().min(0),
  box: z.strictObject({ x: z.number(), y: z.number(), width: z.number().min(0), height: z.number().min(0) }),
  w: unit,
  /** True when the user set this face's w (an override), false when it follows the default. */
  overridden: z.boolean(),
});
export type FaceInfo = z.infer<typeof faceInfoSchema>;

const delayMs = z.number().min(0).max(600_000);

/** Counters a restore peer reports about one camera stream. */
export const restoreStatsSchema = z.strictObject({
  /** Frames per second received from the camera producer (last second). */
  fpsIn: z.number().min(0),
  /** Frames per second sent on the restored producer (last second). */
  fpsOut: z.number().min(0),
  /** Totals since the stream started. */
  framesIn: z.number().int().min(0),
  restored: z.number().int().min(0),
  passedThrough: z.number().int().min(0),
  dropped: z.number().int().min(0),
  /** Median time from a frame's arrival at the restore peer to its departure, ms (last second). */
  peerLatencyMs: z.number().min(0),
  /** Median restore-worker time per frame, ms (last second). */
  workMs: z.number().min(0),
  width: z.number().int().min(0),
  height: z.number().int().min(0),
  restorer: z.string().max(200),
  /** Latency budget, ms. */
  budgetMs: z.number().min(0),
  /**
   * Restore-worker time by part, ms, summed since the stream started over `frames` frames (a reader divides
   * the difference of two readings by the difference of `frames`): `detect` the face detector (with
   * `convert`, the CPU of building its input from the I420 planes: scaling and colour conversion), `refine`
   * the 68-point landmark net, `warp` the crops, `restore` the restorer, `paste` the paste-back, `total`
   * the whole frame in the worker (the rest is tracking and bookkeeping).
   */
  stagesMs: z
    .strictObject({
      frames: z.number().int().min(0),
      detect: z.number().min(0),
      convert: z.number().min(0),
      refine: z.number().min(0),
      warp: z.number().min(0),
      restore: z.number().min(0),
      paste: z.number().min(0),
      total: z.number().min(0),
    })
    .optional(),
  /** The restore peer's own WebRTC delays (RtcDelays, last second): its receive jitter buffer, encoder, pacer. */
  rtc: z
    .strictObject({
      jitterBufferMs: delayMs.optional(),
      assemblyMs: delayMs.optional(),
      decodeMs: delayMs.optional(),
      encodeMs: delayMs.optional(),
      pacerMs: delayMs.optional(),
      estimateKbps: z.number().min(0).max(10_000_000).optional(),
    })
    .optional(),
});
export type RestoreStats = z.infer<typeof restoreStatsSchema>;

/** Every message a client may send. */
export const clientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('join'), id: idSchema, room: roomNameSchema, token: z.string().min(1).max(256), role: roleSchema, name: z.string().max(64).optional() }),
  z.strictObject({ type: z.literal('ping'), id: idSchema, t: z.number() }),
  z.strictObject({ type: z.literal('createTransport'), id: idSchema, direction: z.enum(['send', 'recv']) }),
  z.strictObject({ type: z.literal('connectTransport'), id: idSchema, transportId: objectIdSchema, dtlsParameters: dtlsParametersSchema }),
  z.strictObject({
    type: z.literal('produce'),
    id: idSchema,
    transportId: objectIdSchema,
    kind: z.enum(['audio', 'video']),
    rtpParameters: rtpParametersSchema,
    source: producerSourceSchema,
    /** For `restored`: the camera producer it restores. */
    sourceProducerId: objectIdSchema.optional(),
  }),
  z.strictObject({ type: z.literal('consume'), id: idSchema, transportId: objectIdSchema, producerId: objectIdSchema, rtpCapabilities: rtpCapabilitiesSchema }),
  z.strictObject({ type: z.literal('resumeConsumer'), id: idSchema, consumerId: objectIdSchema }),
  z.strictObject({ type: z.literal('closeProducer'), id: idSchema, producerId: objectIdSchema }),
  /** Sets a face's w (trackId) or the default w of the stream (trackId null); w null removes a face's override. */
  z.strictObject({ type: z.literal('setFidelity'), id: idSchema, producerId: objectIdSchema, trackId: z.number().int().min(0).nullable(), w: unit.nullable() }),
  /** Restorer only: faces and counters of the camera producer it restores. */
  z.strictObject({ type: z.literal('restoreStats'), id: idSchema, producerId: objectIdSchema, stats: restoreStatsSchema, faces: z.array(faceInfoSchema).max(64) }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type ClientMessageType = ClientMessage['type'];
/** A client message without its id (what callers of a signaling client pass). */
export type ClientRequest<T extends ClientMessageType = ClientMessageType> = Omit<Extract<ClientMessage, { type: T }>, 'id'>;
/** Any client message without its id (a union, one member per type). */
export type AnyClientRequest = ClientMessage extends infer M ? (M extends ClientMessage ? Omit<M, 'id'> : never) : never;

/** What the server tells everyone about a producer. */
export const producerInfoSchema = z.strictObject({
  producerId: objectIdSchema,
  peerId: objectIdSchema,
  kind: z.enum(['audio', 'video']),
  source: producerSourceSchema,
  sourceProducerId: objectIdSchema.optional(),
});
export type ProducerInfo = z.infer<typeof producerInfoSchema>;

/** Error codes in responses and `error` events. */
export const errorCodeSchema = z.enum(['E_PROTOCOL', 'E_AUTH', 'E_STATE', 'E_NOT_FOUND', 'E_RATE', 'E_MEDIA', 'E_INTERNAL']);
export type SignalingErrorCode = z.infer<typeof errorCodeSchema>;

/** Every message the server sends. */
export const serverMessageSchema = z.discriminatedUnion('type', [
  z.discriminatedUnion('ok', [
    z.strictObject({ type: z.literal('response'), id: idSchema, ok: z.literal(true), data: z.unknown() }),
    z.strictObject({ type: z.literal('response'), id: idSchema, ok: z.literal(false), error: z.strictObject({ code: errorCodeSchema, message: z.string() }) }),
  ]),
  /** Sent before the server closes a connection for cause. */
  z.strictObject({ type: z.literal('error'), code: errorCodeSchema, message: z.string() }),
  z.strictObject({ type: z.literal('newProducer'), producer: producerInfoSchema }),
  z.strictObject({ type: z.literal('producerClosed'), producerId: objectIdSchema }),
  z.strictObject({ type: z.literal('faces'), producerId: objectIdSchema, stats: restoreStatsSchema, faces: z.array(faceInfoSchema) }),
  /** To a restorer: restore this camera producer. */
  z.strictObject({ type: z.literal('assign'), producerId: objectIdSchema }),
  /** To a restorer: stop restoring it (the publisher left). */
  z.strictObject({ type: z.literal('unassign'), producerId: objectIdSchema }),
  /** To a restorer: a face's (or the default) w changed. */
  z.strictObject({ type: z.literal('fidelity'), producerId: objectIdSchema, trackId: z.number().int().min(0).nullable(), w: unit.nullable() }),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;

/** Data of the `join` response. */
export interface JoinedData {
  peerId: string;
  role: Role;
  routerRtpCapabilities: unknown;
  producers: ProducerInfo[];
}

/** Data of the `createTransport` response (what mediasoup-client's createSendTransport/createRecvTransport take). */
export interface TransportData {
  id: string;
  iceParameters: unknown;
  iceCandidates: unknown[];
  dtlsParameters: unknown;
}

/** Data of the `consume` response. */
export interface ConsumeData {
  id: string;
  producerId: string;
  kind: 'audio' | 'video';
  rtpParameters: unknown;
}

/** Result of parsing one incoming text frame. */
export type ParseResult<T> = { ok: true; message: T } | { ok: false; reason: string };

/**
 * Parses a raw WebSocket message as a client message: size first, then JSON, then the schema.
 * Never throws; the reason names the first problem (for the `error` event, not for logs of secrets).
 */
export function parseClientMessage(raw: string | Buffer | ArrayBuffer | Buffer[], maxBytes = MAX_MESSAGE_BYTES): ParseResult<ClientMessage> {
  return parseWith(clientMessageSchema, raw, maxBytes);
}

/** Parses a server message (the Node signaling client validates what it receives too). */
export function parseServerMessage(raw: string | Buffer | ArrayBuffer | Buffer[], maxBytes = 4 * MAX_MESSAGE_BYTES): ParseResult<ServerMessage> {
  return parseWith(serverMessageSchema, raw, maxBytes);
}

function parseWith<T>(schema: z.ZodType<T>, raw: string | Buffer | ArrayBuffer | Buffer[], maxBytes: number): ParseResult<T> {
  const text = typeof raw === 'string' ? raw : Buffer.isBuffer(raw) ? raw.toString('utf8') : Array.isArray(raw) ? Buffer.concat(raw).toString('utf8') : Buffer.from(raw).toString('utf8');
  if (Buffer.byteLength(text) > maxBytes) return { ok: false, reason: `message larger than ${maxBytes} bytes` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'message is not JSON' };
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    return { ok: false, reason: `invalid message: ${issue.path.join('.') || '(root)'}: ${issue.message}` };
  }
  return { ok: true, message: r.data };
}
