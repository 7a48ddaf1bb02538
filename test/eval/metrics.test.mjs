// Metric functions against hand-computed cases.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evalPkg as ev } from './helpers.mjs';

const close = (a, b, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('rep-n and diversity on texts with known repetition, counted as SimCTG counts them', () => {
  // SimCTG's loop takes the first w - n n-grams of a w-word text. "a b a b a b" (6 words): bigrams ab ba ab ba
  // -> 2 unique of 4; trigrams aba bab aba -> 2 of 3; 4-grams abab baba -> 2 of 2
  const m = ev.diversityMetrics(['a b a b a b']);
  close(m.rep2, 1 - 2 / 4);
  close(m.rep3, 1 - 2 / 3);
  close(m.rep4, 0);
  close(m.diversity, (2 / 4) * (2 / 3) * 1);
  close(m.meanWords, 6);
  // no repetition at all: diversity 1
  const u = ev.diversityMetrics(['the cat sat on a mat']);
  close(u.rep2, 0);
  close(u.diversity, 1);
  // unique n-grams are counted per text and summed: an n-gram that two texts share is no repetition
  // ("x y z" twice: one bigram "x y" each, 1 + 1 unique of 2; a pooled set would give 1 of 2)
  const p = ev.diversityMetrics(['x y z', 'x y z']);
  close(p.rep2, 0);
  close(p.rep3, 0); // no trigram counted at all (3 words - 3 = 0)
  close(p.diversity, 1);
  // sums over texts: "a a a a" (bigrams aa aa: 1 of 2) and "b c d e" (bc cd: 2 of 2) -> 3 unique of 4
  close(ev.diversityMetrics(['a a a a', 'b c d e']).rep2, 1 - 3 / 4);
  // the last n-gram is left out, as in the script: "p q r p q" counts pq qr rp, no repeat
  close(ev.diversityMetrics(['p q r p q']).rep2, 0);
  // whitespace of any kind splits words: a b a b a -> ab ba ab: 2 of 3
  close(ev.diversityMetrics(['a\tb\n a  b a']).rep2, 1 - 2 / 3);
});

test('LAMBADA aggregation: accuracy = share of all-greedy items, perplexity = exp(-mean summed log-likelihood)', () => {
  const m = ev.lambadaMetrics([{ ll: -1, greedy: true }, { ll: -3, greedy: false }, { ll: -2, greedy: true }, { ll: -2, greedy: false }]);
  close(m.accuracy, 0.5);
  close(m.perplexity, Math.exp(2));
  assert.is(m.n, 4);
});

test('word perplexity counts words as re.split(r"\\s+", doc) does (leading/trailing whitespace adds empty words)', () => {
  assert.is(ev.wordCount('a b  c'), 3);
  assert.is(ev.wordCount(' = T = \n'), 5); // '', '=', 'T', '=', ''
  const r = ev.rollingMetrics([{ ll: -10, words: 4, bytes: 20, tokens: 5 }, { ll: -6, words: 4, bytes: 12, tokens: 3 }]);
  close(r.wordPerplexity, Math.exp(16 / 8));
  close(r.bytePerplexity, Math.exp(16 / 32));
  close(r.bitsPerByte, 16 / 32 / Math.LN2);
  close(r.tokenPerplexity, Math.exp(2));
});

test('rolling windows: disjoint windows as the harness makes them, and strided windows', () => {
  const toks = [10, 11, 12, 13, 14, 15, 16];
  const w = ev.rollingWindows(toks, 0, 3);
  // first window: [eot, t0, t1, t2] predicting t0..t2; then t3..t5 from 3 tokens back; then t6 with a full window
  assert.equal(w.map((x) => x.ids), [[0, 10, 11, 12], [12, 13, 14, 15], [13, 14, 15, 16]]);
  assert.equal(w.map((x) => x.from), [1, 1, 3]);
  // every token predicted exactly once, each with at most `window` tokens before it in its window
  const predicted = w.flatMap((x) => x.ids.slice(x.from));
  assert.equal(predicted, toks);
  for (const x of w) assert.ok(x.ids.length - 1 <= 3);
  const s = ev.rollingWindows(toks, 0, 4, 2);
  assert.equal(s.flatMap((x) => x.ids.slice(x.from)), toks);
  assert.equal(s[1].ids, [0, 10, 11, 12, 13]); // predicts t2, t3; the input is at most 4 tokens
  assert.is(s[1].from, 3);
  assert.equal(s[2].ids, [11, 12, 13, 14, 15]); // predicts t4, t5 from the 4 tokens before t5
  assert.is(s[2].from, 3);
  assert.throws(() => ev.rollingWindows(toks, 0, 3, 4), (e) => e.code === 'EVAL_BAD_OPTION');
});

test('WikiText detokeniser undoes @-@, spaced punctuation and heading spacing', () => {
  assert.is(ev.detokenizeWikitext(' = = Early life = = \n'), ' == Early life ==\n');
  assert.is(ev.detokenizeWikitext('a 1 @,@ 000 @-@ year @.@ 5 , ( b ) " c " it \'s'), 'a 1,000-year.5, (b) "c" it\'s');
  assert.is(ev.detokenizeWikitext('x \n y'), 'x\ny');
});

test('LAMBADA split: context up to the last space, continuation = space + last word', () => {
  assert.equal(ev.splitLambada('he said hello to bob'), { context: 'he said hello to', continuation: ' bob' });
});

test('WikiText article split at top-level headings only', () => {
  const raw = ' \n = A = \n \n text one \n = = Sub = = \n more \n = B = \n two \n';
  const docs = ev.splitWikitextArticles(raw);
  assert.is(docs.length, 2);
  assert.ok(docs[0].startsWith(' = A = \n') && docs[0].includes(' = = Sub = = \n'));
  assert.is(docs[1], ' = B = \n two \n');
});

test('SVG chart is well-formed XML with escaped text, and skips non-finite points', () => {
  const svg = ev.lineChart({
    title: 'a < b & "c"', xLabel: 'layer', yLabel: 'acc',
    series: [{ name: 's1', points: [[1, 0.1], [2, NaN], [3, 0.3]], color: 'red' }],
    hlines: [{ y: 0.2, name: 'plain', color: 'black' }],
    marks: [{ x: 3, y: 0.3, label: 'best' }],
    stamp: ['model x; <stamp>'],
  });
  assert.ok(svg.includes('a &lt; b &amp; &quot;c&quot;'));
  assert.ok(!svg.includes('NaN'));
  assert.ok(svg.includes('&lt;stamp&gt;'));
  // balanced tags (a tiny XML check: every opened element is closed or self-closed)
  const stack = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (m[3] === '/') continue;
    if (m[1] === '/') assert.is(stack.pop(), m[2]);
    else stack.push(m[2]);
  }
  assert.equal(stack, []);
});

