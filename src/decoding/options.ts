/**
 * Options of `generateTokens` (token ids in, token ids out). Their meanings, defaults and checks are those of
 * the one generation configuration (src/config/generation.ts); this file only adds what the token level has
 * of its own: the contrast as an object (the amateur layer is required here: there is no model folder to pick
 * a default from), the end-of-sequence ids and the callbacks.
 */
import { API_ONLY_OPTIONS, GENERATION_OPTIONS, resolveGeneration, type ContrastConfig, type ContrastMode, type GenerationOptionValues, type OptionDef, type OptionName, type ResolvedGeneration, type Strategy } from '../config/generation';
import { InvalidArgTypeError } from '../errors';
import type { LogitsProcessor } from './processors';

export type { Strategy };

/**
 * Auto-contrast settings of `generateTokens`: the exit layer whose logits are the amateur (1-based block index;
 * see docs/model-format.md) and the configuration's contrast settings (mode, alpha, minCandidates, beta; their
 * meanings and defaults in `GENERATION_OPTIONS`). `false` (the default) decodes plainly from the expert.
 */
export type ContrastSettings = ({ amateurLayer: number } | { amateurLayer?: 'auto'; dolaLayers: number[] }) & Partial<ContrastConfig>;

/** The configuration's options that the token level consumes (groups sampling, beam, length), as a type. */
type TokenKeys = {
  [K in OptionName]: (typeof GENERATION_OPTIONS)[K]['group'] extends 'sampling' | 'beam' | 'length' ? K : never;
}[OptionName] &
  keyof ResolvedGeneration;

