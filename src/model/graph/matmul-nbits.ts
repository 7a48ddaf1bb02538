/**
 * Linear layers whose weights stay 4-bit quantised in the graph: ONNX Runtime's contrib operator
 * `com.microsoft.MatMulNBits` (Y = A · dequant(B)^T), fed directly from GGUF Q4_0 / Q4_1 blocks.
 *
 * Layout written (bits = 4, block_size = 32; N output features, K input features, K % 32 == 0):
 * - `B`: uint8 `[N, K/32, 16]`: row n's blocks in order; within a block, byte i holds element 2i
 *   in its low nibble and element 2i+1 in its high nibble (ggml's j / j+16 order is re-packed).
 * - `scales`: float `[N * K/32]`, block (n, b) at n * K/32 + b.
 * - Q4_0 (w = (q - 8) d): no `zero_points` input: the operator's default zero point is 8.
 * - Q4_1 (w = q d + m), two encodings:
 *   - `split` (default): the same symmetric operator as Q4_0, i.e. w = (q - 8) d + (m + 8 d), plus
 *     the block-constant part as a small float product: blocksum(x) [.., K/32] · M^T, where
 *     M[n, b] = m + 8 d. This keeps ONNX Runtime's fast packed kernel (no zero points).
 *   - `float-zero-point`: `zero_points` float `[N * K/32]` = -m / d (so (q - zp) d = q d + m).
 *
 * Several `[out_i, K]` matrices of the same block format can be fused along N (q/k/v, gate/up):
 * their rows simply follow each other.
 */
import { repackQ4Sequential } from '../import/gguf/q4-blocks';
import type { GraphBuilder } from './onnx/graph-builder';
import { attr, OnnxDataType } from './onnx/onnx-types';
import type { Ops } from './onnx/ops';
import { loadWeight, type Q4WeightBlocks, type Q8WeightBlocks, type TensorSource, type WeightTensor } from './onnx/tensor-source';

/** Options of the MatMulNBits path. */
export interface MatMulNBitsOptions {
  /**
   * `accuracy_level` attribute: 0 (unset: float compute), 1 fp32, 2 fp16, 3 bf16, 4 int8
   * (activations quantised to int8 per block; fastest on most CPUs). Default 4.
   */
  readonly accuracyLevel?: 0 | 1 | 2 | 3 | 4;
  /** How Q4_1's per-block minimum is expressed (see the module comment). Default `split`. */
  readonly q4_1?: 'split' | 'float-zero-point';
  /**
   * The LM head (and exit logits through it) when it is the tied embedding and has GGUF Q8_0 blocks (see
   * {@link q8Projection}):
   * `float32` (default): Gemm on the dequantised matrix; `q8`: MatMulNBits on the model's own 8-bit values
   * at this accuracy level (a quarter of the bytes read per token); `q4-sym`: its float32 values re-quantised
   * to symmetric 4-bit blocks ({@link requantizeSymmetricBlock}, as onnxruntime-genai's int4 head), one 4-bit
   * MatMulNBits at this accuracy level (an eighth of the bytes; not the model's values).
   */
  readonly head?: 'float32' | 'q8' | 'q4-sym';
  /**
   * The 4-bit matrices' values: `keep` (default) the GGUF blocks' own codes, scales (and Q4_1 minimums);
   * `symmetric`: each block dequantised to float32 and re-quantised as ONNX Runtime's blockwise int4 quantiser
   * does for onnxruntime-genai's model builder ({@link requantizeSymmetricBlock}): symmetric codes, no zero
   * points, so no Q4_1 minimum term. Not the model's values (an approximation: opt-in weight form only).
   */
  readonly requantize?: 'keep' | 'symmetric';
}

/** Block size used (GGUF Q4_0 / Q4_1). */
export const Q4_BLOCK = 32;

/** The MatMulNBits contrib domain. */
export const MS_DOMAIN = 'com.microsoft';

interface Part {
  readonly name: string;
  readonly weight: WeightTensor;
}