test('coherence = mean cosine of prompt and continuation embeddings (hand-computed with a stand-in encoder)', async () => {
  const vec = { a: [1, 0], b: [0, 1], c: [1, 1] };
  const fake = { embed: async (texts) => texts.map((t) => Float32Array.from(vec[t])) };
  // cos(a, c) = 1/sqrt 2, cos(b, b) = 1 -> mean (1/sqrt2 + 1) / 2
  const got = await ev.coherence(fake, ['a', 'b'], ['c', 'b']);
  close(got, (Math.SQRT1_2 + 1) / 2, 1e-7);
  close(ev.cosine([1, 2, 3], [2, 4, 6]), 1);
  close(ev.cosine([1, 0], [0, 0]), 0);
});

test('equal-length diversity: each pair cut to the shorter continuation, then measured as diversityMetrics measures', () => {
  // plain repeats "a b" 4 times (8 words); the contrasted text stops after 5 distinct words: both cut to 5 words
  const r = ev.equalLengthDiversity([['a b a b a b a b', 'p q r s t'], ['c d e f g h', 'u v w']]);
  assert.is(r.prompts, 2);
  close(r.meanWords, (5 + 3) / 2);
  // plain cut: "a b a b a" (bigrams ab ba ab: 2 of 3; trigrams aba bab: 2 of 2) and "c d e" (bigram cd: 1 of 1)
  // -> rep2 = 1 - 3/4, rep3 = 0, rep4: "a b a b a" gives abab (1 of 1), "c d e" none -> 0
  close(r.plain, (3 / 4) * 1 * 1);
  // contrasted texts have no repeats at all
  close(r.contrast, 1);
  // the whole texts' diversity would credit the shorter contrasted texts differently: the cut is what is compared
  assert.ok(ev.diversityMetrics(['a b a b a b a b', 'c d e f g h']).diversity < r.plain);
  assert.equal(ev.equalLengthDiversity([]), { prompts: 0, plain: 1, contrast: 1, meanWords: 0 });
});

test.run();
