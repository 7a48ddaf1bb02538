/**
 * The generation configuration: every option of `generate` / `stream` / `generateTokens` (contrast, sampling,
 * beam search, stopping, prompt handling), its default and its one-line meaning, defined once in
 * {@link GENERATION_OPTIONS}; and {@link resolveGeneration}, the one function that checks a set of options and
 * fills the defaults. The API, the CLI (its flags are generated from this table) and the server use it; the
 * layers below (decoding, kernel, native) receive resolved values and check only what memory safety needs.
 *
 * What needs the model (which exits exist, the vocabulary and context sizes, the default amateur layer) is
 * checked when the model is known, in src/generate (see `planContrast`).
 */
import { InvalidArgTypeError, OutOfRangeError } from '../errors';

/** Decoding strategy. `sample` draws from the whole (processed) distribution. */
export type Strategy = 'greedy' | 'beam' | 'top-k' | 'top-p' | 'sample';
/**
 * `acd` keeps the tail at the expert's probability; `cd` masks it (contrastive decoding); `dola` is DoLa (Chuang
 * et al. 2024): `log p_final - log p_premature` on the plausible head, the premature layer chosen per step.
 */
export type ContrastMode = 'acd' | 'cd' | 'dola';
/** DoLa's candidate premature layers: transformers' buckets `low` / `high`, or layer numbers (0 = embeddings). */
export type DolaLayersChoice = 'low' | 'high' | number[];
/** The repetition penalty DoLa recommends and uses by default in `mode: 'dola'` (Chuang et al. 2024). */
export const DOLA_REPETITION_PENALTY = 1.2;
/**
 * How the candidate layers of mode dola / amateurLayer auto are projected: `exact` (the head's own values) or `int8`
 * (head and hidden states in int8 per block of 32: faster, an approximation, opt-in; its measured deviation is in
 * the README).
 */
export type DolaHeadChoice = 'exact' | 'int8';
/** How the amateur's logits are obtained: `sparse` (exit hidden state x head, head tokens only) or `dense`. */
export type AmateurPathChoice = 'auto' | 'sparse' | 'dense';

/** How a CLI flag maps onto an option. */
export type CliForm =
  /** `--flag VALUE`, parsed as the option's kind. */
  | { readonly flag: string; readonly form: 'value'; readonly meta: string }
  /** `--flag` sets the option to `value`. */
  | { readonly flag: string; readonly form: 'set'; readonly value: unknown }
  /** `--flag TEXT` gives a one-element list. */
  | { readonly flag: string; readonly form: 'list'; readonly meta: string };

/** One option: its kind, bounds, default and meaning. */
export interface OptionDef {
  /** `layers`: `low`, `high` or a list of layer numbers (a comma-separated list on the command line). */
  readonly kind: 'integer' | 'number' | 'boolean' | 'enum' | 'strings' | 'layers';
  /** A word accepted besides numbers (`auto` for amateurLayer). */
  readonly word?: string;
  /** One-line meaning (used in JSDoc, the CLI help and docs/architecture.md). */
  readonly doc: string;
  /** Default when not given (undefined: none, or decided from the model; see `defaultDoc`). */
  readonly default?: number | string | boolean;
  /** How the default is found when it depends on the model or on another option. */
  readonly defaultDoc?: string;
  /** Inclusive bounds of numbers (`minExclusive`: the lower bound itself is not allowed). */
  readonly min?: number;
  readonly max?: number;
  readonly minExclusive?: boolean;
  /** Allowed values of an enum. */
  readonly values?: readonly string[];
  /** The CLI form (null: API only, with the reason in `doc`). */
  readonly cli: CliForm | null;
  /** The request field of the OpenAI-compatible server when it is named otherwise (snake_case). */
  readonly field?: string;
  /** The CLI's own default when it differs from the API's (stated in the help). */
  readonly cliDefault?: number;
  /** Which part of generation consumes it. */
  readonly group: 'contrast' | 'expert' | 'sampling' | 'beam' | 'length' | 'stopping' | 'prompt' | 'execution';
}

/** The default plausibility threshold alpha of the paper (Gera et al. 2023); the native default equals it (tested). */
export const DEFAULT_ALPHA = 0.1;

