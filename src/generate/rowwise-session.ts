/**
 * Deterministic decoding (`deterministic: true`): a batch of B rows run as B sessions of one row each, every
 * prompt fed one token per model run.
 *
 * Why: ONNX Runtime picks its kernels by the shape of a run. A 4-bit MatMulNBits product with one activation row
 * (M = 1) runs a dedicated kernel whose sums are ordered differently from the dequantise-then-SGEMM kernel used
 * for M >= 2, and the attention of a multi-token prefill (GroupQueryAttention: Q·Kᵀ and P·V as matrix products
 * over all new positions, softmax over padded rows) differs from the one-token attention of a decode step; left
 * padding also moves where a row's keys sit in the softmax's vector lanes. So a row's logits shift by ~1e-4 with
 * its batch size, its neighbours' lengths and where its prompt was split. When every run has exactly one row
 * and one new token, every row's computation is the same sequence of kernels on the same shapes, whatever the
 * batch: its outputs are the same bits. (Thread counts already give the same bits: ONNX Runtime splits these
 * kernels over output columns and heads, never over a sum; docs/determinism.md has the measurements.)
 */
import { OutOfRangeError } from '../errors';
import type { DecoderSession, StepOutput } from '../decoding/session';

/** A session of one row that can hand its state (KV cache) to a fresh one (for beam reordering). */
export interface RowSession extends DecoderSession {
  /** A new one-row session holding a copy of this one's state. */
  fork(): Promise<RowSession>;
}

/** Copies one row's outputs into row `b` of batch-wide buffers (allocated on first use). */
class Gather {
  #out?: StepOutput;
  constructor(readonly rows: number) {}

  put(b: number, o: StepOutput): void {
    const n = this.rows;
    this.#out ??= (() => {
      const hidden = o.candidates?.hidden ?? [];
      // Plain arrays: the contrast kernels' results do not depend on where a row sits in memory (lanes are
      // assigned by index in the row; native/kernels/head_ops.inc).
      const [expert, amateur, amateurHidden, finalHidden, ...candidates] = [
        n * o.expert.length,
        n * (o.amateur?.length ?? 0),
        n * (o.amateurHidden?.hidden.length ?? 0),
        n * (o.candidates?.finalHidden?.length ?? 0),
        ...hidden.map((h) => n * h.length),
      ].map((len) => new Float32Array(len));
      return {
        expert,
        ...(o.amateur ? { amateur } : {}),
        ...(o.amateurHidden ? { amateurHidden: { ...o.amateurHidden, hidden: amateurHidden } } : {}),
        ...(o.candidates ? { candidates: { ...o.candidates, hidden: candidates, ...(o.candidates.finalHidden ? { finalHidden } : {}) } } : {}),
      };
    })();
    const out = this.#out;
    const copy = (to: Float32Array | undefined, from: Float32Array | undefined) => {
      if (to && from) to.set(from, b * from.length);
    };
    copy(out.expert, o.expert);
    copy(out.amateur, o.amateur);
    copy(out.amateurHidden?.hidden, o.amateurHidden?.hidden);
    o.candidates?.hidden.forEach((h, i) => copy(out.candidates!.hidden[i], h));
    copy(out.candidates?.finalHidden, o.candidates?.finalHidden);
  }

  get output(): StepOutput {
    return this.#out!;
  }
}

/** A {@link DecoderSession} of B rows made of B one-row sessions (see the file comment). */
export class RowwiseSession implements DecoderSession {
  readonly vocabSize: number;
  #rows: RowSession[];
  #gather: Gather;
  #parents?: number[];

  /** @param rows one fresh (not yet prefilled) one-row session per row */
  constructor(rows: RowSession[], vocabSize: number) {
    if (rows.length < 1) throw new OutOfRangeError('a rowwise session needs at least one row');
    this.#rows = rows;
    this.vocabSize = vocabSize;
    this.#gather = new Gather(rows.length);
  }

  async prefill(prompts: number[][]): Promise<StepOutput> {
    if (prompts.length !== this.#rows.length) throw new OutOfRangeError(`prefill expects ${this.#rows.length} prompts (the batch size), got ${prompts.length}`);
    prompts.forEach((p, b) => {
      if (p.length === 0) throw new OutOfRangeError(`prompt ${b} is empty`);
    });
    // Rows run concurrently (ONNX Runtime splits each run's work by its thread count, not by which threads are
    // free, so concurrency does not change a row's bits); a row's tokens run one after the other.
    const outs = await Promise.all(
      this.#rows.map(async (row, b) => {
        const p = prompts[b];
        let o = await row.prefill([[p[0]]]);
        for (let t = 1; t < p.length; t++) o = await row.step([p[t]]);
        return o;
      }),
    );
    outs.forEach((o, b) => this.#gather.put(b, o));
    return this.#gather.output;
  }

  async step(tokens: number[]): Promise<StepOutput> {
    if (tokens.length !== this.#rows.length) throw new OutOfRangeError(`step expects one token per row (${this.#rows.length}), got ${tokens.length}`);
    await this.#applyReorder();
    const outs = await Promise.all(this.#rows.map((row, b) => row.step([tokens[b]])));
    outs.forEach((o, b) => this.#gather.put(b, o));
    return this.#gather.output;
  }

  reorder(parents: number[]): void {
    const B = this.#rows.length;
    if (parents.length !== B) throw new OutOfRangeError(`reorder expects one parent per row (${B}), got ${parents.length}`);
    parents.forEach((p, b) => {
      if (!Number.isInteger(p) || p < 0 || p >= B) throw new OutOfRangeError(`parent ${p} of row ${b} is outside [0, ${B})`);
    });
    // compose with a reorder not yet applied: new row b continues old row pending[parents[b]]
    this.#parents = this.#parents ? parents.map((p) => this.#parents![p]) : parents.slice();
  }

  /** Rows whose parent is another row get a fork of it; rows nobody continues are released. */
  async #applyReorder(): Promise<void> {
    const parents = this.#parents;
    if (!parents) return;
    this.#parents = undefined;
    const old = this.#rows;
    const next: RowSession[] = [];
    // one at a time: a fork reads its source's cache, and a session serves one call at a time
    for (let b = 0; b < parents.length; b++) next.push(parents[b] === b ? old[b] : await old[parents[b]].fork());
    old.forEach((s, b) => {
      if (parents[b] !== b) s.dispose();
    });
    this.#rows = next;
  }

  dispose(): void {
    for (const s of this.#rows) s.dispose();
  }
}
