/** An I420 picture with its presentation time (what a WebRTC video source takes, plus the time). */
export interface I420Picture {
  width: number;
  height: number;
  /** Y plane, then U and V at half resolution each way; no padding. */
  data: Uint8Array;
  /** Presentation time, seconds. */
  pts: number;
}

/** The part of @roamhq/wrtc's `nonstandard.RTCVideoSource` the sink uses (the caller loads wrtc). */
export interface VideoFrameSource {
  createTrack(): MediaStreamTrack;
  onFrame(frame: { width: number; height: number; data: Uint8Array }): void;
}

/** What the sink has done. */
export interface WebRtcSinkCounters {
  /** Frames handed to the track's encoder. */
  written: number;
  /** Frames refused: older than one already written, or the source threw. */
  refused: number;
}

/**
 * The live output stage: I420 frames in, a WebRTC video track out (its encoder runs in libwebrtc). Owns
 * the track it makes from `source`; `close()` stops it and is idempotent. A frame whose pts is before
 * the last one written (or not a number) is refused: a live track never goes back in time. Live mode drops late frames
 * before they get here (the restore peer's scheduler), so this sink never waits and never queues.
 */
export class WebRtcSink {
  readonly track: MediaStreamTrack;
  readonly counters: WebRtcSinkCounters = { written: 0, refused: 0 };
  readonly #source: VideoFrameSource;
  readonly #onError: (error: Error) => void;
  #lastPts = -Infinity;
  #closed = false;

  /** `onError` hears a frame the source refused (a wrong size, say); default ignore. */
  constructor(source: VideoFrameSource, onError: (error: Error) => void = () => undefined) {
    this.#source = source;
    this.#onError = onError;
    this.track = source.createTrack();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one frame; false when it was refused (closed, out of order, or the source threw). Never throws. */
  write(frame: I420Picture): boolean {
    if (this.#closed) return false;
    if (!(frame.pts >= this.#lastPts)) {
      this.counters.refused++;
      return false;
    }
    try {
      this.#source.onFrame({ width: frame.width, height: frame.height, data: frame.data });
    } catch (e) {
      this.counters.refused++;
      this.#onError(e instanceof Error ? e : new Error(String(e)));
      return false;
    }
    this.#lastPts = frame.pts;
    this.counters.written++;
    return true;
  }

  /** Stops the track. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.track.stop();
  }
}
