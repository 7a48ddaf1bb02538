/**
 * WikiText word perplexity as lm-evaluation-harness's `wikitext` task computes it: each article is
 * detokenised (the task's `wikitext_detokenizer` rules, re-implemented here), tokenised without special tokens,
 * and scored in rolling windows (the first window starts with the harness's prefix token, BOS or else EOS; each window runs up to
 * `window` tokens and predicts the next `stride` tokens not yet predicted); word perplexity is
 * exp(-sum log-likelihood / sum words of the original article), words as `re.split(r"\s+", page)` counts them.
 */
import type { ContrastModel } from '../generate/model';
import type { ScoreItem } from '../generate/score-batch';
import { scoreBatch, windowItems } from '../generate/score-batch';
import { EvalError } from './errors';
import { harnessPrefixToken } from './lambada';
import { rollingMetrics, wordCount, type RollingMetrics } from './metrics';
import { runScoring, type DistributionScores, type ScoringRunOptions } from './scoring-run';

/** Undoes WikiText's tokenisation (`@-@`, spaces around punctuation, heading spacing), as the harness does. */
export function detokenizeWikitext(text: string): string {
  let s = text;
  s = s.replace(/s '/g, "s'");
  // The task's own rule here is a regular expression with literal slashes (`/' [0-9]/`), kept as it is.
  s = s.replace(/\/' [0-9]\//g, "/'[0-9]/");
  // number separators
  s = s.replace(/ @-@ /g, '-').replace(/ @,@ /g, ',').replace(/ @\.@ /g, '.');
  // punctuation
  s = s.replace(/ : /g, ': ').replace(/ ; /g, '; ').replace(/ \. /g, '. ').replace(/ ! /g, '! ').replace(/ \? /g, '? ').replace(/ , /g, ', ');
  // brackets and quotes
  s = s.replace(/\(\s*([^)]*?)\s*\)/g, '($1)');
  s = s.replace(/\[\s*([^\]]*?)\s*\]/g, '[$1]');
  s = s.replace(/\{\s*([^}]*?)\s*\}/g, '{$1}');
  s = s.replace(/"\s*([^"]*?)\s*"/g, '"$1"');
  s = s.replace(/'\s*([^']*?)\s*'/g, "'$1'");
  // headings
  s = s.replace(/= = = =/g, '====').replace(/= = =/g, '===').replace(/= =/g, '==');
  s = s.replace(/ \u00b0 /g, '\u00b0');
  s = s.replace(/ \n/g, '\n').replace(/\n /g, '\n');
  s = s.replace(/ N /g, ' 1 ');
  s = s.replace(/ 's/g, "'s");
  return s;
}

/**
 * Rolling windows over `tokens` as score items: item k predicts tokens[p0..p1) (at most `stride` tokens) from
 * up to `window` tokens before each (the sequence starts with `prefix`). With `stride = window` these are the
 * harness's disjoint windows (`get_rolling_token_windows` with context length 1).
 */
export function rollingWindows(tokens: readonly number[], prefix: number, window: number, stride = window): ScoreItem[] {
  if (!Number.isInteger(window) || window < 1) throw new EvalError('EVAL_BAD_OPTION', `--window must be a positive integer, got ${window}`);
  if (!Number.isInteger(stride) || stride < 1 || stride > window) throw new EvalError('EVAL_BAD_OPTION', `--stride must be an integer in [1, window = ${window}], got ${stride}`);
  return windowItems([prefix, ...tokens], window, stride);
}

/** Per-distribution WikiText results. */
export interface WikitextScores {
  plain: RollingMetrics;
  exits: ({ layer: number } & RollingMetrics)[];
  contrast: ({ layer: number } & RollingMetrics)[];
}

/** Scores WikiText articles; see {@link runScoring} for options. */
export async function runWikitext(
  model: ContrastModel,
  docs: readonly string[],
  options: ScoringRunOptions & { window: number; stride?: number },
): Promise<{ scores: WikitextScores; items: DistributionScores[]; tokens: number; seconds: number; resumed: number }> {
  const tok = model.tokenizer;
  if (!tok) throw new EvalError('EVAL_BAD_OPTION', 'WikiText needs a model folder with a tokenizer (tokenizer.json)');
  const prefix = harnessPrefixToken(model);
  const window = Math.min(options.window, model.contextLength - 1);
  const items = docs.map((d, i) => ({ i, units: rollingWindows(tok.encode(detokenizeWikitext(d), { addSpecialTokens: false }), prefix, window, options.stride ?? window) }));
  const r = await runScoring(model, items.filter((it) => it.units.length > 0), { ...options, batch: options.batch ?? 1 }, scoreBatch);
  const meta = (x: DistributionScores) => ({ words: wordCount(docs[x.i]), bytes: Buffer.byteLength(docs[x.i], 'utf8'), tokens: x.n });
  const of = (pick: (x: DistributionScores) => [number, number]) => rollingMetrics(r.items.map((x) => ({ ll: pick(x)[0], ...meta(x) })));
  return {
    scores: {
      plain: of((x) => x.e),
      exits: options.exits.map((L) => ({ layer: L, ...of((x) => x.x[L]) })),
      contrast: options.amateurs.map((L) => ({ layer: L, ...of((x) => x.c[L]) })),
    },
    items: r.items,
    tokens: r.tokens,
    seconds: r.seconds,
    resumed: r.resumed,
  };
}
