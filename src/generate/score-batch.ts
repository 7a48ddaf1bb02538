/**
 * The scoring fast path: log-probabilities of given tokens under the expert, under each requested exit alone,
 * and under the contrasted distribution for each requested amateur layer, all from ONE forward run per batch
 * of texts (src/runtime's scoring session). The exits' hidden states at the scored positions come out of the
 * same run; their logits are projected here with the native head kernel (the head matrix is loaded once and
 * shared by every logit-lens exit), and the contrast kernel contrasts each amateur with the expert: densely
 * when that exit's logits are computed anyway, else sparsely (amateur logits of the head tokens only).
 *
 * Per scored token it also says whether the token is the arg-max of that distribution (the first maximum, as
 * `torch.argmax`), which LAMBADA-style accuracy needs.
 */
import { DEFAULT_ALPHA } from '../config/generation';
import { logSoftmaxInPlace } from '../decoding/processors';
import { acdLogProbs, acdLogProbsSparse, cdScores, cdScoresSparse, dolaContrastAsync, type DolaHead } from '../kernel';
import { HeadSession } from '../runtime/head-session';
import { ScoringSession, type ScoringOutputs } from '../runtime/scoring-session';
import { findHeadInitializers, loadHeadWeights, readFolderGraph, type HeadWeights } from './heads';
import type { ContrastModel } from './model';
import type { OnnxGraphInfo } from './onnx-reader';

/** One text to score: `ids[from..]` are scored, each given the tokens before it (`from >= 1`). */
export interface ScoreItem {
  ids: readonly number[];
  from: number;
}

/** What to score besides the expert. */
export interface ScoreBatchOptions {
  /** Exit layers scored alone (early exit: each exit's own distribution). */
  exits?: readonly number[];
  /** Amateur layers: the contrasted distribution (expert vs that exit) is scored for each. */
  amateurs?: readonly number[];
  /** `acd` (default) or `cd`. */
  mode?: 'acd' | 'cd';
  /** Plausibility threshold in [0, 1] (default 0.1). */
  alpha?: number;
  /** Minimum head size (default 1). */
  minCandidates?: number;
  /** CD weighting (O'Brien & Lewis). */
  beta?: number;
  /** Scored rows per kernel call (bounds memory for long windows; default 256). */
  chunkRows?: number;
  /**
   * A layer chosen per position among candidate layers, as generate chooses it per step: `mode: 'dola'` (DoLa's
   * premature layer), or `'acd'` / `'cd'` against the candidate farthest from the final layer (`amateurLayer:
   * 'auto'`). The result's `selected` holds the renormalised log-probabilities (what {@link score} reports when
   * stepping) and the layer chosen at each position. `alpha`, `minCandidates` and `beta` apply to it too; `head`:
   * how the candidates are projected (`dolaHead`, default `exact`).
   */
  select?: { candidates: readonly number[]; mode: 'dola' | 'acd' | 'cd'; head?: DolaHead };
  /**
   * Also keep, per scored token of every distribution, its `top` most likely tokens with their log-probabilities
   * (what an OpenAI `logprobs: N` echo returns; default 0: none). The scored token's own log-probability is
   * computed with the same arithmetic, so it equals its entry here exactly when it is among them.
   */
  top?: number;
}

/** A token and its log-probability. */
export interface TopToken {
  token: number;
  logprob: number;
}

/** Per scored token of one distribution. */
export interface TokenScores {
  /** log p(token | prefix). */
  logProbs: Float64Array;
  /** Whether the token is that distribution's arg-max (first maximum). */
  greedy: Uint8Array;
  /** With `top`: that distribution's most likely tokens at each scored position, most likely first. */
  top?: TopToken[][];
}

/** One scored item. */
export interface ScoredItem {
  /** The scored tokens (`ids[from..]`). */
  tokens: number[];
  expert: TokenScores;
  /** By exit layer. */
  exits: Map<number, TokenScores>;
  /** By amateur layer. */
  contrast: Map<number, TokenScores>;
  /** With `select`: the distribution contrasted with the layer chosen per position, and that layer. */
  selected?: TokenScores & { layers: Int32Array };
}

