/**
 * AdamW (Loshchilov & Hutter) with the defaults of PyTorch / Hugging Face's Trainer (betas 0.9 / 0.999, eps 1e-8,
 * decoupled weight decay) and a linear decay of the learning rate to 0 over the run, as Appendix A of Gera et al.
 * trains the exit heads.
 */

/** Optimiser settings. */
export interface AdamWOptions {
  /** Peak learning rate. */
  readonly lr: number;
  /** Decoupled weight decay (default 0, the Trainer's default). */
  readonly weightDecay?: number;
  /** Default 0.9. */
  readonly beta1?: number;
  /** Default 0.999. */
  readonly beta2?: number;
  /** Default 1e-8. */
  readonly eps?: number;
}

/** Learning rate of step `step` (1-based) of `total` with linear decay from `lr` to 0. */
export function linearDecay(lr: number, step: number, total: number): number {
  return lr * Math.max(0, (total - step + 1) / total);
}

/** One parameter tensor with its moment estimates. */
export class AdamWParam {
  /** First moments. */
  readonly m: Float32Array;
  /** Second moments. */
  readonly v: Float32Array;
  /** @param value the parameter (updated in place) */
  constructor(readonly value: Float32Array) {
    this.m = new Float32Array(value.length);
    this.v = new Float32Array(value.length);
  }

  /**
   * Applies step `t` (1-based) with gradient `grad` scaled by `scale` (e.g. 1 / rows of the batch) and learning
   * rate `lr`.
   */
  step(grad: Float32Array, scale: number, t: number, lr: number, o: AdamWOptions): void {
    const b1 = o.beta1 ?? 0.9;
    const b2 = o.beta2 ?? 0.999;
    const eps = o.eps ?? 1e-8;
    const decay = 1 - lr * (o.weightDecay ?? 0);
    const c1 = 1 / (1 - b1 ** t);
    const c2 = 1 / (1 - b2 ** t);
    const { value: p, m, v } = this;
    for (let i = 0; i < p.length; i++) {
      const gi = grad[i] * scale;
      const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
      const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
      p[i] = p[i] * decay - (lr * (mi * c1)) / (Math.sqrt(vi * c2) + eps);
    }
  }
}
