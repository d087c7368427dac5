/**
 * facerestore's library API. Start with `createPipeline(options)`; `pipeline.restoreFile(in, out)` runs
 * the offline job, `pipeline.run(in, sink)` streams composed frames into any FrameSink. Callers that keep
 * one component set for many runs use `Components.create(options)` and `runFile(components, in, sink)`.
 * Options and errors that cross a process boundary travel as portable options and serialized errors.
 */
export { createPipeline, Pipeline } from './apps/file/pipeline.ts';
export type { PipelineHooks } from './apps/file/pipeline.ts';
export { runFile } from './apps/file/runFile.ts';
export type { Progress, RunOptions, RunSummary } from './apps/file/runFile.ts';
export { Components } from './engine/components.ts';
export type { ComponentHooks, TrackerChoice } from './engine/components.ts';
export {
  parsePipelineOptions,
  parsePortableOptions,
  pipelineOptionsSchema,
  portableOptionsSchema,
  toPortableOptions,
  withLocalSettings,
} from './engine/options.ts';
export type { LocalSettingsInput, PipelineOptions, PipelineOptionsInput, PortableOptions, PortableOptionsInput } from './engine/options.ts';
export { FaceProcessor } from './engine/faceProcessor.ts';
export { FaceRestoreError, isFaceRestoreError, ERROR_EXIT_CODES, serializeError, reviveError } from './errors.ts';
export type { ErrorCode, SerializedError } from './errors.ts';
export { probeVideo } from './ingest/probe.ts';
export { VideoDecoder } from './ingest/decoder.ts';
export { BlazeFaceDetector } from './detect/blazeface.ts';
export { YuNetDetector } from './detect/yunet.ts';
export type { FaceDetector } from './detect/detector.ts';
export { fivePointsFrom68, Landmark68, RefinedDetector } from './engine/landmarkRefiner.ts';
export type { FaceTracker, FidelityPolicy } from './track/tracker.ts';
export { ConstantFidelity, PerFrameTracker } from './track/tracker.ts';
export { ClassicRestorer } from './restore/classicRestorer.ts';
export { OnnxRestorer } from './restore/onnxRestorer.ts';
export { BatchingRestorer } from './restore/batchingRestorer.ts';
export type { Restorer } from './restore/restorer.ts';
export { FileSink } from './stream/fileSink.ts';
export type { FrameSink, SinkWriteResult } from './stream/sink.ts';
export { alignmentFor, FFHQ_TEMPLATE_512, fitSimilarity } from './compose/align.ts';
export { pasteCrop } from './compose/paste.ts';
export { warpToCrop } from './compose/warp.ts';
export * from './types.ts';