interface ScoringState {
  session?: Promise<ScoringSession>;
  graph?: OnnxGraphInfo;
  heads: Map<string, HeadWeights>;
  /** Head projections opened for dense exit logits, by head key. */
  projections: Map<string, Promise<HeadSession>>;
}

/** Rows per head projection run (all exits' rows together): bounds its output to ~100 MB at V = 50k. */
const PROJECTION_ROWS = 512;
const states = new WeakMap<ContrastModel, ScoringState>();

function stateOf(model: ContrastModel): ScoringState {
  let s = states.get(model);
  if (!s) states.set(model, (s = { heads: new Map(), projections: new Map() }));
  return s;
}

/** The model's scoring session (opened on first use, then kept with the model until {@link releaseScoring}). */
export function scoringSession(model: ContrastModel, options: { threads?: number } = {}): Promise<ScoringSession> {
  const s = stateOf(model);
  s.session ??= ScoringSession.open(model.dir, model.manifest, { threads: options.threads ?? model.runtime.threads });
  return s.session;
}

/** Releases the scoring session and head matrices held for `model`. */
export async function releaseScoring(model: ContrastModel): Promise<void> {
  const s = states.get(model);
  states.delete(model);
  if (s?.session) await (await s.session).dispose();
  for (const p of s?.projections.values() ?? []) await (await p).dispose();
}

/** Which head matrix (and bias) exit `layer` multiplies, as a key shared by the exits using the same, or null. */
function headKey(model: ContrastModel, layer: number): string | null {
  const s = stateOf(model);
  s.graph ??= readFolderGraph(model.dir, model.manifest);
  const found = findHeadInitializers(s.graph, model.manifest, layer);
  return found ? `${found.matrix}|${found.bias ?? ''}` : null;
}

/**
 * The head matrix of exit `layer`, shared by name (every logit-lens exit multiplies the same matrix), or null.
 */
export function sharedHead(model: ContrastModel, layer: number): HeadWeights | null {
  const s = stateOf(model);
  const key = headKey(model, layer);
  if (key === null) return null;
  let h = s.heads.get(key);
  if (!h) {
    const loaded = loadHeadWeights(model.dir, model.manifest, s.graph!, layer);
    if (!loaded) return null;
    s.heads.set(key, (h = loaded));
  }
  return h;
}

/** The head projection session of exit `layer`'s head (opened once per head matrix and kept with the model). */
function headSession(model: ContrastModel, layer: number): Promise<HeadSession> {
  const s = stateOf(model);
  const key = headKey(model, layer)!;
  let p = s.projections.get(key);
  if (!p) {
    const h = sharedHead(model, layer)!;
    p = HeadSession.open(h, model.vocabSize, model.manifest.hiddenSize, { threads: model.runtime.threads });
    s.projections.set(key, p);
  }
  return p;
}

/**
 * Rolling windows over a text longer than one forward run may hold, as score items: tokens `ids[1..]` are each
 * scored exactly once, every window's input is at most `window` tokens, and each window scores up to `stride`
 * new tokens after the context it shares with the previous one (`stride = window`: disjoint windows, each
 * starting cold; smaller strides give later tokens more context at more cost).
 * @throws RangeError unless 1 <= stride <= window.
 */
