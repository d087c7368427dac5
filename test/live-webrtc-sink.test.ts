import { describe, expect, it } from 'vitest';
import { loadWrtc } from '../src/apps/live/wrtcDevice.ts';
import { i420Layout } from '../src/util/yuv.ts';
import { WebRtcSink } from '../src/stream/webrtcSink.ts';

/** An I420 frame whose Y plane is `value` everywhere. */
function frame(width: number, height: number, value: number, pts: number) {
  const data = new Uint8Array(i420Layout(width, height).size).fill(128);
  data.fill(value, 0, width * height);
  return { width, height, data, pts };
}

// The stream stage's WebRTC output on real @roamhq/wrtc: a sink on the track it makes sees what was written.
describe('WebRtcSink (real wrtc video source and sink)', () => {
  it('delivers frames to its track in order, refuses frames that go back in time, and stops the track on close', async () => {
    const wrtc = loadWrtc();
    const errors: Error[] = [];
    const sink = new WebRtcSink(new wrtc.nonstandard.RTCVideoSource(), (e) => errors.push(e));
    const seen: number[] = [];
    const tap = new wrtc.nonstandard.RTCVideoSink(sink.track as never) as unknown as { stop(): void; onframe: ((e: { frame: { width: number; data: Uint8Array } }) => void) | null };
    tap.onframe = ({ frame: f }) => seen.push(f.data[0]!);
    try {
      const [w, h] = [64, 48];
      expect(sink.write(frame(w, h, 10, 0.0))).toBe(true);
      expect(sink.write(frame(w, h, 20, 0.033))).toBe(true);
      // Older than the last one written: refused, never sent.
      expect(sink.write(frame(w, h, 99, 0.01))).toBe(false);
      expect(sink.write(frame(w, h, 99, Number.NaN))).toBe(false);
      expect(sink.write(frame(w, h, 30, 0.066))).toBe(true);
      // A buffer of the wrong size is refused by wrtc: reported, not thrown.
      expect(sink.write({ width: w, height: h, data: new Uint8Array(10), pts: 0.1 })).toBe(false);
      expect(errors).toHaveLength(1);
      for (let t = 0; t < 100 && seen.length < 3; t++) await new Promise((r) => setTimeout(r, 20));
      expect(seen).toEqual([10, 20, 30]);
      expect(sink.counters).toEqual({ written: 3, refused: 3 });
      sink.close();
      sink.close();
      expect(sink.closed).toBe(true);
      expect(sink.track.readyState).toBe('ended');
      expect(sink.write(frame(w, h, 40, 1))).toBe(false);
    } finally {
      tap.stop();
      sink.close();
    }
  });
});
