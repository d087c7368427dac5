import type { SegmentPlan } from './timeline.ts';

/** Where a decoded frame lies relative to the segment that decodes it. */
export type Placement = 'before' | 'inside' | 'after';

/** What a segment run needs to place frames: its plan plus the frame interval. */
export type SegmentWindow = Pick<SegmentPlan, 'index' | 'startTime' | 'endTime' | 'windowStart' | 'frameCount' | 'firstTime' | 'lastTime'> & {
  /** Nominal frame interval, seconds (tolerance of the boundary checks is a quarter of it). */
  frameSeconds: number;
};

/** Decode time of a frame decoded in the segment's window (the decoder reports pts relative to `-ss`). */
export function decodeTime(w: SegmentWindow, reportedPts: number): number {
  return (w.windowStart ?? 0) + reportedPts;
}

/**
 * Warm-up frames (before the segment's start) are decoded and tracked but neither restored nor encoded;
 * frames past its end are the next segment's. Boundaries lie half-way between frames.
 */
export function placeFrame(w: SegmentWindow, reportedPts: number): Placement {
  const t = decodeTime(w, reportedPts);
  if (w.startTime !== null && t < w.startTime) return 'before';
  if (w.endTime !== null && t >= w.endTime) return 'after';
  return 'inside';
}