/** Every scalar generation option, by its API name. */
export const GENERATION_OPTIONS = {
  strategy: { kind: 'enum', values: ['greedy', 'beam', 'top-k', 'top-p', 'sample'], default: 'greedy', doc: 'decoding strategy', cli: { flag: 'strategy', form: 'value', meta: 'S' }, group: 'sampling' },
  maxNewTokens: { field: 'max_tokens', kind: 'integer', min: 1, max: 1_000_000, default: 32, cliDefault: 64, doc: 'tokens to generate at most (capped by the context length)', cli: { flag: 'max-new-tokens', form: 'value', meta: 'N' }, group: 'length' },
  minNewTokens: { field: 'min_tokens', kind: 'integer', min: 0, max: 1_000_000, default: 0, doc: 'end-of-sequence tokens are forbidden before this many tokens', cli: { flag: 'min-new-tokens', form: 'value', meta: 'N' }, group: 'length' },
  contrast: { kind: 'boolean', default: true, doc: 'contrast with an earlier exit (false: plain decoding from the expert)', cli: { flag: 'no-contrast', form: 'set', value: false }, group: 'contrast' },
  mode: { field: 'contrast_mode', kind: 'enum', values: ['acd', 'cd', 'dola'], default: 'acd', doc: 'contrast mode: acd keeps the tail at the expert probability, cd masks it, dola contrasts with a premature layer chosen per step (DoLa)', cli: { flag: 'mode', form: 'value', meta: 'acd|cd|dola' }, group: 'contrast' },
  alpha: { kind: 'number', min: 0, max: 1, default: DEFAULT_ALPHA, doc: 'plausibility threshold: the head keeps tokens with p >= alpha x max p', cli: { flag: 'alpha', form: 'value', meta: 'A' }, group: 'contrast' },
  minCandidates: { field: 'min_candidates', kind: 'integer', min: 1, max: 2 ** 31 - 1, default: 1, doc: 'minimum head size (at most the vocabulary size)', cli: { flag: 'min-candidates', form: 'value', meta: 'N' }, group: 'contrast' },
  beta: { kind: 'number', min: 0, max: 1e6, doc: "cd only: scores (1 + beta) z_e - beta z_a (O'Brien & Lewis); default: log p_e - log p_a", cli: { flag: 'beta', form: 'value', meta: 'B' }, group: 'contrast' },
  amateurLayer: { field: 'amateur_layer', kind: 'integer', word: 'auto', min: 0, max: 100_000, defaultDoc: 'the exit nearest to half the expert layer, below it (the paper: the middle layer)', doc: "exit layer of the amateur, below the expert layer; auto: chosen per step among dolaLayers by divergence (DoLa's rule)", cli: { flag: 'amateur-layer', form: 'value', meta: 'L|auto' }, group: 'contrast' },
  dolaLayers: { field: 'dola_layers', kind: 'layers', defaultDoc: 'high', doc: "candidate layers of mode dola and amateurLayer auto: transformers' buckets low / high (from the layer count) or layer numbers (0: embeddings)", cli: { flag: 'dola-layers', form: 'value', meta: 'low|high|L1,L2' }, group: 'contrast' },
  dolaHead: { field: 'dola_head', kind: 'enum', values: ['exact', 'int8'], default: 'exact', doc: "candidate projection of mode dola and amateurLayer auto: exact (the head's own values) or int8 (head and hidden states in int8 per block of 32: faster, an approximation; the final layer stays exact)", cli: { flag: 'dola-head', form: 'value', meta: 'exact|int8' }, group: 'contrast' },
  amateurPath: { field: 'amateur_path', kind: 'enum', values: ['auto', 'sparse', 'dense'], default: 'auto', doc: 'amateur logits from the exit hidden state x head (sparse, head tokens only) or the exit logits (dense); auto picks sparse when possible', cli: { flag: 'amateur-path', form: 'value', meta: 'P' }, group: 'contrast' },
  expertLayer: { field: 'expert_layer', kind: 'integer', min: 1, max: 100_000, defaultDoc: "the final layer (the model's own logits)", doc: 'layer of the expert: an exit below the last layer decodes from that exit (early exit)', cli: { flag: 'expert-layer', form: 'value', meta: 'L' }, group: 'expert' },
  temperature: { kind: 'number', min: 0, minExclusive: true, max: 1e6, default: 1, doc: 'sampling temperature (sampling strategies)', cli: { flag: 'temperature', form: 'value', meta: 'T' }, group: 'sampling' },
  topK: { field: 'top_k', kind: 'integer', min: 1, max: 2 ** 31 - 1, default: 50, doc: 'for top-k: how many tokens to keep', cli: { flag: 'top-k', form: 'value', meta: 'K' }, group: 'sampling' },
  topP: { field: 'top_p', kind: 'number', min: 0, minExclusive: true, max: 1, default: 0.9, doc: 'for top-p: the nucleus mass', cli: { flag: 'top-p', form: 'value', meta: 'P' }, group: 'sampling' },
  repetitionPenalty: { field: 'repetition_penalty', kind: 'number', min: 0, minExclusive: true, max: 1e6, default: 1, defaultDoc: `1; ${DOLA_REPETITION_PENALTY} with mode dola, as DoLa recommends`, doc: 'divides positive / multiplies negative scores of tokens already present (1: off)', cli: { flag: 'repetition-penalty', form: 'value', meta: 'R' }, group: 'sampling' },
  seed: { kind: 'integer', min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, default: 0, doc: 'seed of the sampling generator (sampling strategies); equal seeds give equal samples', cli: { flag: 'seed', form: 'value', meta: 'S' }, group: 'sampling' },
  numBeams: { kind: 'integer', min: 1, max: 256, defaultDoc: '4 for beam, else 1', doc: 'for beam: beams per prompt', cli: { flag: 'num-beams', form: 'value', meta: 'N' }, group: 'beam' },
  lengthPenalty: { kind: 'number', min: -1e6, max: 1e6, default: 1, doc: 'for beam: hypotheses rank by sum(logProbs) / length ** lengthPenalty', cli: { flag: 'length-penalty', form: 'value', meta: 'X' }, group: 'beam' },
  earlyStopping: { kind: 'boolean', default: false, doc: 'for beam: stop a prompt once numBeams hypotheses ended', cli: { flag: 'early-stopping', form: 'set', value: true }, group: 'beam' },
  numReturnSequences: { kind: 'integer', min: 1, max: 256, default: 1, doc: 'for beam: sequences returned per prompt (at most numBeams)', cli: { flag: 'num-return-sequences', form: 'value', meta: 'N' }, group: 'beam' },
  stopStrings: { field: 'stop', kind: 'strings', doc: "a row stops when its text contains one of these (cut before it); not with beam", cli: { flag: 'stop', form: 'list', meta: 'TEXT' }, group: 'stopping' },
  chatTemplate: { kind: 'enum', values: ['chatml', 'none'], default: 'none', doc: 'wrap text prompts in the ChatML template (SmolLM2-Instruct) or not', cli: { flag: 'chat', form: 'set', value: 'chatml' }, group: 'prompt' },
  addSpecialTokens: { kind: 'boolean', default: true, doc: "let the tokenizer add its special tokens (BOS) to text prompts", cli: { flag: 'no-special-tokens', form: 'set', value: false }, group: 'prompt' },
  deterministic: { kind: 'boolean', default: false, doc: 'the same result bits whatever the batch, its neighbours, the prompt split and the thread count (every row and prompt token runs alone: slower; docs/determinism.md)', cli: { flag: 'deterministic', form: 'set', value: true }, group: 'execution' },
} as const satisfies Record<string, OptionDef>;

