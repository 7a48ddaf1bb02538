/** Generation options, their defaults and their validation. */
import type { LogitsProcessor } from './processors';

/** Decoding strategy. `sample` draws from the whole (processed) distribution. */
export type Strategy = 'greedy' | 'beam' | 'top-k' | 'top-p' | 'sample';

/** Auto-contrast settings; `false` (or no `amateurLayer`) decodes plainly from the expert. */
export interface ContrastSettings {
  /** The exit layer whose logits are the amateur (1-based block index; see docs/model-format.md). */
  amateurLayer: number;
  /** Plausibility threshold in [0, 1]; default 0.1. */
  alpha?: number;
  /** Minimum head size; default 1. */
  minCandidates?: number;
  /** `acd` (default) keeps the tail at the expert's probability; `cd` masks it. */
  mode?: 'acd' | 'cd';
  /** O'Brien & Lewis weighting, see `cdScores`. */
  beta?: number;
}

/** Options of `generateTokens`. */
export interface GenerateOptions {
  strategy?: Strategy;
  /** Maximum number of generated tokens; default 32. */
  maxNewTokens?: number;
  /** End-of-sequence tokens are forbidden before this many tokens; default 0. */
  minNewTokens?: number;
  contrast?: ContrastSettings | false;
  /** Sampling temperature (> 0); default 1. */
  temperature?: number;
  /** For `top-k`: how many tokens to keep; default 50. */
  topK?: number;
  /** For `top-p`: the nucleus mass in (0, 1]; default 0.9. */
  topP?: number;
  /** > 0; 1 (default) is off. */
  repetitionPenalty?: number;
  /** Seed of the sampling generator; equal seeds give equal samples. Default 0. */
  seed?: number;
  /** Beam search: beams per prompt (default 4), length penalty exponent (default 1), early stopping (default false). */
  numBeams?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean;
  /** Beam search: how many sequences to return per prompt (default 1, at most numBeams). */
  numReturnSequences?: number;
  /** End-of-sequence token(s); default: the model's. */
  eosTokenId?: number | number[];
  /** Extra processors, run after the built-in ones (repetition penalty, temperature, top-k/top-p). */
  processors?: LogitsProcessor[];
  /** Called after each step with the new token of each running row; return true to stop that row. */
  stopWhen?: (row: number, tokens: readonly number[]) => boolean;
  /** Aborts generation: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called with each generated token (streaming). */
  onToken?: (row: number, token: number) => void;
}

const STRATEGIES: readonly Strategy[] = ['greedy', 'beam', 'top-k', 'top-p', 'sample'];
const KNOWN = new Set([
  'strategy', 'maxNewTokens', 'minNewTokens', 'contrast', 'temperature', 'topK', 'topP', 'repetitionPenalty', 'seed',
  'numBeams', 'lengthPenalty', 'earlyStopping', 'numReturnSequences', 'eosTokenId', 'processors', 'stopWhen', 'signal',
  'onToken',
]);

function int(name: string, v: unknown, lo: number, hi = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`Expected ${name} to be an integer but received ${String(v)}`);
  if (v < lo || v > hi) throw new RangeError(`Expected ${name} in [${lo}, ${hi}] but received ${v}`);
  return v;
}

/** Options with defaults filled in, checked. */
export type ResolvedOptions = Required<Omit<GenerateOptions, 'contrast' | 'processors' | 'stopWhen' | 'signal' | 'onToken' | 'eosTokenId'>> & {
  contrast: ContrastSettings | false;
  eos: number[];
  processors: LogitsProcessor[];
  stopWhen?: GenerateOptions['stopWhen'];
  signal?: AbortSignal;
  onToken?: GenerateOptions['onToken'];
};

