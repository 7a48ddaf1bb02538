/** Public types of the contrast kernels. */

/** Element type of logit inputs: float32 in a Float32Array, or 16-bit formats as bits in a Uint16Array. */
export type Dtype = 'float32' | 'float16' | 'bfloat16';

/** A row-major block of logits `[rows x vocabSize]`. */
export type Logits = Float32Array | Uint16Array;

/** Which implementation runs a kernel call. */
export type Backend = 'native-avx512' | 'native-avx2' | 'native-neon' | 'native-scalar' | 'js';

/** Options shared by every contrast function. */
export interface ContrastOptions {
  /** Vocabulary size V; the inputs hold `rows x V` values. Default: the expert's length (one row). */
  vocabSize?: number;
  /** Plausibility threshold: tokens with `p_e >= alpha * max p_e` form the head. In [0, 1]; default 0.1. */
  alpha?: number;
  /** The head holds at least this many tokens (the reference's `minimum_candidates`). In [1, V]; default 1. */
  minCandidates?: number;
  /**
   * O'Brien & Lewis weighting: the head is scored by `(1 + beta) z_e - beta z_a` instead of `z_e - z_a`.
   * Finite and >= 0; default: unset (the paper's plain log-ratio).
   */
  beta?: number;
  /** Element type of the logit inputs; required for Uint16Array inputs, inferred for Float32Array. */
  dtype?: Dtype;
  /** Output buffer `[rows x V]` to write into (no allocation per call). Must not share memory with inputs. */
  out?: Float32Array;
  /** Receives each row's head size (the number of plausible tokens). Length: rows. */
  headSize?: Int32Array;
  /** Receives each row's head mass (the expert's probability mass on the head). Length: rows. */
  headMass?: Float32Array;
  /** Runs this implementation instead of the fastest available one (see `availableBackends()`). */
  backend?: Backend;
  /**
   * Threads for a batch (native only): 0 (default) spreads rows over a pool as wide as the machine, 1 keeps
   * the work on the calling thread.
   */
  threads?: number;
  /**
   * Where the kernel runs: 'cpu' (default) or 'cuda' (inputs copied to GPU `cudaDevice`, results copied back;
   * needs the CUDA library built beside the addon, a driver and a device; see `cudaInfo()`).
   */
  device?: 'cpu' | 'cuda';
  /** GPU index for `device: 'cuda'`; default 0. */
  cudaDevice?: number;
}

/** Device pointers (as BigInts) for `contrastDevicePointers`: logits already on the GPU. */
export interface DevicePointers {
  /** Expert logits `[rows x V]` in device memory. */
  expert: bigint;
  /** Amateur logits `[rows x V]` in device memory. */
  amateur: bigint;
  /** Output log-probabilities `[rows x V]` float32 (device), optional if `argmax` is given. */
  out?: bigint;
  /** Per-row head size `[rows]` int32 (device). */
  headSize?: bigint;
  /** Per-row head mass `[rows]` float32 (device). */
  headMass?: bigint;
  /** Per-row arg-max of the contrasted distribution `[rows]` int32 (device), fused into the same kernel. */
  argmax?: bigint;
  /** The CUDA stream (cudaStream_t) to run on; default the legacy default stream. */
  stream?: bigint;
}

/** Options of `contrastDevicePointers`. */
export interface DeviceContrastOptions {
  rows: number;
  vocabSize: number;
  dtype?: Dtype;
  mode?: ContrastMode;
  alpha?: number;
  minCandidates?: number;
  beta?: number;
}

/** What `cudaInfo()` reports. */
export interface CudaInfo {
  available: boolean;
  /** Why device 'cuda' cannot run (library not built, no driver, no device). */
  reason?: string;
  devices?: number;
  name?: string;
  version?: string;
  library?: string;
}

/** Options of the sparse-amateur functions. */
export interface SparseContrastOptions extends ContrastOptions {
  /** The exit head's bias `[V]`, same dtype as the head weight. */
  headBias?: Logits;
  /** Element type of the head weight and bias. Default: `dtype` for Uint16Array weights, else float32. */
  weightDtype?: Dtype;
}

/** The result of `contrast()`: log-probabilities and per-row head statistics. */
export interface ContrastResult {
  /** Log-probabilities `[rows x V]`. */
  logProbs: Float32Array;
  /** Head size per row. */
  headSize: Int32Array;
  /** Expert probability mass of the head per row. */
  headMass: Float32Array;
  /** Number of rows. */
  rows: number;
  /** Vocabulary size. */
  vocabSize: number;
}

/** Contrast mode: `acd` keeps the expert's probability outside the head; `cd` masks it to -Infinity. */
export type ContrastMode = 'acd' | 'cd';