/** The name of a scalar option. */
export type OptionName = keyof typeof GENERATION_OPTIONS;

/** Options that are functions or objects: API only (a command line cannot give them). */
export const API_ONLY_OPTIONS = ['eosTokenId', 'processors', 'stopWhen', 'signal', 'onToken'] as const;

/** The contrast options, resolved: what the kernel needs per step. */
export interface ContrastConfig {
  mode: ContrastMode;
  alpha: number;
  minCandidates: number;
  /** CD weighting; absent: the paper's log p_e - log p_a. */
  beta?: number;
  /** A layer chosen per step: how the candidates are projected (absent: `exact`). */
  dolaHead?: DolaHeadChoice;
}

/**
 * How error messages name options: by API field (`alpha`), by CLI flag (`--alpha`) or by the server's request
 * field (`min_candidates`).
 */
export type OptionNaming = 'api' | 'cli' | 'request';

/** The name of `key` as the user wrote it. */
export function optionLabel(key: string, naming: OptionNaming): string {
  if (naming === 'api') return key;
  const def = (GENERATION_OPTIONS as Record<string, OptionDef>)[key];
  if (naming === 'request') return def?.field ?? key;
  return def?.cli ? `--${def.cli.flag}` : key;
}

function show(v: unknown): string {
  if (typeof v === 'string') return `"${v}"`;
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/** What a value of `def` must be, in words (sensible bounds: an open end is not printed). */
export function expectation(def: OptionDef, naming: OptionNaming): string {
  if (def.kind === 'boolean') return 'true or false';
  if (def.kind === 'strings') return 'an array of non-empty strings';
  if (def.kind === 'layers') return naming === 'cli' ? 'low, high or a comma-separated list of layer numbers' : "'low', 'high' or an array of layer numbers";
  if (def.kind === 'enum') {
    const vs = def.values!.map((v) => (naming === 'cli' ? v : `'${v}'`));
    return `one of ${vs.join(', ')}`;
  }
  const what = (def.kind === 'integer' ? 'an integer' : 'a number') + (def.word ? ` or ${naming === 'cli' ? def.word : `'${def.word}'`}` : '');
  const lo = def.min, hi = def.max;
  const open = hi === undefined || hi >= 1_000_000 - 1e-9;
  if (lo !== undefined && !open) return `${what} in ${def.minExclusive ? '(' : '['}${lo}, ${hi}]`;
  if (lo !== undefined && lo > -1e6) return `${what} ${def.minExclusive ? '>' : '>='} ${lo}`;
  return def.kind === 'integer' ? 'an integer' : 'a finite number';
}

/** Checks one value against its definition; returns it. Errors name the option in `naming`. */
export function checkOption(key: OptionName, v: unknown, naming: OptionNaming): unknown {
  const def: OptionDef = GENERATION_OPTIONS[key];
  const name = optionLabel(key, naming);
  const fail = (typeOk: boolean): never => {
    const msg = naming === 'cli' ? `${name} expects ${expectation(def, naming)}, got ${show(v)}`
      : naming === 'request' ? `${name} must be ${expectation(def, naming)}, got ${show(v)}`
        : `Expected ${name} to be ${expectation(def, naming)} but received ${show(v)}`;
    throw typeOk ? new OutOfRangeError(msg, key) : new InvalidArgTypeError(msg, key);
  };
  if (def.word !== undefined && v === def.word) return v;
  switch (def.kind) {
    case 'layers':
      if (v === 'low' || v === 'high') return v;
      if (!Array.isArray(v) || v.length === 0 || v.some((l) => typeof l !== 'number' || !Number.isInteger(l) || l < 0)) fail(Array.isArray(v) && v.length > 0);
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') fail(false);
      return v;
    case 'strings':
      if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s.length === 0)) fail(Array.isArray(v));
      return v;
    case 'enum':
      if (typeof v !== 'string') fail(false);
      if (!def.values!.includes(v as string)) fail(false); // a TypeError, as Node does for a bad enum value
      return v;
    default: {
      if (typeof v !== 'number' || Number.isNaN(v)) fail(false);
      const n = v as number;
      if (def.kind === 'integer' && !Number.isInteger(n)) fail(false);
      if (!Number.isFinite(n)) fail(true);
      if (def.min !== undefined && (def.minExclusive ? !(n > def.min) : n < def.min)) fail(true);
      if (def.max !== undefined && n > def.max) fail(true);
      return n;
    }
  }
}