export function windowItems(ids: readonly number[], window: number, stride = window): ScoreItem[] {
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer, got ${window}`);
  if (!Number.isInteger(stride) || stride < 1 || stride > window) throw new RangeError(`stride must be an integer in [1, window = ${window}], got ${stride}`);
  const out: ScoreItem[] = [];
  for (let p0 = 1; p0 < ids.length; p0 += stride) {
    const p1 = Math.min(ids.length, p0 + stride);
    const start = Math.max(0, p1 - 1 - window);
    out.push({ ids: ids.slice(start, p1), from: p0 - start });
  }
  return out;
}

/** Why layer L cannot be scored (no exit, or no way to its logits), or null. */
function exitProblem(model: ContrastModel, L: number): string | null {
  const e = model.exits.find((x) => x.layer === L);
  if (!e) return `layer ${L} has no exit in this model (exits: ${model.exits.map((x) => x.layer).join(', ') || 'none'})`;
  if (e.logits) return null;
  if (e.hidden && sharedHead(model, L)) return null;
  return `exit ${L} has neither a logits output nor a head matrix to compute its logits from`;
}

/** Checks that every layer in `layers` can be scored. @throws RangeError naming the first that cannot. */
export function checkScoreLayers(model: ContrastModel, layers: readonly number[]): void {
  for (const L of layers) {
    if (!Number.isInteger(L)) throw new RangeError(`exit layer must be an integer, got ${String(L)}`);
    const p = exitProblem(model, L);
    if (p) throw new RangeError(p);
  }
}

function newScores(n: number, top: number): TokenScores {
  return { logProbs: new Float64Array(n), greedy: new Uint8Array(n), ...(top > 0 ? { top: new Array<TopToken[]>(n) } : {}) };
}

/**
 * The `n` largest values of `row`, largest first (equal values: the lower index first), as { token: index,
 * logprob: value }.
 */
export function topTokens(row: ArrayLike<number>, n: number): TopToken[] {
  const top: TopToken[] = [];
  if (n <= 0) return top;
  let floor = -Infinity;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (top.length === n && !(v > floor)) continue;
    let at = top.length;
    while (at > 0 && top[at - 1].logprob < v) at--;
    top.splice(at, 0, { token: i, logprob: v });
    if (top.length > n) top.pop();
    floor = top[top.length - 1].logprob;
  }
  return top;
}

/**
 * log-softmax value of `target` and whether it is the first maximum, for row r of a [rows x V] block of logits;
 * with `top > 0` also the row's `top` most likely tokens, their log-probabilities computed as the target's.
 */
function readRow(block: Float32Array, r: number, V: number, target: number, top = 0): [number, boolean, TopToken[]?] {
  const off = r * V;
  let m = -Infinity;
  let best = 0;
  for (let v = 0; v < V; v++) {
    const x = block[off + v];
    if (x > m) {
      m = x;
      best = v;
    }
  }
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(block[off + v] - m);
  const lp = block[off + target] - m - Math.log(s);
  if (top <= 0) return [lp, best === target];
  // Ranked on the logits (the same order), each value then shifted exactly as the target's.
  const head = topTokens(block.subarray(off, off + V), top).map((t) => ({ token: t.token, logprob: t.logprob - m - Math.log(s) }));
  return [lp, best === target, head];
}

/**
 * The value at `target` and whether it is the first maximum, for row r of a block of log-probabilities (with
 * `top > 0`, also the row's `top` largest entries).
 */
function readNormalisedRow(block: Float32Array, r: number, V: number, target: number, top = 0): [number, boolean, TopToken[]?] {
  const off = r * V;
  let best = 0;
  let m = -Infinity;
  for (let v = 0; v < V; v++) {
    if (block[off + v] > m) {
      m = block[off + v];
      best = v;
    }
  }
  if (top <= 0) return [block[off + target], best === target];
  return [block[off + target], best === target, topTokens(block.subarray(off, off + V), top)];
}

/** Copies rows `idx` of a `[n x w]` block into a new `[idx.length x w]` block. */
function gather(block: Float32Array, idx: readonly number[], w: number): Float32Array {
  const out = new Float32Array(idx.length * w);
  idx.forEach((r, i) => out.set(block.subarray(r * w, (r + 1) * w), i * w));
  return out;
}

/**
 * Scores `items` in one forward run (left-padded batch): per item, the log-probability and arg-max flag of each
 * scored token under the expert (the model's logits), each exit in `options.exits`, and the contrast with each
 * amateur in `options.amateurs`.
 * @throws RangeError for an item with `from < 1` or nothing to score, or a layer without a usable exit.
 */
export async function scoreBatch(model: ContrastModel, items: readonly ScoreItem[], options: ScoreBatchOptions = {}): Promise<ScoredItem[]> {
  const V = model.vocabSize;
  const d = model.manifest.hiddenSize;
  const exits = [...new Set(options.exits ?? [])];
  const amateurs = [...new Set(options.amateurs ?? [])];
  checkScoreLayers(model, [...exits, ...amateurs]);
  const select = options.select;
  if (select) {
    if (!Array.isArray(select.candidates) || select.candidates.length === 0) throw new RangeError('select.candidates must hold at least one layer');
    for (const L of select.candidates) {
      if (!model.exits.find((e) => e.layer === L)?.hidden) throw new RangeError(`candidate layer ${String(L)} has no hidden-state exit in this model (exits with one: ${model.exits.filter((e) => e.hidden).map((e) => e.layer).join(', ') || 'none'})`);
    }
    const heads = new Set(select.candidates.map((L) => headKey(model, L)));
    if (heads.has(null) || heads.size !== 1) throw new RangeError(`candidate layers ${select.candidates.join(', ')} do not share one head matrix (each candidate is projected with the model's head)`);
  }
  if (items.length === 0) return [];
  items.forEach((it, i) => {
    if (!Number.isInteger(it.from) || it.from < 1 || it.from >= it.ids.length) {
      throw new RangeError(`item ${i}: from must be in [1, ${it.ids.length - 1}] (a token needs a prefix), got ${it.from}`);
    }
  });
  const counts = items.map((it) => it.ids.length - it.from);
  const keep = Math.max(...counts);
  const byLayer = new Map(model.exits.map((e) => [e.layer, e]));
  // Exit logits: the graph's output when it has one, else the hidden state times the head (dense when the
  // exit is scored alone, sparse for an amateur only).
  const all = [...new Set([...exits, ...amateurs])];
  const fromGraph = all.filter((L) => byLayer.get(L)!.logits);
  const fromHidden = [...new Set([...all.filter((L) => !byLayer.get(L)!.logits), ...(select?.candidates ?? [])])];
  const session = await scoringSession(model);
  const out: ScoringOutputs = await session.run(
    items.map((it) => it.ids.slice(0, -1)),
    { keep, hidden: fromHidden, logits: fromGraph },
  );
  // The scored rows of the [batch x keep] output, in item order, and their targets.
  const rowIdx: number[] = [];
  const targets: number[] = [];
  const owner: [number, number][] = [];
  items.forEach((it, i) => {
    const n = counts[i];
    for (let j = 0; j < n; j++) {
      rowIdx.push(i * keep + (keep - n) + j);
      targets.push(it.ids[it.from + j]);
      owner.push([i, j]);
    }
  });
  const top = options.top ?? 0;
  if (!Number.isInteger(top) || top < 0) throw new RangeError(`top must be a non-negative integer, got ${String(options.top)}`);
  const results: ScoredItem[] = items.map((it, i) => ({
    tokens: it.ids.slice(it.from),
    expert: newScores(counts[i], top),
    exits: new Map(exits.map((L) => [L, newScores(counts[i], top)])),
    contrast: new Map(amateurs.map((L) => [L, newScores(counts[i], top)])),
    ...(select ? { selected: { ...newScores(counts[i], top), layers: new Int32Array(counts[i]) } } : {}),
  }));
  const chunk = Math.max(1, options.chunkRows ?? 256);
  const common = { vocabSize: V, alpha: options.alpha ?? DEFAULT_ALPHA, minCandidates: options.minCandidates ?? 1, ...(options.beta !== undefined ? { beta: options.beta } : {}) };
  const cd = options.mode === 'cd';
  // `normalised`: the block already holds log-probabilities (the contrast kernels' output), so only the
  // arg-max is needed; logits blocks are log-softmaxed at the target.
  const record = (block: Float32Array, start: number, pick: (i: number) => TokenScores, normalised = false) => {
    const rows = block.length / V;
    for (let r = 0; r < rows; r++) {
      const k = start + r;
      const [lp, g, best] = normalised ? readNormalisedRow(block, r, V, targets[k], top) : readRow(block, r, V, targets[k], top);
      const [i, j] = owner[k];
      const s = pick(i);
      s.logProbs[j] = lp;
      s.greedy[j] = g ? 1 : 0;
      if (s.top && best) s.top[j] = best;
    }
  };
  // Dense exit logits: from the graph's output, else through the head projection, all exits sharing a head in one
  // matrix product (up to PROJECTION_ROWS rows at a time). Amateurs that are not scored alone and have no
  // logits output are contrasted sparsely (amateur logits of the plausible head only).
  const denseLayers = all.filter((L) => exits.includes(L) || out.exitLogits.has(L));
  const byHead = new Map<string, number[]>();
  for (const L of denseLayers) {
    if (out.exitLogits.has(L)) continue;
    const key = headKey(model, L)!;
    byHead.set(key, [...(byHead.get(key) ?? []), L]);
  }
  const scores = new Float32Array(Math.min(chunk, rowIdx.length) * V);
  const recordLogProbs = (z: Float32Array, argMax: BigInt64Array, start: number, pick: (i: number) => TokenScores) => {
    for (let r = 0; r < argMax.length; r++) {
      const k = start + r;
      const [i, j] = owner[k];
      const s = pick(i);
      s.logProbs[j] = z[r * V + targets[k]];
      s.greedy[j] = Number(argMax[r]) === targets[k] ? 1 : 0;
      if (s.top) s.top[j] = topTokens(z.subarray(r * V, (r + 1) * V), top);
    }
  };
  for (let start = 0; start < rowIdx.length; start += chunk) {
    const idx = rowIdx.slice(start, start + chunk);
    const n = idx.length;
    const expert = gather(out.logits, idx, V);
    record(expert, start, (i) => results[i].expert);
    const contrastOut = scores.subarray(0, n * V);
    // `argMax`: each row's first arg-max, when `z` holds the projection's log-probabilities (else `z` is logits).
    // The contrast kernels take either: log-softmax is unchanged by a per-row shift.
    const use = (L: number, z: Float32Array, argMax?: BigInt64Array) => {
      if (exits.includes(L)) {
        if (argMax) recordLogProbs(z, argMax, start, (i) => results[i].exits.get(L)!);
        else record(z, start, (i) => results[i].exits.get(L)!);
      }
      if (amateurs.includes(L)) {
        (cd ? cdScores : acdLogProbs)(expert, z, { ...common, out: contrastOut });
        record(contrastOut, start, (i) => results[i].contrast.get(L)!, true);
      }
    };
    for (const [L, g] of out.exitLogits) if (all.includes(L)) use(L, gather(g, idx, V));
    for (const layers of byHead.values()) {
      const head = await headSession(model, layers[0]);
      const per = Math.max(1, Math.floor(PROJECTION_ROWS / n));
      for (let k = 0; k < layers.length; k += per) {
        const group = layers.slice(k, k + per);
        const hidden = new Float32Array(group.length * n * d);
        group.forEach((L, j) => hidden.set(gather(out.hidden.get(L)!, idx, d), j * n * d));
        const z = await head.project(hidden);
        group.forEach((L, j) => use(L, z.logProbs.subarray(j * n * V, (j + 1) * n * V), z.argMax.subarray(j * n, (j + 1) * n)));
      }
    }
    for (const L of amateurs) {
      if (denseLayers.includes(L)) continue;
      const h = sharedHead(model, L)!;
      const hidden = gather(out.hidden.get(L)!, idx, d);
      (cd ? cdScoresSparse : acdLogProbsSparse)(expert, hidden, h.weight, { ...common, weightDtype: h.dtype, ...(h.bias ? { headBias: h.bias } : {}), out: contrastOut });
      record(contrastOut, start, (i) => results[i].contrast.get(L)!, true);
    }
    if (select) {
      // The candidates' hidden states at the scored positions through the head generate's DoLa step uses, the
      // layer chosen per row by divergence, then renormalised over the vocabulary as the decoding pipeline does.
      const ch = model.candidateHead(select.candidates[0]);
      const r = await dolaContrastAsync(
        expert,
        { hidden: select.candidates.map((L) => gather(out.hidden.get(L)!, idx, d)), headWeight: ch.weight, weightDtype: ch.head.dtype, hiddenSize: d, ...(ch.head.bias ? { headBias: ch.head.bias } : {}) },
        { vocabSize: V, output: select.mode, alpha: common.alpha, minCandidates: common.minCandidates, ...(select.mode === 'cd' && options.beta !== undefined ? { beta: options.beta } : {}), ...(select.head ? { head: select.head } : {}), out: contrastOut },
      );
      for (let row = 0; row < n; row++) logSoftmaxInPlace(contrastOut.subarray(row * V, (row + 1) * V));
      record(contrastOut, start, (i) => results[i].selected!, true);
      for (let row = 0; row < n; row++) {
        const [i, j] = owner[start + row];
        results[i].selected!.layers[j] = select.candidates[r.chosen[row]];
      }
    }
  }
  return results;
}