/** Whether `parts` can be written as one MatMulNBits: all Q4 of the same kind, same K, K % 32 == 0. */
export function canQuantize(parts: readonly Part[]): boolean {
  if (parts.length === 0) return false;
  const kind = parts[0].weight.q4?.kind;
  const k = parts[0].weight.dims[1];
  return parts.every(
    (p) => p.weight.q4 !== undefined && p.weight.q4.kind === kind && p.weight.dims.length === 2 && p.weight.dims[1] === k && k % Q4_BLOCK === 0,
  );
}

async function loadBlocks(p: Part, requantize: MatMulNBitsOptions['requantize']): Promise<Q4WeightBlocks> {
  const q = p.weight.q4;
  if (!q) throw new Error(`weight ${p.name} is not 4-bit quantised`);
  const b = await q.read();
  const [rows, k] = p.weight.dims;
  const blocks = (rows * k) / Q4_BLOCK;
  if (b.scales.length !== blocks || b.codes.length !== blocks * 16 || (q.kind === 'q4_1' && b.mins?.length !== blocks)) {
    throw new RangeError(`weight ${p.name}: 4-bit blocks do not match shape [${rows}, ${k}]`);
  }
  return requantize === 'symmetric' ? requantizeQ4Symmetric(b, q.kind) : b;
}

/** roundf (half away from zero) of a float32 value. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/**
 * Re-quantises one block of 32 float32 values `v` to symmetric 4-bit, as ONNX Runtime's blockwise quantiser
 * (MLAS, the one its MatMulNBits quantiser and so onnxruntime-genai's builder use) does, in float32 arithmetic:
 * `scale = v* / -8` where `v*` is the block's value of largest magnitude (the minimum on a tie),
 * `code = clamp(round(v * (1 / scale) + 8), 0, 15)` (round half away from zero; every code 8 when the scale is 0).
 * Writes the codes in ggml order (byte j = element j | element j+16 << 4) at `codes[at..at+16)`; returns the scale.
 */
export function requantizeSymmetricBlock(v: ArrayLike<number>, codes: Uint8Array, at: number): number {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < Q4_BLOCK; i++) {
    if (v[i] < min) min = v[i];
    if (v[i] > max) max = v[i];
  }
  const scale = Math.fround((Math.abs(max) > Math.abs(min) ? max : min) / -8);
  const recip = scale !== 0 ? Math.fround(1 / scale) : 0;
  const code = (x: number) => Math.min(15, Math.max(0, roundHalfAway(Math.fround(Math.fround(x * recip) + 8))));
  for (let j = 0; j < 16; j++) codes[at + j] = code(v[j]) | (code(v[j + 16]) << 4);
  return scale;
}

/** {@link requantizeSymmetricBlock} over every block of `b` (its float32 values: `(q - 8) d` or `q d + m`). */
export function requantizeQ4Symmetric(b: Q4WeightBlocks, kind: 'q4_0' | 'q4_1'): Q4WeightBlocks {
  const n = b.scales.length;
  const scales = new Float32Array(n);
  const codes = new Uint8Array(n * 16);
  const v = new Float32Array(Q4_BLOCK);
  for (let blk = 0; blk < n; blk++) {
    const d = b.scales[blk];
    const m = kind === 'q4_1' ? b.mins![blk] : -8 * d;
    for (let j = 0; j < 16; j++) {
      const c = b.codes[blk * 16 + j];
      v[j] = (c & 15) * d + m;
      v[j + 16] = (c >> 4) * d + m;
    }
    scales[blk] = requantizeSymmetricBlock(v, codes, blk * 16);
  }
  return { scales, mins: null, codes };
}

