/**
 * The computation of a fitted exit's hidden state (the vector its head multiplies), shared by the graph written
 * into the model folder, the training steps and the validation scores, so that all three compute the same thing:
 *
 * - `head`: `finalNorm(h_L)`; the exit's own head `W_L` (+ bias) multiplies it (Appendix A of Gera et al.).
 * - `lens` / `linear`: `finalNorm(h_L A^T + b)` (an affine translator on the residual before the final norm:
 *   Belrose et al.'s tuned lens; Din et al.'s linear shortcut), then the model's own head.
 */
import { layerNorm, rmsNorm } from '../model/graph/layers';
import type { Ops } from '../model/graph/onnx/ops';
import type { FinalNorm } from './graph-taps';

/** Fitting methods. */
export type FitMethod = 'head' | 'lens' | 'linear';

/** Names of the final norm's weights inside the graph being built. */
export interface NormNames {
  readonly weight: string;
  readonly bias?: string;
}

/** Applies the model's final norm to `x` (`[..., d]`). */
export function applyFinalNorm(ops: Ops, norm: FinalNorm, names: NormNames, x: string, out?: string): string {
  if (norm.kind === 'layer') {
    if (!names.bias) throw new Error('LayerNorm needs its bias');
    return layerNorm(ops, x, names.weight, names.bias, norm.epsilon, out);
  }
  return rmsNorm(ops, x, names.weight, norm.epsilon, out);
}

/**
 * The exit's hidden state from the residual `h`: the final norm, after the translator `h A^T + b` when
 * `translator` is given (`At` is `A^T`, `[d, d]`, input x output).
 */
export function exitHidden(ops: Ops, norm: FinalNorm, names: NormNames, h: string, translator?: { At: string; b: string }, out?: string): string {
  const x = translator ? ops.add(ops.matMul(h, translator.At), translator.b) : h;
  return applyFinalNorm(ops, norm, names, x, out);
}
