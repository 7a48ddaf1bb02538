/**
 * A head projection `logits = hidden · Wᵀ (+ b)` run by ONNX Runtime on many rows at once, for the scoring path:
 * every logit-lens exit of a model multiplies its (normed) hidden state by the same `[V x d]` matrix, so the rows of
 * all exits of a scoring batch go through ONE matrix product (ONNX Runtime's packed SGEMM, the matrix packed once
 * when the session opens) instead of one matrix-vector pass over the 100+ MB head per exit. The graph is built
 * in memory from the head already loaded (src/generate/heads.ts); half-precision heads are widened to float32
 * once, the same widening the head kernel applies on the fly.
 */
import * as ort from 'onnxruntime-node';

import { fromHalfBits } from '../kernel/half';
import { GraphBuilder } from '../model/graph/onnx/graph-builder';
import { attr, OnnxDataType } from '../model/graph/onnx/onnx-types';
import { Ops } from '../model/graph/onnx/ops';
import { float32Source } from '../model/graph/onnx/tensor-source';
import { encodeOnnxModel } from '../model/graph/onnx/write-onnx-model';

/** A head matrix as the scoring path holds it (see src/generate/heads.ts). */
export interface HeadMatrix {
  /** `[V x d]` values (float32, or float16/bfloat16 bits). */
  readonly weight: Float32Array | Uint16Array;
  readonly dtype: 'float32' | 'float16' | 'bfloat16';
  /** Optional `[V]` bias of the same element type. */
  readonly bias?: Float32Array | Uint16Array;
}

/** What {@link HeadSession.project} returns. */
export interface HeadProjection {
  /** `[rows x V]` log-probabilities (log-softmax of the logits; as contrast input they equal the logits up to a shift). */
  logProbs: Float32Array;
  /** `[rows]` index of each row's first maximum logit. */
  argMax: BigInt64Array;
}

const widen = (x: Float32Array | Uint16Array, dtype: HeadMatrix['dtype']): Float32Array =>
  dtype === 'float32' ? (x as Float32Array) : fromHalfBits(x as Uint16Array, dtype);

/** One head matrix opened as an ONNX Runtime session; {@link HeadSession.project} runs it. */
export class HeadSession {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  #session: ort.InferenceSession;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(session: ort.InferenceSession, V: number, d: number) {
    this.#session = session;
    this.vocabSize = V;
    this.hiddenSize = d;
  }

  /** Builds and opens the projection for `head` (`threads`: intra-op threads, default ONNX Runtime's choice). */
  static async open(head: HeadMatrix, V: number, d: number, options: { threads?: number } = {}): Promise<HeadSession> {
    if (head.weight.length !== V * d) throw new RangeError(`head matrix holds ${head.weight.length} values, expected ${V} x ${d}`);
    if (head.bias && head.bias.length !== V) throw new RangeError(`head bias holds ${head.bias.length} values, expected ${V}`);
    const g = new GraphBuilder('head_projection');
    const ops = new Ops(g);
    const F = OnnxDataType.FLOAT;
    const x = g.input('hidden', F, ['rows', d]);
    const w = g.initializer('head.weight', float32Source(widen(head.weight, head.dtype), [V, d]));
    const b = head.bias ? g.initializer('head.bias', float32Source(widen(head.bias, head.dtype), [V])) : undefined;
    const logits = ops.gemm(x, w, b, { transB: true });
    // Log-probabilities (ONNX Runtime's vectorised, threaded LogSoftmax: measured faster than ReduceLogSumExp
    // beside the logits) and each row's first arg-max, so a caller reading one token per row needs no pass over V.
    g.node('LogSoftmax', [logits], { axis: attr.int(1) }, { outputs: ['log_probs'] });
    g.output('log_probs', F, ['rows', V]);
    g.node('ArgMax', [logits], { axis: attr.int(1), keepdims: attr.int(0), select_last_index: attr.int(0) }, { outputs: ['arg_max'] });
    g.output('arg_max', OnnxDataType.INT64, ['rows']);
    const bytes = await encodeOnnxModel(g);
    const session = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      interOpNumThreads: 1,
      // As the scoring session: no spinning pool threads between runs on a shared machine.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    return new HeadSession(session, V, d);
  }

  /**
   * `[rows x V]` log-probabilities of `hidden` (`[rows x d]`, row-major) under the head, with each row's first
   * arg-max.
   * Runs are queued, one at a time.
   */
  project(hidden: Float32Array): Promise<HeadProjection> {
    const d = this.hiddenSize;
    if (hidden.length === 0 || hidden.length % d !== 0) {
      return Promise.reject(new RangeError(`hidden holds ${hidden.length} values, not a positive multiple of ${d}`));
    }
    const next = this.#queue.then(async () => {
      const out = await this.#session.run({ hidden: new ort.Tensor('float32', hidden, [hidden.length / d, d]) }, ['log_probs', 'arg_max']);
      return { logProbs: out.log_probs.data as Float32Array, argMax: out.arg_max.data as BigInt64Array };
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Releases the session. */
  async dispose(): Promise<void> {
    await this.#queue.catch(() => undefined);
    await this.#session.release();
  }
}