function bytesOf(a: Float32Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Concatenates per-part arrays of `perBlock` values (one per block, parts in order). */
function concatParts<T extends Float32Array | Uint8Array>(
  parts: readonly Part[],
  requantize: MatMulNBitsOptions['requantize'],
  make: (n: number) => T,
  perBlock: number,
  pick: (b: Q4WeightBlocks, kind: 'q4_0' | 'q4_1') => T,
): () => Promise<T> {
  return async () => {
    const total = parts.reduce((s, p) => s + (p.weight.dims[0] * p.weight.dims[1]) / Q4_BLOCK, 0);
    const out = make(total * perBlock);
    let at = 0;
    for (const p of parts) {
      const v = pick(await loadBlocks(p, requantize), p.weight.q4!.kind);
      out.set(v, at);
      at += v.length;
    }
    return out;
  };
}

/** Float zero point -m/d for Q4_1 (with a tiny stand-in scale where d is 0, so w = m holds). */
function q4_1ZeroPoints(b: Q4WeightBlocks): { scales: Float32Array; zeroPoints: Float32Array } {
  const n = b.scales.length;
  const scales = new Float32Array(n);
  const zeroPoints = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let d = b.scales[i];
    const m = b.mins![i];
    if (d === 0) d = m === 0 ? 1 : Math.abs(m) * 2 ** -24;
    scales[i] = d;
    zeroPoints[i] = -m / d;
  }
  return { scales, zeroPoints };
}

/**
 * Registers the initializers of a MatMulNBits for `parts` (`[out_i, K]` matrices fused along N)
 * and adds the node(s) computing `x · W^T` for `x` of shape `[.., K]`. Returns the output name.
 */
export function matMulNBits(ops: Ops, x: string, as: string, parts: readonly Part[], options: MatMulNBitsOptions = {}, out?: string): string {
  if (!canQuantize(parts)) throw new Error(`${as}: weights are not fusable 4-bit matrices`);
  const g: GraphBuilder = ops.g;
  g.useDomain(MS_DOMAIN, 1);
  const rq = options.requantize;
  // re-quantised blocks are symmetric (Q4_0's form) whatever the source
  const kind = rq === 'symmetric' ? 'q4_0' : parts[0].weight.q4!.kind;
  const K = parts[0].weight.dims[1];
  const N = parts.reduce((s, p) => s + p.weight.dims[0], 0);
  const kb = K / Q4_BLOCK;
  const src = (dataType: typeof OnnxDataType.FLOAT | typeof OnnxDataType.UINT8, dims: number[], data: () => Promise<Float32Array | Uint8Array>): TensorSource => ({
    dataType,
    dims,
    bytes: async () => bytesOf(await data()),
  });
  const bName = g.initializer(`${as}.q4_b`, src(OnnxDataType.UINT8, [N, kb, 16], concatParts(parts, rq, (n) => new Uint8Array(n), 16, (b) => repackQ4Sequential(b.codes))));
  const floatZp = kind === 'q4_1' && options.q4_1 === 'float-zero-point';
  const scales = g.initializer(
    `${as}.q4_scales`,
    src(OnnxDataType.FLOAT, [N * kb], concatParts(parts, rq, (n) => new Float32Array(n), 1, (b, k) => (k === 'q4_1' && floatZp ? q4_1ZeroPoints(b).scales : b.scales))),
  );
  const inputs = [x, bName, scales];
  if (floatZp) {
    inputs.push(g.initializer(`${as}.q4_zero_points`, src(OnnxDataType.FLOAT, [N * kb], concatParts(parts, rq, (n) => new Float32Array(n), 1, (b) => q4_1ZeroPoints(b).zeroPoints))));
  }
  const attrs = {
    K: attr.int(K),
    N: attr.int(N),
    bits: attr.int(4),
    block_size: attr.int(Q4_BLOCK),
    accuracy_level: attr.int(options.accuracyLevel ?? 4),
  };
  const split = kind === 'q4_1' && !floatZp;
  const y = g.node('MatMulNBits', inputs, attrs, { domain: MS_DOMAIN, ...(out && !split ? { outputs: [out] } : {}) })[0];
  if (!split) return y;
  // Block-constant part: M^T [K/32, N], M[n, b] = m + 8 d.
  const mT = g.initializer(`${as}.q4_min_t`, src(OnnxDataType.FLOAT, [kb, N], async () => {
    const t = new Float32Array(kb * N);
    let row = 0;
    for (const p of parts) {
      const b = await loadBlocks(p, rq);
      const rows = p.weight.dims[0];
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < kb; j++) {
          const i = r * kb + j;
          t[j * N + row + r] = b.mins![i] + 8 * b.scales[i];
        }
      }
      row += rows;
    }
    return t;
  }));
  // (Block sums as MatMul(x, S) with a 0/1 matrix S [K, K/32] instead of Reshape + ReduceSum measured the same
  // per step: the cost of these small nodes is ONNX Runtime's per-node overhead, not arithmetic.)
  const blocked = ops.reshape(x, [0, 0, kb, Q4_BLOCK]);
  const sums = g.node('ReduceSum', [blocked, g.constInt64([-1])], { keepdims: attr.int(0) })[0];
  return ops.add(y, ops.matMul(sums, mT), out);
}

