/**
 * The native decode runtime: ONNX Runtime sessions owned by the addon (C API, loaded from onnxruntime-node's
 * own `libonnxruntime.so.1`), with the KV cache in native buffers that never cross into JavaScript. Each step
 * runs on a worker thread and resolves a Promise, so the event loop stays free.
 *
 * Output buffers are zero-copy: {@link StepOutput.logits} and friends are `Float32Array` views over native
 * memory that the next step of the same sequence overwrites. Copy what you need to keep (`.slice()`) before
 * calling `step` again.
 */
export * from './types';
export { cudaRuntimeStatus, ortLibraryPath, ortVersion, runtimeStatus } from './library';
export { describeFromManifest, loadModel, readManifest, RuntimeModel } from './model';
export { Sequence } from './sequence';
export type { SpinningStats } from '../kernel/addon';
export { DEFAULT_ALLOW_SPINNING, resolveAllowSpinning, type AllowSpinning } from '../config/session';
export { ScoringError, ScoringSession, type ScoringFetch, type ScoringOutputs } from './scoring-session';
export { HeadSession, type HeadMatrix, type HeadProjection } from './head-session';