/** Options of `generateTokens`: the generation configuration's decoding options, plus callbacks. */
export interface GenerateOptions extends Pick<GenerationOptionValues, TokenKeys> {
  contrast?: ContrastSettings | false;
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

/**
 * The groups of the configuration that the token level consumes (the others, contrast choice of layers,
 * expert, stopping strings and prompt handling, need the model folder and are the text level's).
 */
const TOKEN_GROUPS: readonly OptionDef['group'][] = ['sampling', 'beam', 'length'];

/** The configuration's options the token level takes, derived from the table (a new one needs no edit here). */
export const TOKEN_LEVEL_OPTIONS = (Object.keys(GENERATION_OPTIONS) as OptionName[]).filter((k) => TOKEN_GROUPS.includes(GENERATION_OPTIONS[k].group));

/** The token-level options of a resolved configuration. */
export type TokenLevel = Pick<ResolvedGeneration, TokenKeys>;

/** Picks the token-level options out of a resolved configuration. */
export function tokenLevel(r: ResolvedGeneration): TokenLevel {
  const out: Record<string, unknown> = {};
  for (const k of TOKEN_LEVEL_OPTIONS) out[k] = r[k as keyof ResolvedGeneration];
  return out as unknown as TokenLevel;
}

/** Resolved contrast of the token level: the kernel's settings and the exit to read the amateur from. */
export type ResolvedContrast = ContrastConfig & (
  /** A fixed amateur exit. */
  | { amateurLayer: number; candidates?: undefined }
  /** The amateur / premature layer chosen per step among these (mode 'dola', or amateurLayer 'auto'). */
  | { amateurLayer?: undefined; candidates: readonly number[] }
);

/** Options with defaults filled in, checked. */
export type ResolvedOptions = TokenLevel & {
  contrast: ResolvedContrast | false;
  eos: number[];
  processors: LogitsProcessor[];
  stopWhen?: GenerateOptions['stopWhen'];
  signal?: AbortSignal;
  onToken?: GenerateOptions['onToken'];
};

/** Callbacks and token-level fields, checked here (they are not in the configuration table). */
export function resolveCallbacks(o: Pick<GenerateOptions, 'eosTokenId' | 'processors' | 'stopWhen' | 'signal' | 'onToken'>, modelEos?: number): Pick<ResolvedOptions, 'eos' | 'processors' | 'stopWhen' | 'signal' | 'onToken'> {
  const eosIn = o.eosTokenId ?? modelEos;
  const eos = eosIn === undefined ? [] : Array.isArray(eosIn) ? eosIn : [eosIn];
  eos.forEach((e, i) => {
    if (!Number.isInteger(e) || e < 0) throw new InvalidArgTypeError(`Expected eosTokenId[${i}] to be an integer >= 0 but received ${String(e)}`, 'eosTokenId');
  });
  if (o.processors !== undefined && !Array.isArray(o.processors)) throw new InvalidArgTypeError('Expected processors to be an array of { name, process(scores, ctx) }', 'processors');
  for (const p of o.processors ?? []) {
    if (!p || typeof p.process !== 'function') throw new InvalidArgTypeError('Expected each processor to have a process(scores, ctx) method', 'processors');
  }
  for (const k of ['stopWhen', 'onToken'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw new InvalidArgTypeError(`Expected ${k} to be a function`, k);
  }
  return { eos, processors: o.processors ?? [], stopWhen: o.stopWhen, signal: o.signal, onToken: o.onToken };
}

const TOKEN_LEVEL = new Set<string>([...TOKEN_LEVEL_OPTIONS, ...API_ONLY_OPTIONS]);
/** The keys of `contrast: { ... }`: the configuration's contrast settings, the amateur layer included. */
const CONTRAST_KEYS: readonly string[] = (Object.keys(GENERATION_OPTIONS) as OptionName[]).filter(
  (k) => GENERATION_OPTIONS[k].group === 'contrast' && k !== 'contrast' && k !== 'amateurPath',
);

/** Fills defaults and rejects unknown, out-of-range or contradictory options with a clear, coded error. */
export function resolveOptions(o: GenerateOptions = {}, modelEos?: number): ResolvedOptions {
  if (o === null || typeof o !== 'object') throw new InvalidArgTypeError('Expected options to be an object');
  const { contrast, ...rest } = o;
  for (const k of Object.keys(rest)) if (!TOKEN_LEVEL.has(k)) throw new InvalidArgTypeError(`Unknown generation option '${k}'`, k);
  if (contrast !== undefined && contrast !== false && (typeof contrast !== 'object' || contrast === null)) {
    throw new InvalidArgTypeError('Expected contrast to be false or { amateurLayer, alpha?, minCandidates?, mode?, beta? }', 'contrast');
  }
  const selecting = !!contrast && (contrast.mode === 'dola' || contrast.amateurLayer === 'auto');
  if (contrast && !selecting && contrast.amateurLayer === undefined) throw new InvalidArgTypeError('Expected contrast.amateurLayer to be an integer but received undefined', 'amateurLayer');
  if (selecting && !Array.isArray((contrast as { dolaLayers?: unknown }).dolaLayers)) {
    throw new InvalidArgTypeError("Expected contrast.dolaLayers to be an array of layer numbers (the buckets 'low' / 'high' need a model folder)", 'dolaLayers');
  }
  for (const k of Object.keys(contrast || {})) {
    if (!CONTRAST_KEYS.includes(k)) throw new InvalidArgTypeError(`Unknown contrast option '${k}'`, k);
  }
  // The token level's nested contrast is the configuration's flat contrast fields: one resolve for both.
  const flat = contrast ? { ...rest, contrast: true, ...contrast } : { ...rest, contrast: false };
  const r = resolveGeneration(flat, 'api', API_ONLY_OPTIONS);
  let resolvedContrast: ResolvedContrast | false = false;
  if (r.contrast) {
    const { amateurLayer, dolaLayers, amateurPath: _path, ...settings } = r.contrast;
    resolvedContrast = typeof amateurLayer === 'number' ? { ...settings, amateurLayer } : { ...settings, candidates: dolaLayers as number[] };
  }
  return {
    ...tokenLevel(r),
    contrast: resolvedContrast,
    ...resolveCallbacks(o, modelEos),
  };
}