/** Whether `w` can be projected with {@link matMulQ8}: a `[N, K]` matrix with Q8_0 blocks, K % 32 == 0. */
export function canQuantizeQ8(w: WeightTensor): boolean {
  return w.q8 !== undefined && w.dims.length === 2 && w.dims[1] % Q4_BLOCK === 0;
}

async function loadQ8(name: string, w: WeightTensor): Promise<Q8WeightBlocks> {
  if (!w.q8) throw new Error(`weight ${name} has no 8-bit blocks`);
  const b = await w.q8.read();
  const [rows, k] = w.dims;
  if (b.scales.length !== (rows * k) / Q4_BLOCK || b.codes.length !== rows * k) {
    throw new RangeError(`weight ${name}: 8-bit blocks do not match shape [${rows}, ${k}]`);
  }
  return b;
}

/**
 * A projection `x -> x · W^T` (for `x` of shape `[.., K]`) onto a `[N, K]` matrix held in GGUF Q8_0 blocks
 * (`w = code * d`), on the model's own values. The initializers are registered once, by this call; every
 * call of the returned function adds nodes reading them (the LM head and exits share one copy).
 * - accuracy level 4 (int8 activations): one 8-bit MatMulNBits (codes + 128 as uint8, the operator's
 *   default zero point 128, scales d);
 * - any other level (float activations): ONNX Runtime 1.30 has no fast float kernel for 8 bits (it
 *   dequantises the whole matrix on every run, measured 60x slower than the float Gemm), so each code is
 *   split exactly into two 4-bit digits, code = 16 hi + lo with hi in [-8, 7] and lo in [0, 15], and
 *   `x · W^T = MatMulNBits(hi, scales 16 d) + MatMulNBits(lo, scales d, zero point 0)`; 16 d is exact in
 *   float, so both products use the matrix's exact values and only the float summation order differs.
 */
