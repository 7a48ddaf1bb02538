/**
 * The generation loop over a `DecoderModel`: greedy, top-k, top-p and plain sampling, with or without
 * contrast, and beam search (beam.ts). Token ids in, token ids and per-token log-probabilities out.
 */
import { InvalidArgTypeError, OutOfRangeError } from '../errors';
import { beamSelector } from './beam';
import { decodeLoop } from './loop';
import { resolveOptions, type GenerateOptions, type ResolvedOptions } from './options';
import type { GenerationResult } from './result';
import { rowSelector } from './select';
import type { DecoderModel } from './session';

export type { FinishReason, GeneratedSequence, GenerationResult } from './result';

function checkPrompts(prompts: number[][], vocab: number): void {
  if (!Array.isArray(prompts) || prompts.length === 0) throw new InvalidArgTypeError('Expected at least one prompt (an array of token-id arrays)');
  prompts.forEach((p, i) => {
    if (!Array.isArray(p) || p.length === 0) throw new OutOfRangeError(`Prompt ${i} is empty: it needs at least one token`);
    for (const t of p) if (!Number.isInteger(t) || t < 0 || t >= vocab) throw new OutOfRangeError(`Prompt ${i} has token ${t}, outside [0, ${vocab})`);
  });
}

/** Generates continuations of `prompts` (token ids) with `model`. */
export async function generateTokens(model: DecoderModel, prompts: number[][], options: GenerateOptions = {}): Promise<GenerationResult> {
  return decodeResolved(model, prompts, resolveOptions(options, model.eosTokenId));
}

/** {@link generateTokens} with options already resolved (the text level resolves once, then calls this). */
export async function decodeResolved(model: DecoderModel, prompts: number[][], o: ResolvedOptions): Promise<GenerationResult> {
  checkPrompts(prompts, model.vocabSize);
  const selector = o.strategy === 'beam' ? beamSelector(prompts, o, model.vocabSize) : rowSelector(prompts, o, model.vocabSize);
  return decodeLoop(model, o, selector);
}