/** Fills defaults and rejects unknown, out-of-range or contradictory options with a clear error. */
export function resolveOptions(o: GenerateOptions = {}, modelEos?: number): ResolvedOptions {
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw new TypeError(`Unknown generation option '${k}'`);
  const strategy = o.strategy ?? 'greedy';
  if (!STRATEGIES.includes(strategy)) throw new TypeError(`Expected strategy to be one of ${STRATEGIES.join(', ')} but received '${String(strategy)}'`);
  const maxNewTokens = int('maxNewTokens', o.maxNewTokens ?? 32, 1);
  const minNewTokens = int('minNewTokens', o.minNewTokens ?? 0, 0);
  if (minNewTokens > maxNewTokens) throw new RangeError(`minNewTokens (${minNewTokens}) exceeds maxNewTokens (${maxNewTokens})`);
  const numBeams = int('numBeams', o.numBeams ?? (strategy === 'beam' ? 4 : 1), 1, 256);
  if (strategy !== 'beam' && o.numBeams !== undefined && o.numBeams !== 1)
    throw new RangeError(`numBeams is for strategy 'beam' (strategy is '${strategy}')`);
  const numReturnSequences = int('numReturnSequences', o.numReturnSequences ?? 1, 1, numBeams);
  if (o.topK !== undefined && strategy !== 'top-k') throw new RangeError(`topK is for strategy 'top-k' (strategy is '${strategy}')`);
  if (o.topP !== undefined && strategy !== 'top-p') throw new RangeError(`topP is for strategy 'top-p' (strategy is '${strategy}')`);
  const sampling = strategy === 'top-k' || strategy === 'top-p' || strategy === 'sample';
  if (o.temperature !== undefined && !sampling) throw new RangeError(`temperature is for sampling strategies (strategy is '${strategy}')`);
  if (o.seed !== undefined && !sampling) throw new RangeError(`seed is for sampling strategies (strategy is '${strategy}')`);
  const temperature = o.temperature ?? 1;
  if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature)) throw new RangeError(`Expected temperature > 0 but received ${temperature}`);
  const repetitionPenalty = o.repetitionPenalty ?? 1;
  if (typeof repetitionPenalty !== 'number' || !(repetitionPenalty > 0) || !Number.isFinite(repetitionPenalty))
    throw new RangeError(`Expected repetitionPenalty > 0 but received ${repetitionPenalty}`);
  const topK = int('topK', o.topK ?? 50, 1);
  const topP = o.topP ?? 0.9;
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) throw new RangeError(`Expected topP in (0, 1] but received ${topP}`);
  const lengthPenalty = o.lengthPenalty ?? 1;
  if (typeof lengthPenalty !== 'number' || !Number.isFinite(lengthPenalty)) throw new RangeError(`Expected lengthPenalty to be finite but received ${lengthPenalty}`);
  let contrast: ContrastSettings | false = o.contrast ?? false;
  if (contrast !== false) {
    if (typeof contrast !== 'object' || contrast === null) throw new TypeError('Expected contrast to be false or { amateurLayer, alpha?, minCandidates?, mode?, beta? }');
    int('contrast.amateurLayer', contrast.amateurLayer, 0);
    if (contrast.mode !== undefined && contrast.mode !== 'acd' && contrast.mode !== 'cd') throw new TypeError(`Expected contrast.mode 'acd' or 'cd' but received '${String(contrast.mode)}'`);
    contrast = { ...contrast };
  }
  const eosIn = o.eosTokenId ?? modelEos;
  const eos = eosIn === undefined ? [] : Array.isArray(eosIn) ? eosIn : [eosIn];
  eos.forEach((e, i) => int(`eosTokenId[${i}]`, e, 0));
  if (o.processors !== undefined && !Array.isArray(o.processors)) throw new TypeError('Expected processors to be an array of { name, process(scores, ctx) }');
  for (const p of o.processors ?? [])
    if (!p || typeof p.process !== 'function') throw new TypeError('Expected each processor to have a process(scores, ctx) method');
  return {
    strategy, maxNewTokens, minNewTokens, contrast, temperature, topK, topP, repetitionPenalty, seed: o.seed ?? 0,
    numBeams, lengthPenalty, earlyStopping: o.earlyStopping ?? false, numReturnSequences, eos,
    processors: o.processors ?? [], stopWhen: o.stopWhen, signal: o.signal, onToken: o.onToken,
  };
}