export function q8Projection(ops: Ops, as: string, name: string, w: WeightTensor, accuracyLevel: number): (x: string, out?: string) => string {
  if (!canQuantizeQ8(w)) throw new Error(`${name}: not an 8-bit block matrix with K % 32 == 0`);
  const g: GraphBuilder = ops.g;
  g.useDomain(MS_DOMAIN, 1);
  const [N, K] = w.dims;
  const kb = K / Q4_BLOCK;
  const src = (dataType: typeof OnnxDataType.FLOAT | typeof OnnxDataType.UINT8, dims: number[], data: () => Promise<Float32Array | Uint8Array>): TensorSource => ({
    dataType,
    dims,
    bytes: async () => bytesOf(await data()),
  });
  const attrs = (bits: number) => ({ K: attr.int(K), N: attr.int(N), bits: attr.int(bits), block_size: attr.int(Q4_BLOCK), accuracy_level: attr.int(accuracyLevel) });
  const node = (inputs: string[], bits: number, out?: string) => g.node('MatMulNBits', inputs, attrs(bits), { domain: MS_DOMAIN, ...(out ? { outputs: [out] } : {}) })[0];
  if (accuracyLevel === 4) {
    const b = g.initializer(`${as}.q8_b`, src(OnnxDataType.UINT8, [N, kb, Q4_BLOCK], async () => {
      const codes = (await loadQ8(name, w)).codes;
      const u = new Uint8Array(codes.length);
      for (let i = 0; i < codes.length; i++) u[i] = codes[i] + 128;
      return u;
    }));
    const s = g.initializer(`${as}.q8_scales`, src(OnnxDataType.FLOAT, [N * kb], async () => (await loadQ8(name, w)).scales));
    return (x, out) => node([x, b, s], 8, out);
  }
  // Two 4-bit digits, packed two elements per byte in element order (low nibble first).
  const digits = (high: boolean) => async () => {
    const codes = (await loadQ8(name, w)).codes;
    const packed = new Uint8Array(codes.length / 2);
    for (let i = 0; i < packed.length; i++) {
      const a = codes[2 * i];
      const c = codes[2 * i + 1];
      // a = 16 (a >> 4) + (a & 15) for signed a (arithmetic shift)
      packed[i] = (high ? (a >> 4) + 8 : a & 15) | ((high ? (c >> 4) + 8 : c & 15) << 4);
    }
    return packed;
  };
  const hiB = g.initializer(`${as}.q8_hi_b`, src(OnnxDataType.UINT8, [N, kb, 16], digits(true)));
  const hiS = g.initializer(`${as}.q8_hi_scales`, src(OnnxDataType.FLOAT, [N * kb], async () => (await loadQ8(name, w)).scales.map((d) => 16 * d)));
  const loB = g.initializer(`${as}.q8_lo_b`, src(OnnxDataType.UINT8, [N, kb, 16], digits(false)));
  const loS = g.initializer(`${as}.q8_lo_scales`, src(OnnxDataType.FLOAT, [N * kb], async () => (await loadQ8(name, w)).scales));
  // zero points: 4 bits per block, each row padded to whole bytes; all 0 (the low digits are unsigned)
  const zpBytes = N * Math.ceil(kb / 2);
  const loZ = g.initializer(`${as}.q8_lo_zero_points`, src(OnnxDataType.UINT8, [zpBytes], async () => new Uint8Array(zpBytes)));
  return (x, out) => ops.add(node([x, hiB, hiS], 4), node([x, loB, loS, loZ], 4), out);
}

/**
 * A projection `x -> x · W^T` onto a `[N, K]` float32 matrix (K % 32 == 0) re-quantised to symmetric 4-bit
 * blocks of 32 along each row ({@link requantizeSymmetricBlock}): one 4-bit MatMulNBits (no zero points) at
 * `accuracyLevel`. The initializers are registered once; every call of the returned function adds a node.
 */
export function symmetricQ4Projection(ops: Ops, as: string, name: string, w: WeightTensor, accuracyLevel: number): (x: string, out?: string) => string {
  if (w.dims.length !== 2 || w.dims[1] % Q4_BLOCK !== 0) throw new Error(`${name}: not a [N, K] matrix with K % 32 == 0`);
  const g: GraphBuilder = ops.g;
  g.useDomain(MS_DOMAIN, 1);
  const [N, K] = w.dims;
  const kb = K / Q4_BLOCK;
  let blocks: Promise<Q4WeightBlocks> | undefined;
  const load = () =>
    (blocks ??= loadWeight(name, w).then((v) => {
      const scales = new Float32Array(N * kb);
      const codes = new Uint8Array(N * kb * 16);
      for (let b = 0; b < N * kb; b++) scales[b] = requantizeSymmetricBlock(v.subarray(b * Q4_BLOCK, (b + 1) * Q4_BLOCK), codes, b * 16);
      return { scales, mins: null, codes };
    }));
  const b = g.initializer(`${as}.q4s_b`, { dataType: OnnxDataType.UINT8, dims: [N, kb, 16], bytes: async () => repackQ4Sequential((await load()).codes) });
  const s = g.initializer(`${as}.q4s_scales`, { dataType: OnnxDataType.FLOAT, dims: [N * kb], bytes: async () => bytesOf((await load()).scales) });
  const attrs = { K: attr.int(K), N: attr.int(N), bits: attr.int(4), block_size: attr.int(Q4_BLOCK), accuracy_level: attr.int(accuracyLevel) };
  return (x, out) => g.node('MatMulNBits', [x, b, s], attrs, { domain: MS_DOMAIN, ...(out ? { outputs: [out] } : {}) })[0];
}
