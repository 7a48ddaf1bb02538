/**
 * LAMBADA as lm-evaluation-harness's `lambada_openai` computes it: the context is the passage up to its last
 * space, the continuation is a space plus the last word; the continuation's tokens are those of the whole text
 * after the context's tokens (no special tokens added); an item is correct when every continuation token is the
 * arg-max of its distribution; perplexity is exp(-mean summed log-likelihood). Scored plainly, under each exit
 * alone and contrasted with each amateur layer, all from one forward run per batch of passages.
 */
import type { ContrastModel } from '../generate/model';
import { scoreBatch } from '../generate/score-batch';
import { EvalError } from './errors';
import { lambadaMetrics, type LambadaMetrics } from './metrics';
import type { ScoringRunOptions, DistributionScores } from './scoring-run';
import { runScoring } from './scoring-run';

/** One passage as scored: all token ids and where the continuation starts. */
export interface LambadaRequest {
  ids: number[];
  from: number;
}

/** Splits a passage as the harness does: context up to the last space, continuation = space + last word. */
export function splitLambada(text: string): { context: string; continuation: string } {
  const k = text.lastIndexOf(' ');
  if (k < 0) throw new EvalError('EVAL_DATA_MALFORMED', 'a LAMBADA passage needs a space before its last word');
  return { context: text.slice(0, k), continuation: ' ' + text.slice(k + 1) };
}

/**
 * The token ids of a passage (harness rule: trailing spaces of the context move to the continuation; the
 * continuation's tokens are the whole text's tokens after the context's; an empty context is the harness's
 * prefix token).
 */
export function lambadaRequest(model: ContrastModel, text: string): LambadaRequest {
  const tok = model.tokenizer;
  if (!tok) throw new EvalError('EVAL_BAD_OPTION', 'LAMBADA needs a model folder with a tokenizer (tokenizer.json)');
  let { context, continuation } = splitLambada(text);
  const trimmed = context.replace(/\s+$/, '');
  if (trimmed.length < context.length) {
    continuation = context.slice(trimmed.length) + continuation;
    context = trimmed;
  }
  const whole = tok.encode(context + continuation, { addSpecialTokens: false });
  let ctx = context === '' ? [] : tok.encode(context, { addSpecialTokens: false });
  let cont = whole.slice(ctx.length);
  if (ctx.length === 0) ctx = [harnessPrefixToken(model)];
  if (cont.length === 0) throw new EvalError('EVAL_DATA_MALFORMED', `a passage's last word has no tokens of its own: ${JSON.stringify(text.slice(-40))}`);
  const ids = [...ctx, ...cont];
  const max = model.contextLength + 1;
  const cut = ids.length > max ? ids.length - max : 0;
  return { ids: ids.slice(cut), from: Math.max(1, ctx.length - cut) };
}

/**
 * The token the harness puts before a text with no context (an empty LAMBADA context, the first rolling
 * window): its `prefix_token_id`, the tokenizer's BOS when it has one, else the end-of-text token.
 */
export function harnessPrefixToken(model: ContrastModel): number {
  return model.bosTokenId ?? model.eosTokenIds[0] ?? 0;
}

/** Per-distribution LAMBADA results. */
export interface LambadaScores {
  plain: LambadaMetrics;
  exits: ({ layer: number } & LambadaMetrics)[];
  contrast: ({ layer: number; gained: number; lost: number } & LambadaMetrics)[];
  /**
   * A layer chosen per position (mode `dola`, amateur layer `auto`): the contrasted distribution's metrics, the
   * candidate layers and how many continuation tokens chose each (`layers`: layer -> count).
   */
  selected?: { mode: 'dola' | 'acd' | 'cd'; candidates: number[]; gained: number; lost: number; layers: Record<number, number> } & LambadaMetrics;
}

/** Aggregates per-item scores into {@link LambadaScores} (gained/lost: items contrast turns right/wrong vs plain). */
export function lambadaScores(items: readonly DistributionScores[], exits: readonly number[], amateurs: readonly number[], select?: ScoringRunOptions['select']): LambadaScores {
  const plain = lambadaMetrics(items.map((r) => ({ ll: r.e[0], greedy: r.e[1] === 1 })));
  let selected: LambadaScores['selected'];
  if (select) {
    const layers: Record<number, number> = {};
    let gained = 0;
    let lost = 0;
    for (const r of items) {
      for (const [L, n] of Object.entries(r.h ?? {})) layers[Number(L)] = (layers[Number(L)] ?? 0) + n;
      if (r.s![1] === 1 && r.e[1] !== 1) gained++;
      if (r.s![1] !== 1 && r.e[1] === 1) lost++;
    }
    selected = { mode: select.mode, candidates: [...select.candidates], ...lambadaMetrics(items.map((r) => ({ ll: r.s![0], greedy: r.s![1] === 1 }))), gained, lost, layers };
  }
  return {
    ...(selected ? { selected } : {}),
    plain,
    exits: exits.map((L) => ({ layer: L, ...lambadaMetrics(items.map((r) => ({ ll: r.x[L][0], greedy: r.x[L][1] === 1 }))) })),
    contrast: amateurs.map((L) => {
      let gained = 0;
      let lost = 0;
      for (const r of items) {
        if (r.c[L][1] === 1 && r.e[1] !== 1) gained++;
        if (r.c[L][1] !== 1 && r.e[1] === 1) lost++;
      }
      return { layer: L, ...lambadaMetrics(items.map((r) => ({ ll: r.c[L][0], greedy: r.c[L][1] === 1 }))), gained, lost };
    }),
  };
}

/** Scores LAMBADA passages; see {@link runScoring} for options (resume, batching, progress). */
export async function runLambada(model: ContrastModel, passages: readonly string[], options: ScoringRunOptions): Promise<{ scores: LambadaScores; items: DistributionScores[]; tokens: number; seconds: number; resumed: number }> {
  const requests = passages.map((p) => lambadaRequest(model, p));
  const r = await runScoring(model, requests.map((q, i) => ({ i, units: [q] })), options, scoreBatch);
  return { scores: lambadaScores(r.items, options.exits, options.amateurs, options.select), items: r.items, tokens: r.tokens, seconds: r.seconds, resumed: r.resumed };
}
