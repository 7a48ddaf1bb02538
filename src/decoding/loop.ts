/**
 * The one decode loop: session creation, prefill, then per step the pipeline (./pipeline.ts) and a selector
 * that picks the next token of each row (and, for beam search, the row each continues). Abort, timing and
 * disposal happen here and nowhere else; strategies differ only in their {@link Selector}.
 */
import { envValue } from '../config/env';
import { AutocontrastError } from '../errors';
import type { ResolvedOptions } from './options';
import { contrastStep, fusedSelection } from './pipeline';
import type { GeneratedSequence, GenerationResult } from './result';
import type { DecoderModel, DecoderSession, FusedSelection } from './session';

/** What a selector decides after one step. */
export interface Selection {
  /** The next token of every row (rows that finished get a filler token; their outputs are ignored). */
  tokens: number[];
  /** Beam search: row i continues former row `parents[i]` (the session reorders its cache). */
  parents?: number[];
  /** Every row finished: no further step. */
  done: boolean;
}

/** A strategy's last stage: from the step's log-probabilities to the next tokens, and the final sequences. */
export interface Selector {
  /** The rows the session decodes (prompts, or prompts x beams), as prefill inputs. */
  readonly rows: number[][];
  /** Chooses the next tokens from `logProbs` (`[rows x V]`, contrasted and normalised; may be rewritten). */
  select(logProbs: Float32Array, step: number): Selection;
  /** The sequences generated, per prompt. */
  finish(): GeneratedSequence[][];
  /**
   * Row selectors: takes the tokens (and log-probabilities) the fused native step selected with the same chain,
   * instead of selecting from a distribution.
   */
  accept?(tokens: ArrayLike<number>, logProbs: ArrayLike<number>, step: number): Selection;
}

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason ?? new AutocontrastError('AC_ABORTED', 'Generation aborted');
}

/**
 * The fused path's steps run natively back to back (the session's `fused.loop`): every selection reaches
 * `selector.accept` in order, after the same abort check as the step-by-step fused path. Once the selector is
 * done (or the step budget is spent) the native loop is told to stop and what it made after that point is
 * ignored, so the result equals the step-by-step path's token for token (test/generate/fused-loop.test.mjs).
 * An abort stops the native loop at once (before its next step) and throws the signal's reason.
 */
async function fusedLoop(session: DecoderSession, o: ResolvedOptions, fused: FusedSelection, selector: Selector, t0: number): Promise<{ steps: number; prefillMs: number }> {
  let steps = 0, prefillMs = 0, ended = false;
  let failure: { error: unknown } | undefined;
  const stop = () => session.fused!.stop?.();
  o.signal?.addEventListener('abort', stop);
  try {
    const limits = { maxSteps: o.maxNewTokens, eos: o.eos, filler: o.eos[0] ?? 0 };
    await session.fused!.loop!(selector.rows, fused, limits, (picked, step) => {
      if (ended) return true;
      if (step === 0) prefillMs = performance.now() - t0;
      try {
        checkAbort(o.signal);
        const sel = selector.accept!(picked.tokens, picked.logProbs, step);
        steps++;
        ended = sel.done || step === o.maxNewTokens - 1;
      } catch (e) {
        failure = { error: e };
        ended = true;
      }
      return ended;
    });
  } finally {
    o.signal?.removeEventListener('abort', stop);
  }
  if (failure) throw failure.error;
  if (!ended) {
    checkAbort(o.signal);
    throw new AutocontrastError('AC_INVALID_STATE', 'the fused decode loop ended before the selector was done');
  }
  return { steps, prefillMs };
}

/** Runs `selector` on `model` until it is done or `o.maxNewTokens` steps were taken. */
export async function decodeLoop(model: DecoderModel, o: ResolvedOptions, selector: Selector): Promise<GenerationResult> {
  const V = model.vocabSize;
  const rows = selector.rows;
  const amateurLayer = o.contrast === false ? undefined : o.contrast.amateurLayer;
  const candidates = o.contrast === false ? undefined : o.contrast.candidates;
  const maxLength = Math.max(...rows.map((p) => p.length)) + o.maxNewTokens;
  const session = await model.createSession({ rows: rows.length, amateurLayer, ...(candidates ? { candidates } : {}), maxLength });
  // A layer chosen per step: the layer of every row at every step (reported per generated token).
  const chosen = candidates ? new Int32Array(rows.length) : undefined;
  const layersPerStep: Int32Array[] = [];
  // DoLa's scores reach the processors unnormalised, as in transformers (its repetition penalty divides positive
  // scores); the row selectors report their log-softmax. Beam search sums log-probabilities: normalised.
  const raw = o.contrast !== false && o.contrast.mode === 'dola' && o.strategy !== 'beam';
  const t0 = performance.now();
  let prefillMs = 0, steps = 0;
  // The fused native step when the session has one and the chain allows it (./pipeline.ts); else the chain.
  const fused = session.fused && selector.accept ? fusedSelection(o) : null;
  try {
    checkAbort(o.signal);
    if (fused && session.fused!.loop && envValue('AUTOCONTRAST_FUSED') !== 'step' && o.maxNewTokens >= 1) {
      ({ steps, prefillMs } = await fusedLoop(session, o, fused, selector, t0));
    } else if (fused) {
      let picked = await session.fused!.prefill(rows, fused);
      prefillMs = performance.now() - t0;
      for (let step = 0; step < o.maxNewTokens; step++) {
        checkAbort(o.signal);
        const sel = selector.accept!(picked.tokens, picked.logProbs, step);
        steps++;
        if (sel.done || step === o.maxNewTokens - 1) break;
        picked = await session.fused!.step(sel.tokens, fused);
      }
    } else {
      // The step's distributions ([rows x V]); the fused step keeps them in native memory and needs none.
      const lp = new Float32Array(rows.length * V);
      let out = await session.prefill(rows);
      prefillMs = performance.now() - t0;
      for (let step = 0; step < o.maxNewTokens; step++) {
        checkAbort(o.signal);
        await contrastStep(out, V, o.contrast, lp, { ...(chosen ? { layers: chosen } : {}), raw });
        if (chosen) layersPerStep.push(chosen.slice());
        const sel = selector.select(lp, step);
        steps++;
        if (sel.done || step === o.maxNewTokens - 1) break;
        if (sel.parents) session.reorder(sel.parents);
        out = await session.step(sel.tokens);
      }
    }
  } finally {
    session.dispose();
  }
  const sequences = selector.finish();
  // Rows are prompts for every strategy but beam search (whose rows are beams): each row's layers, one per token.
  if (chosen && o.strategy !== 'beam') {
    sequences.forEach((seqs, p) => {
      for (const s of seqs) s.amateurLayers = layersPerStep.slice(0, s.tokens.length).map((a) => a[p]);
    });
  }
  return { sequences, timing: { prefillMs, decodeMs: performance.now() - t0 - prefillMs, steps, fused: fused !== null } };
}
