/**
 * Metric functions of the evaluation tasks, independent of any model: LAMBADA-style accuracy and perplexity,
 * word/byte perplexity of rolling-window log-likelihoods (lm-evaluation-harness `wikitext`), and the n-gram
 * repetition and diversity of generated text (Su et al. 2022, "A Contrastive Framework for Neural Text
 * Generation": rep-n = 1 - |unique n-grams| / |n-grams|, diversity = prod over n = 2..4 of (1 - rep-n)).
 */

/** Accuracy and perplexity of per-item continuation scores, as `lambada_openai` aggregates them. */
export interface LambadaMetrics {
  /** Items scored. */
  n: number;
  /** Mean over items of "every continuation token was the greedy choice". */
  accuracy: number;
  /** exp(-mean over items of the continuation's summed log-likelihood). */
  perplexity: number;
}

/** {@link LambadaMetrics} of per-item (summed log-likelihood, all-greedy) pairs. */
export function lambadaMetrics(items: readonly { ll: number; greedy: boolean }[]): LambadaMetrics {
  const n = items.length;
  if (n === 0) return { n: 0, accuracy: NaN, perplexity: NaN };
  let ll = 0;
  let hits = 0;
  for (const it of items) {
    ll += it.ll;
    if (it.greedy) hits++;
  }
  return { n, accuracy: hits / n, perplexity: Math.exp(-ll / n) };
}

/** Word count of a document as the harness's `wikitext` task counts it: `len(re.split(r"\s+", doc))`. */
export function wordCount(doc: string): number {
  return doc.split(/\s+/).length;
}

/** Perplexities of documents from their summed log-likelihoods (natural log). */
export interface RollingMetrics {
  /** Documents. */
  n: number;
  /** Scored tokens. */
  tokens: number;
  /** exp(-sum ll / sum words). */
  wordPerplexity: number;
  /** exp(-sum ll / sum bytes). */
  bytePerplexity: number;
  /** -sum ll / sum bytes / ln 2. */
  bitsPerByte: number;
  /** exp(-sum ll / sum tokens). */
  tokenPerplexity: number;
}

/** {@link RollingMetrics} of per-document (ll, words, bytes, tokens). */
export function rollingMetrics(docs: readonly { ll: number; words: number; bytes: number; tokens: number }[]): RollingMetrics {
  let ll = 0;
  let words = 0;
  let bytes = 0;
  let tokens = 0;
  for (const d of docs) {
    ll += d.ll;
    words += d.words;
    bytes += d.bytes;
    tokens += d.tokens;
  }
  return {
    n: docs.length,
    tokens,
    wordPerplexity: Math.exp(-ll / words),
    bytePerplexity: Math.exp(-ll / bytes),
    bitsPerByte: -ll / bytes / Math.LN2,
    tokenPerplexity: Math.exp(-ll / tokens),
  };
}

/** The n-grams of a token list, joined into strings (none when it is shorter than n). */
export function ngrams(tokens: readonly string[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join('\u0001'));
  return out;
}

/** Repetition and diversity of generated texts. */
export interface DiversityMetrics {
  /** rep-2, rep-3, rep-4: 1 - (sum over texts of each text's unique n-grams) / (sum over texts of its n-grams). */
  rep2: number;
  rep3: number;
  rep4: number;
  /** (1 - rep-2)(1 - rep-3)(1 - rep-4). */
  diversity: number;
  /** Mean words per text. */
  meanWords: number;
}

/**
 * Repetition and diversity of `texts` (split into words on whitespace), as SimCTG's `measure_repetition_and_diversity`
 * computes them (the script Li et al. 2022 and, after them, Gera et al. 2023 used): each text's unique n-grams are
 * counted within that text and the counts are summed over texts, so an n-gram shared by two continuations (say
 * "of the") is no repetition; rep-n = 1 - sum of unique / sum of total. Like that script, a text of w words
 * contributes its first w - n n-grams (its loop stops one n-gram before the end); keeping this makes the values
 * comparable with the papers' tables. A pool without any n-gram has rep-n 0.
 */
export function diversityMetrics(texts: readonly string[]): DiversityMetrics {
  const rep = (n: number) => {
    let total = 0;
    let unique = 0;
    for (const t of texts) {
      const w = words(t);
      const g = ngrams(w, n).slice(0, Math.max(0, w.length - n));
      total += g.length;
      unique += new Set(g).size;
    }
    return total === 0 ? 0 : 1 - unique / total;
  };
  const rep2 = rep(2);
  const rep3 = rep(3);
  const rep4 = rep(4);
  const meanWords = texts.length ? texts.reduce((a, t) => a + words(t).length, 0) / texts.length : 0;
  return { rep2, rep3, rep4, diversity: (1 - rep2) * (1 - rep3) * (1 - rep4), meanWords };
}

/** Whitespace-separated words of a text. */
export function words(text: string): string[] {
  const t = text.trim();
  return t ? t.split(/\s+/) : [];
}

/** Cosine similarity of two vectors (0 when one is all zeros). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}