/** The user-facing options (all optional), as `generate` takes them. */
export interface GenerationOptionValues {
  strategy?: Strategy;
  maxNewTokens?: number;
  minNewTokens?: number;
  contrast?: boolean;
  mode?: ContrastMode;
  alpha?: number;
  minCandidates?: number;
  beta?: number;
  amateurLayer?: number | 'auto';
  dolaLayers?: DolaLayersChoice;
  dolaHead?: DolaHeadChoice;
  amateurPath?: AmateurPathChoice;
  expertLayer?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed?: number;
  numBeams?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean;
  numReturnSequences?: number;
  stopStrings?: string[];
  chatTemplate?: 'chatml' | 'none';
  addSpecialTokens?: boolean;
  deterministic?: boolean;
}

/** Options with defaults filled in and every rule between them checked (the model not yet considered). */
export interface ResolvedGeneration {
  strategy: Strategy;
  maxNewTokens: number;
  minNewTokens: number;
  /** Contrast settings (null: plain decoding). The amateur layer is decided with the model when absent. */
  contrast: (ContrastConfig & { amateurLayer?: number | 'auto'; dolaLayers?: DolaLayersChoice; amateurPath: AmateurPathChoice }) | null;
  expertLayer?: number;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  seed: number;
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: boolean;
  numReturnSequences: number;
  stopStrings: string[];
  chatTemplate: 'chatml' | 'none';
  addSpecialTokens: boolean;
  /** Every row and every prompt token through the model alone (see {@link GENERATION_OPTIONS}.deterministic). */
  deterministic: boolean;
}

