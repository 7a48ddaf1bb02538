/**
 * The one typed contract of the native addon: every function the TypeScript layers call on it, with the shapes
 * they exchange. `native.ts` loads the addon as this type; the kernel API (`contrast.ts`, `head.ts`,
 * `dola.ts`) and the runtime (src/runtime) call it without casts. Requests are validated natively again.
 */
import type { CudaInfo } from './types';
import type { DenseRequest, SparseRequest } from './validate';

/** The contrast kernels, head projection and DoLa selection. */
export interface KernelSurface {
  abiVersion: number;
  contrast(req: DenseRequest): Float32Array;
  contrastSparse(req: SparseRequest): Float32Array;
  contrastAsync(req: DenseRequest): Promise<Float32Array>;
  contrastSparseAsync(req: SparseRequest): Promise<Float32Array>;
  isa(): string;
  isas(): string[];
  threads(): number;
  cudaInfo(dir: string): CudaInfo;
  contrastDevice(req: Record<string, unknown>): void;
  /** Pre-validated form (see prepared.ts); absent from builds older than it. */
  contrastPrepare?(req: DenseRequest): object;
  contrastPrepareSparse?(req: SparseRequest): object;
  contrastRun(prepared: object, expert: Float32Array | Uint16Array, second: Float32Array | Uint16Array, out: Float32Array, headSize: Int32Array, headMass: Float32Array): void;
  headLogits?(req: Record<string, unknown>): Float32Array;
  /** The int8-block head projection (native/kernels/q8_head.h); `q8HeadIsa` names the table an `isa` selects. */
  q8HeadProject?(req: Record<string, unknown>): Float32Array;
  q8HeadIsa?(req?: Record<string, unknown>): string;
  dolaSelect?(req: Record<string, unknown>): Float32Array;
  dolaSelectAsync?(req: Record<string, unknown>): Promise<Float32Array>;
  candidateLogits?(req: Record<string, unknown>): Float32Array;
}

/** What a prefill or step resolves to. */
export interface RawStep {
  pastLength: number;
  stepMs: number;
  runMs: number;
  headMs: number;
  tokens?: Int32Array;
  logprobs?: Float32Array;
  headSize?: Int32Array;
}
/**
 * Selection settings of the fused native step: `mode` 0 = acd, 1 = cd (with the contrast parameters), 2 = plain
 * (the expert's own distribution; the contrast parameters are not read).
 */
export interface RawParams {
  mode: number;
  alpha?: number;
  minCandidates?: number;
  beta?: number;
  sample?: { temperature?: number; topK?: number; topP?: number; seed?: number };
  /** The sparse amateur's head (`weightDtype` 0 float32, 1 float16, 2 bfloat16). */
  sparse?: { weight: Float32Array | Uint16Array; weightDtype: number; bias?: Float32Array | Uint16Array };
}
/** `allowSpinning: 'auto'`: the model's counts since it was loaded (all its sequences). */
export interface SpinningStats {
  /** One-token steps run. */
  decodeSteps: number;
  /** Of those, run in the spinning twin session. */
  spinningSteps: number;
  /** Of those, probes: run in the mode the policy was not in, to measure it. */
  probes: number;
  /** Whether the spinning twin session was created. */
  twin: boolean;
}

/** The decode runtime's part of the addon (present when the build has the runtime: `rtAvailable`). */
export interface RuntimeSurface {
  rtInit(lib: string): { version: string; apiVersion: number; physicalCores: number };
  rtLoadModel(desc: object): Promise<{ handle: unknown; inputs: string[]; outputs: string[]; threads: number; outputHead: 'graph' | 'q8' }>;
  rtDisposeModel(h: unknown): void;
  rtCreateSequence(
    h: unknown,
    o: object,
  ): {
    handle: unknown;
    logits: Float32Array;
    exitLogits?: Float32Array;
    exitHidden?: Float32Array;
    scores?: Float32Array;
    exitOutputs?: { layer: number; logits?: Float32Array; hidden?: Float32Array }[];
    kvBytes: number;
    device?: 'cpu' | 'cuda';
  };
  rtDisposeSequence(h: unknown): void;
  rtPrefill(h: unknown, tokens: Int32Array, lengths: Int32Array, p?: RawParams): Promise<RawStep>;
  rtStep(h: unknown, tokens: Int32Array): Promise<RawStep>;
  rtStepAndContrast(h: unknown, tokens: Int32Array, p: RawParams): Promise<RawStep>;
  rtReorder(h: unknown, parents: Int32Array): void;
  /**
   * The fused decode loop: prefill, then steps, each selection handed to `onStep` (JavaScript thread, in order)
   * while the worker goes on; `onStep` returning true stops the loop before its next step.
   */
  rtDecode?(
    h: unknown,
    tokens: Int32Array,
    lengths: Int32Array,
    p: RawParams,
    limits: { maxSteps: number; eos: Int32Array; filler: number },
    onStep: (tokens: Int32Array, logprobs: Float32Array, step: number, stepMs: number, runMs: number) => boolean,
  ): Promise<{ steps: number; pastLength: number }>;
  /** Stops a running decode loop before its next step (no-op when none runs). */
  rtDecodeStop?(h: unknown): void;
  rtSpinStats?(h: unknown): SpinningStats;
  rtSpinPolicyTrace?(trace: {
    off: Float64Array;
    on: Float64Array;
    rows?: Int32Array;
    decode?: Uint8Array;
    hint?: { spinning: boolean; interval: number };
  }): { spinning: Uint8Array; probe: Uint8Array; hint: { spinning: boolean; interval: number } };
  rtAdmit?(dst: unknown, src: unknown, srcRow: number): Promise<{ row: number; pastLength: number }>;
  rtRemoveRow?(h: unknown, row: number): number;
  rtReadOutputs?(h: unknown): void;
  rtCudaStatus?(cudaDir: string, deviceId: number): string;
}

/** The addon as loaded: the kernels, and the runtime when this build has it. */
export type NativeAddon = KernelSurface &
  Partial<RuntimeSurface> & {
    /** Whether this build has the decode runtime; when false, `rtUnavailableReason` says why. */
    rtAvailable?: boolean;
    rtUnavailableReason?: string;
  };

/** Whether `addon` has the decode runtime (then every runtime function is present). */
export function hasRuntime(addon: NativeAddon): addon is NativeAddon & RuntimeSurface {
  return addon.rtAvailable === true && typeof addon.rtInit === 'function';
}
