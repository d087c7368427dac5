/**
 * Where a live frame's time goes inside one WebRTC endpoint, from standard `getStats()` counters
 * (the same fields in Chromium and @roamhq/wrtc). All times are means over the last window, ms.
 */
export interface RtcDelays {
  /** Received video: first packet in to frame out of the jitter buffer (includes assembly), per frame. */
  jitterBufferMs?: number;
  /** Received video: first to last packet of a frame, per frame assembled from several packets. */
  assemblyMs?: number;
  /** Received video: decode time per frame. */
  decodeMs?: number;
  /** Sent video: encode time per frame. */
  encodeMs?: number;
  /** Sent video: time a packet waits in the pacer, per packet (frames are spread at the estimated rate). */
  pacerMs?: number;
  /** Send-side bandwidth estimate of the transport, kbit/s (latest, not a mean). */
  estimateKbps?: number;
}

/** A stats report as both Chromium and wrtc return it (a map of stats objects). */
export type StatsReport = { values(): Iterable<unknown> };

type Counters = Record<'emitted' | 'jitterBuffer' | 'assembled' | 'assembly' | 'decoded' | 'decode' | 'encoded' | 'encode' | 'packets' | 'sendDelay', number>;

const ZERO: Counters = { emitted: 0, jitterBuffer: 0, assembled: 0, assembly: 0, decoded: 0, decode: 0, encoded: 0, encode: 0, packets: 0, sendDelay: 0 };

/**
 * Turns cumulative WebRTC stats counters into means over the interval between two `update` calls, so a
 * slow start (a bandwidth estimate still ramping up) does not hide in an average since the beginning.
 * Only video RTP streams count; several reports (a recv and a send transport) can be given at once.
 */
export class RtcDelayMeter {
  #last: Counters = { ...ZERO };

  /** Reads the counters of `reports` and returns the means since the previous call. */
  update(...reports: StatsReport[]): RtcDelays {
    const now: Counters = { ...ZERO };
    let estimateKbps: number | undefined;
    for (const report of reports) {
      for (const raw of report.values()) {
        const s = raw as Record<string, unknown>;
        const video = s.kind === 'video' || s.mediaType === 'video';
        if (s.type === 'inbound-rtp' && video) {
          now.emitted += num(s.jitterBufferEmittedCount);
          now.jitterBuffer += num(s.jitterBufferDelay);
          now.assembled += num(s.framesAssembledFromMultiplePackets);
          now.assembly += num(s.totalAssemblyTime);
          now.decoded += num(s.framesDecoded);
          now.decode += num(s.totalDecodeTime);
        } else if (s.type === 'outbound-rtp' && video) {
          now.encoded += num(s.framesEncoded);
          now.encode += num(s.totalEncodeTime);
          now.packets += num(s.packetsSent);
          now.sendDelay += num(s.totalPacketSendDelay);
        } else if (s.type === 'candidate-pair' && s.nominated === true && typeof s.availableOutgoingBitrate === 'number') {
          estimateKbps = Math.max(estimateKbps ?? 0, s.availableOutgoingBitrate / 1000);
        }
      }
    }
    const prev = this.#last;
    this.#last = now;
    const out: RtcDelays = {};
    const mean = (sum: keyof Counters, count: keyof Counters): number | undefined => {
      const n = now[count] - prev[count];
      // Counters restart when a stream is replaced; a negative step is no information.
      return n > 0 && now[sum] >= prev[sum] ? ((now[sum] - prev[sum]) / n) * 1000 : undefined;
    };
    const put = (key: keyof RtcDelays, v: number | undefined) => {
      if (v !== undefined) out[key] = Math.round(v * 10) / 10;
    };
    put('jitterBufferMs', mean('jitterBuffer', 'emitted'));
    put('assemblyMs', mean('assembly', 'assembled'));
    put('decodeMs', mean('decode', 'decoded'));
    put('encodeMs', mean('encode', 'encoded'));
    put('pacerMs', mean('sendDelay', 'packets'));
    put('estimateKbps', estimateKbps);
    return out;
  }
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