const CONTRAST_FIELDS = ['mode', 'alpha', 'minCandidates', 'beta', 'amateurLayer', 'dolaLayers', 'dolaHead', 'amateurPath'] as const;
const SAMPLING: readonly Strategy[] = ['top-k', 'top-p', 'sample'];

/**
 * Checks `options` (unknown keys, types, bounds, and the rules between options) and fills the defaults.
 * `extraKeys` are keys the caller handles itself (functions, objects). Errors are TypeError / RangeError with
 * codes `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` and `option` set, naming options as `naming` says.
 */
export function resolveGeneration(options: object = {}, naming: OptionNaming = 'api', extraKeys: readonly string[] = API_ONLY_OPTIONS): ResolvedGeneration {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InvalidArgTypeError(`Expected options to be an object but received ${show(options)}`);
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(k in GENERATION_OPTIONS) && !extraKeys.includes(k)) throw new InvalidArgTypeError(`Unknown generation option '${k}'`, k);
  }
  const given = (k: OptionName): boolean => o[k] !== undefined;
  const get = <T>(k: OptionName): T | undefined => (given(k) ? (checkOption(k, o[k], naming) as T) : undefined);
  const label = (k: OptionName): string => optionLabel(k, naming);
  // Two options that cannot go together: a TypeError when one of them makes no sense at all with the other
  // (a contrast setting without contrast), a RangeError when a value is out of what the other allows.
  const conflict = (msg: string, k: OptionName, type = false): never => {
    throw type ? new InvalidArgTypeError(msg, k, true) : new OutOfRangeError(msg, k, true);
  };
  const quote = (v: string): string => (naming === 'cli' ? v : `'${v}'`);
  const strategyRule = (k: OptionName, what: string, ok: boolean, strategy: Strategy): void => {
    if (given(k) && !ok) conflict(`${label(k)} is for ${what} (${label('strategy')} is ${quote(strategy)})`, k);
  };

  const strategy = get<Strategy>('strategy') ?? 'greedy';
  const maxNewTokens = get<number>('maxNewTokens') ?? GENERATION_OPTIONS.maxNewTokens.default;
  const minNewTokens = get<number>('minNewTokens') ?? 0;
  if (minNewTokens > maxNewTokens) conflict(`${label('minNewTokens')} (${minNewTokens}) exceeds ${label('maxNewTokens')} (${maxNewTokens})`, 'minNewTokens');
  const sampling = SAMPLING.includes(strategy);
  strategyRule('topK', `${label('strategy')} ${quote('top-k')}`, strategy === 'top-k', strategy);
  strategyRule('topP', `${label('strategy')} ${quote('top-p')}`, strategy === 'top-p', strategy);
  strategyRule('temperature', 'sampling strategies', sampling, strategy);
  strategyRule('seed', 'sampling strategies', sampling, strategy);
  const numBeamsGiven = get<number>('numBeams');
  if (numBeamsGiven !== undefined && numBeamsGiven !== 1) strategyRule('numBeams', `${label('strategy')} ${quote('beam')}`, strategy === 'beam', strategy);
  const numBeams = numBeamsGiven ?? (strategy === 'beam' ? 4 : 1);
  const numReturnSequences = get<number>('numReturnSequences') ?? 1;
  if (numReturnSequences > numBeams) conflict(`${label('numReturnSequences')} (${numReturnSequences}) exceeds ${label('numBeams')} (${numBeams})`, 'numReturnSequences');

  const contrastOn = get<boolean>('contrast') ?? true;
  let contrast: ResolvedGeneration['contrast'] = null;
  if (!contrastOn) {
    for (const k of CONTRAST_FIELDS) {
      if (given(k)) conflict(naming === 'cli' ? `--no-contrast contradicts ${label(k)}` : `${label(k)} was given together with contrast: false (drop one of them)`, k, true);
    }
  } else {
    const mode = get<ContrastMode>('mode') ?? 'acd';
    const beta = get<number>('beta');
    if (beta !== undefined && mode !== 'cd') conflict(`${label('beta')} is for ${label('mode')} ${quote('cd')} (${label('mode')} is ${quote(mode)})`, 'beta', true);
    const amateurLayer = given('amateurLayer') ? get<number | 'auto'>('amateurLayer') : undefined;
    // Layer selection per step: DoLa, or ACD / CD with amateurLayer 'auto'. Its candidates are dolaLayers.
    const selecting = mode === 'dola' || amateurLayer === 'auto';
    if (mode === 'dola' && amateurLayer !== undefined) conflict(`${label('amateurLayer')} is not for ${label('mode')} ${quote('dola')}: DoLa chooses its premature layer per step among ${label('dolaLayers')}`, 'amateurLayer', true);
    if (given('dolaHead') && !selecting) conflict(`${label('dolaHead')} is for ${label('mode')} ${quote('dola')} or ${label('amateurLayer')} ${quote('auto')} (it sets how their candidate layers are projected)`, 'dolaHead', true);
    if (given('dolaLayers') && !selecting) conflict(`${label('dolaLayers')} is for ${label('mode')} ${quote('dola')} or ${label('amateurLayer')} ${quote('auto')}`, 'dolaLayers', true);
    if (selecting && given('amateurPath')) conflict(`${label('amateurPath')} does not apply when the layer is chosen per step (every candidate's logits are projected)`, 'amateurPath', true);
    if (selecting && given('expertLayer')) conflict(`${label('expertLayer')} cannot be combined with a layer chosen per step (the final layer is the mature one)`, 'expertLayer', true);
    contrast = {
      mode,
      alpha: get<number>('alpha') ?? DEFAULT_ALPHA,
      minCandidates: get<number>('minCandidates') ?? 1,
      ...(beta !== undefined ? { beta } : {}),
      ...(amateurLayer !== undefined ? { amateurLayer } : {}),
      ...(selecting ? { dolaLayers: get<DolaLayersChoice>('dolaLayers') ?? 'high', dolaHead: get<DolaHeadChoice>('dolaHead') ?? 'exact' } : {}),
      amateurPath: get<AmateurPathChoice>('amateurPath') ?? 'auto',
    };
  }
  const expertLayer = get<number>('expertLayer');
  if (typeof contrast?.amateurLayer === 'number' && expertLayer !== undefined && contrast.amateurLayer >= expertLayer) {
    conflict(`${label('amateurLayer')} ${contrast.amateurLayer} must be below ${label('expertLayer')} ${expertLayer} (the amateur is the earlier exit)`, 'amateurLayer');
  }
  const stopStrings = get<string[]>('stopStrings') ?? [];
  if (stopStrings.length && strategy === 'beam') conflict(`${label('stopStrings')} are not supported with beam search (rows are beams, not prompts)`, 'stopStrings');
  return {
    strategy,
    maxNewTokens,
    minNewTokens,
    contrast,
    ...(expertLayer !== undefined ? { expertLayer } : {}),
    temperature: get<number>('temperature') ?? 1,
    topK: get<number>('topK') ?? 50,
    topP: get<number>('topP') ?? 0.9,
    repetitionPenalty: get<number>('repetitionPenalty') ?? (contrast?.mode === 'dola' ? DOLA_REPETITION_PENALTY : 1),
    seed: get<number>('seed') ?? 0,
    numBeams,
    lengthPenalty: get<number>('lengthPenalty') ?? 1,
    earlyStopping: get<boolean>('earlyStopping') ?? false,
    numReturnSequences,
    stopStrings,
    chatTemplate: get<'chatml' | 'none'>('chatTemplate') ?? 'none',
    addSpecialTokens: get<boolean>('addSpecialTokens') ?? true,
    deterministic: get<boolean>('deterministic') ?? false,
  };
}
