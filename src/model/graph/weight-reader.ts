/**
 * Looks weights up by name with shape checks and registers them as graph initializers
 * (lazily: their data is only read when the model is written).
 */
import { linear, projectRows } from './layers';
import { canQuantize, canQuantizeQ8, matMulNBits, q8Projection, symmetricQ4Projection, type MatMulNBitsOptions } from './matmul-nbits';
import type { GraphBuilder } from './onnx/graph-builder';
import type { Ops } from './onnx/ops';
import {
  concatVectorsSource,
  fusedTransposedSource,
  weightSource,
  type WeightMap,
  type WeightTensor,
} from './onnx/tensor-source';

function fmt(dims: readonly number[]): string {
  return `[${dims.join(', ')}]`;
}

/** Shape-checked access to a {@link WeightMap} while building one graph. */
export class WeightReader {
  private readonly registered = new Set<string>();
  private readonly seen = new Set<string>();
  private quantized = 0;

  /**
   * @param weights the weight map
   * @param g the graph initializers are added to
   * @param q4 when given, linear layers whose weights are all 4-bit (see {@link WeightReader.linear})
   *   stay quantised as MatMulNBits
   */
  constructor(
    private readonly weights: WeightMap,
    private readonly g: GraphBuilder,
    private readonly q4?: MatMulNBitsOptions,
  ) {}

  /** Whether a weight exists. */
  has(name: string): boolean {
    return this.weights.has(name);
  }

  /** The weight `name`, which must have shape `dims`. */
  get(name: string, dims: readonly number[]): WeightTensor {
    const w = this.weights.get(name);
    if (!w) throw new Error(`missing weight "${name}" (expected shape ${fmt(dims)})`);
    if (w.dims.length !== dims.length || w.dims.some((d, i) => d !== dims[i])) {
      throw new Error(`weight "${name}" has shape ${fmt(w.dims)}, expected ${fmt(dims)}`);
    }
    this.seen.add(name);
    return w;
  }

  /** Registers weight `name` (shape `dims`) as an initializer of the same name, once. */
  initializer(name: string, dims: readonly number[]): string {
    const w = this.get(name, dims);
    if (!this.registered.has(name)) {
      this.g.initializer(name, weightSource(name, w));
      this.registered.add(name);
    }
    return name;
  }

  /**
   * Registers `nn.Linear` weights `[out_i, in]` transposed and concatenated into one `[in, sum out_i]`
   * initializer named `as`, for a single MatMul.
   */
  fusedLinear(as: string, parts: readonly { name: string; dims: readonly number[] }[]): string {
    const resolved = parts.map((p) => ({ name: p.name, weight: this.get(p.name, p.dims) }));
    return this.g.initializer(as, fusedTransposedSource(resolved));
  }

  /**
   * `x · [W_1; W_2; ...]^T (+ bias)` for `nn.Linear` weights `[out_i, in]` fused along the output
   * axis: MatMulNBits on the 4-bit blocks when this reader keeps 4-bit weights and every part has
   * them (same format), else one float MatMul on a fused transposed initializer named `as`.
   * `x` must be `[batch, positions, in]`.
   */
  linear(ops: Ops, x: string, as: string, parts: readonly { name: string; dims: readonly number[] }[], bias?: string): string {
    if (this.q4) {
      const resolved = parts.map((p) => ({ name: p.name, weight: this.get(p.name, p.dims) }));
      if (canQuantize(resolved)) {
        const y = matMulNBits(ops, x, as.replace(/\.weight_t$|_t$/, ''), resolved, this.q4);
        this.quantized += 1;
        return bias ? ops.add(y, bias) : y;
      }
    }
    return linear(ops, x, this.fusedLinear(as, parts), bias);
  }

  /**
   * The vocabulary projection onto the `[rows, hidden]` matrix `name` (LM head or tied embedding), for
   * `[batch, positions, hidden]` inputs: 8-bit MatMulNBits on the matrix's own Q8_0 blocks when `tied` (the
   * embedding, whose float32 copy the graph keeps for its Gather: the sparse amateur finds the head's values
   * there, see generate/heads.ts), this reader keeps quantised weights with `head: 'q8'` and the matrix has
   * them; with `head: 'q4-sym'` (tied) a 4-bit MatMulNBits on its values re-quantised symmetric (see
   * {@link symmetricQ4Projection}; the sparse amateur still reads the float32 rows); else a float Gemm on the float32 initializer `name` (registered by this call).
   */
  headProjection(ops: Ops, name: string, rows: number, hidden: number, tied: boolean, bias?: string): (x: string, out?: string) => string {
    const w = this.get(name, [rows, hidden]);
    if (tied && this.q4?.head === 'q8' && canQuantizeQ8(w)) {
      const project = q8Projection(ops, `${name.replace(/\.weight$/, '')}.head`, name, w, this.q4.accuracyLevel ?? 4);
      return (x, out) => (bias ? ops.add(project(x), bias, out) : project(x, out));
    }
    if (tied && this.q4?.head === 'q4-sym' && hidden % 32 === 0) {
      const project = symmetricQ4Projection(ops, `${name.replace(/\.weight$/, '')}.head`, name, w, this.q4.accuracyLevel ?? 4);
      return (x, out) => (bias ? ops.add(project(x), bias, out) : project(x, out));
    }
    const matrix = this.initializer(name, [rows, hidden]);
    return (x, out) => projectRows(ops, x, matrix, rows, hidden, bias, out);
  }

  /** Registers 1-D weights concatenated into one initializer named `as`. */
  fusedVector(as: string, parts: readonly { name: string; dims: readonly number[] }[]): string {
    const resolved = parts.map((p) => ({ name: p.name, weight: this.get(p.name, p.dims) }));
    return this.g.initializer(as, concatVectorsSource(resolved));
  }

  /** Linear layers written as MatMulNBits so far. */
  get quantizedLinears(): number {
    return this.quantized;
  }

  /** Names of weights in the map that the graph did not use (e.g. buffers of a checkpoint). */
  unused(): string[] {
    return [...this.weights.keys()].filter((k) => !this.seen.has(k));
  }
}
