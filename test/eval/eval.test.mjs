// The eval command and API end to end on stories260K (a real tiny Llama with a tokenizer) and 5 items:
// LAMBADA and WikiText scores checked against token-by-token stepping, JSON shape, the report and its SVG,
// bad input, and an interrupted run that resumes.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evalPkg as ev, gen, runtimeSkip, storiesFolder, tempDir } from './helpers.mjs';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli', 'main.js');
const skip = runtimeSkip();

const PASSAGES = [
  'Once upon a time, there was a little girl named Lily. She loved to play with her ball',
  'Tom had a big red car. He liked to drive his car',
  'The sun was shining and the birds were singing in the park',
  'Lily and Ben went to the store to buy some milk',
  'One day, a cat saw a fish in the water. The cat wanted the fish',
  'The dog ran to the tree',
];
const WIKI = ' = Lily = \n \n Lily was a little girl . She liked to play in the park with her friend Ben . \n \n = = Toys = = \n \n She had a red ball and a big dog . \n = Tom = \n \n Tom had a car @-@ toy . He was happy . \n';

let fixture = null;
async function setup() {
  if (skip) return null;
  if (fixture) return fixture;
  const dir = await storiesFolder();
  if (!dir) return null;
  const data = tempDir();
  const lambada = path.join(data, 'lambada.jsonl');
  fs.writeFileSync(lambada, PASSAGES.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  const wiki = path.join(data, 'wiki.raw');
  fs.writeFileSync(wiki, WIKI);
  const oe = path.join(data, 'prompts.json');
  fs.writeFileSync(oe, JSON.stringify(PASSAGES.map((p) => ({ prefix_text: p.split(' ').slice(0, 6).join(' '), reference_text: 'x' }))));
  fixture = { dir, lambada, wiki, oe };
  return fixture;
}

function cli(args) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function closeDeep(a, b, where = '') {
  if (typeof a === 'number') {
    assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `${where}: ${a} vs ${b}`);
  } else if (a && typeof a === 'object') {
    assert.equal(Object.keys(a), Object.keys(b), where);
    for (const k of Object.keys(a)) closeDeep(a[k], b[k], `${where}.${k}`);
  } else assert.is(a, b, where);
}

function finiteNumbers(v, where = 'result') {
  if (typeof v === 'number') assert.ok(Number.isFinite(v), `${where} is ${v}`);
  else if (Array.isArray(v)) v.forEach((x, i) => finiteNumbers(x, `${where}[${i}]`));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) finiteNumbers(x, `${where}.${k}`);
}

test('LAMBADA on 5 passages: per-passage scores equal token-by-token stepping, for the plain model, each exit and each amateur', async () => {
  const f = await setup();
  if (!f) return;
  const m = await gen.load(f.dir);
  const passages = PASSAGES.slice(0, 5);
  const exits = [1, 2, 3, 4, 5];
  const amateurs = [1, 2, 3, 4];
  const r = await ev.runLambada(m, passages, { exits, amateurs, mode: 'acd', alpha: 0.1, batch: 3, progress: false });
  assert.is(r.items.length, 5);
  let hits = 0;
  let llSum = 0;
  for (const [i, text] of passages.entries()) {
    const q = ev.lambadaRequest(m, text);
    // the continuation is the last word's tokens with its space: decoding them gives " word"
    assert.is(m.tokenizer.decode(q.ids.slice(q.from)).trim(), text.split(' ').pop());
    assert.ok(m.tokenizer.decode(q.ids).endsWith(' ' + text.split(' ').pop()));
    const n = q.ids.length - q.from;
    const check = async (plan, expert, got, what) => {
      const s = await gen.scoreByStepping(m, q.ids, plan, expert);
      const ll = s.logProbs.slice(-n).reduce((a, b) => a + b, 0);
      const greedy = s.greedy.slice(-n).every(Boolean) ? 1 : 0;
      assert.ok(Math.abs(got[0] - ll) < 1e-4, `${what} passage ${i}: ${got[0]} vs ${ll}`);
      assert.is(got[1], greedy, `${what} passage ${i} greedy`);
      return { ll, greedy };
    };
    const it = r.items.find((x) => x.i === i);
    const p = await check(null, null, it.e, 'plain');
    hits += p.greedy;
    llSum += p.ll;
    for (const L of exits) if (L < 5) await check(null, gen.expertPlan(m, { expertLayer: L }), it.x[L], `exit ${L}`);
    for (const L of amateurs) await check(gen.contrastPlan(m, { amateurLayer: L, amateurPath: 'sparse' }), null, it.c[L], `amateur ${L}`);
  }
  assert.ok(Math.abs(r.scores.plain.accuracy - hits / 5) < 1e-12);
  assert.ok(Math.abs(r.scores.plain.perplexity - Math.exp(-llSum / 5)) < 1e-4 * r.scores.plain.perplexity);
  m.dispose();
});

test('LAMBADA with the layer chosen per position (dola, acd auto): per-passage scores and chosen layers equal stepping', async () => {
  const f = await setup();
  if (!f) return;
  const m = await gen.load(f.dir);
  const passages = PASSAGES;
  for (const [mode, opts] of [['dola', { mode: 'dola', dolaLayers: [1, 2, 3] }], ['acd', { amateurLayer: 'auto', dolaLayers: [1, 2, 3] }]]) {
    const select = { candidates: [1, 2, 3], mode };
    const r = await ev.runLambada(m, passages, { exits: [], amateurs: [], mode, select, alpha: 0.1, batch: 4, progress: false });
    assert.is(r.items.length, passages.length);
    const plan = gen.contrastPlan(m, { contrast: true, ...opts });
    const want = {};
    let hits = 0;
    let gained = 0;
    let lost = 0;
    for (const [i, text] of passages.entries()) {
      const q = ev.lambadaRequest(m, text);
      const n = q.ids.length - q.from;
      const s = await gen.scoreByStepping(m, q.ids, plan, null);
      const ll = s.logProbs.slice(-n).reduce((a, b) => a + b, 0);
      const greedy = s.greedy.slice(-n).every(Boolean) ? 1 : 0;
      const it = r.items.find((x) => x.i === i);
      if (Number.isFinite(ll)) assert.ok(Math.abs(it.s[0] - ll) < 1e-4, `${mode} passage ${i}: ${it.s[0]} vs ${ll}`);
      else assert.is(it.s[0], ll, `${mode} passage ${i}: a continuation token outside DoLa's head`);
      assert.is(it.s[1], greedy, `${mode} passage ${i} greedy`);
      const h = {};
      for (const L of s.amateurLayers.slice(-n)) h[L] = (h[L] ?? 0) + 1;
      assert.equal(it.h, h, `${mode} passage ${i} chosen layers`);
      for (const [L, c] of Object.entries(h)) want[L] = (want[L] ?? 0) + c;
      hits += greedy;
      if (greedy && !it.e[1]) gained++;
      if (!greedy && it.e[1]) lost++;
    }
    const sel = r.scores.selected;
    assert.is(sel.mode, mode);
    assert.equal(sel.candidates, [1, 2, 3]);
    assert.equal(sel.layers, want);
    assert.is(Object.values(sel.layers).reduce((a, b) => a + b, 0), r.items.reduce((a, x) => a + x.n, 0), 'one chosen layer per continuation token');
    assert.ok(Math.abs(sel.accuracy - hits / passages.length) < 1e-12);
    assert.is(sel.gained, gained);
    assert.is(sel.lost, lost);
  }
  m.dispose();
});

test('WikiText word perplexity equals exp(-sum of stepped log-probs / words), with windows shorter than the articles', async () => {
  const f = await setup();
  if (!f) return;
  const m = await gen.load(f.dir);
  const docs = ev.readWikitext(f.wiki);
  assert.is(docs.length, 2);
  const r = await ev.runWikitext(m, docs, { exits: [2], amateurs: [2], mode: 'acd', alpha: 0.1, window: 8, progress: false });
  let ll = 0;
  let words = 0;
  for (const d of docs) {
    const ids = m.tokenizer.encode(ev.detokenizeWikitext(d), { addSpecialTokens: false });
    assert.ok(ids.length > 8, 'the article is longer than one window');
    // reference: every token given at most 8 tokens before it (the eot prefix first), stepped one token at a time
    // the harness's prefix token is the tokenizer's BOS (stories260K: 1)
    for (const w of ev.rollingWindows(ids, 1, 8)) {
      const s = await gen.scoreByStepping(m, w.ids, null, null);
      ll += s.logProbs.slice(w.from - 1).reduce((a, b) => a + b, 0);
    }
    words += ev.wordCount(d);
  }
  const want = Math.exp(-ll / words);
  assert.ok(Math.abs(r.scores.plain.wordPerplexity - want) < 1e-5 * want, `${r.scores.plain.wordPerplexity} vs ${want}`);
  assert.is(r.scores.contrast.length, 1);
  m.dispose();
});

test('eval command end to end: JSON shape, finite numbers, report with a well-formed SVG', async () => {
  const f = await setup();
  if (!f) return;
  const out = tempDir();
  const r = cli(['eval', 'lambada', '--model', f.dir, '--data', f.lambada, '--limit', '5', '--sweep', '--batch', '2', '--out', out, '--json', '--quiet']);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.is(j.task, 'lambada');
  assert.is(j.data.items, 5);
  assert.equal(j.settings.amateurLayers, [1, 2, 3, 4]);
  assert.equal(j.lambada.exits.map((e) => e.layer), [1, 2, 3, 4, 5]);
  assert.is(j.lambada.contrast.length, 4);
  finiteNumbers({ plain: j.lambada.plain, exits: j.lambada.exits.map((e) => e.accuracy), speed: j.speed });
  for (const k of ['date', 'cpu', 'cores', 'isa', 'library', 'load']) assert.ok(k in j.stamp, k);
  assert.ok(fs.existsSync(path.join(out, 'lambada.json')));
  const w = cli(['eval', 'wikitext', '--model', f.dir, '--data', f.wiki, '--window', '16', '--out', out, '--quiet']);
  assert.is(w.code, 0, w.err);
  assert.match(w.out, /word perplexity/);
  const o = cli(['eval', 'open-ended', '--model', f.dir, '--data', f.oe, '--limit', '2', '--max-new-tokens', '8', '--strategies', 'greedy,top-p', '--out', out, '--json', '--quiet', '--no-coherence']);
  assert.is(o.code, 0, o.err);
  const oj = JSON.parse(o.out);
  assert.is(oj.openEnded.length, 4);
  assert.match(oj.coherenceNote, /turned off/);
  for (const c of oj.openEnded) {
    assert.is(c.n, 2);
    assert.is(c.coherence, null);
    assert.ok(c.diversity >= 0 && c.diversity <= 1 && c.meanTokens > 0 && c.tokensPerSecond > 0);
    // contrasted rows carry the equal-length comparison with their plain rows (both prompts paired)
    if (c.contrast) {
      assert.is(c.equalLength.prompts, 2);
      assert.ok(c.equalLength.meanWords <= c.meanWords + 1e-9 && c.equalLength.plain >= 0 && c.equalLength.contrast <= 1);
    } else assert.is(c.equalLength, undefined);
  }
  // a layer chosen per position: LAMBADA under dola (beside the fixed default amateur) and open-ended with amateur auto
  const d = cli(['eval', 'lambada', '--model', f.dir, '--data', f.lambada, '--limit', '5', '--mode', 'dola', '--dola-layers', '1,2,3', '--out', out, '--json', '--quiet']);
  assert.is(d.code, 0, d.err);
  const dj = JSON.parse(d.out);
  assert.equal(dj.settings.candidates, [1, 2, 3]);
  assert.is(dj.settings.mode, 'dola');
  assert.equal(dj.lambada.contrast.map((c) => c.layer), [2], 'the fixed default amateur beside');
  assert.is(Object.values(dj.lambada.selected.layers).reduce((a, b) => a + b, 0) > 0, true);
  assert.ok(Object.keys(dj.lambada.selected.layers).every((L) => ['1', '2', '3'].includes(L)));
  assert.ok(fs.existsSync(path.join(out, 'lambada-dola-1+2+3.json')));
  const a = cli(['eval', 'open-ended', '--model', f.dir, '--data', f.oe, '--limit', '2', '--max-new-tokens', '8', '--strategies', 'greedy', '--amateur-layer', 'auto', '--out', out, '--json', '--quiet', '--no-coherence']);
  assert.is(a.code, 0, a.err);
  const aj = JSON.parse(a.out);
  const ac = aj.openEnded.find((c) => c.contrast);
  assert.is(Object.values(ac.layers).reduce((x, y) => x + y, 0), ac.meanTokens * ac.n, 'one chosen layer per generated token');
  assert.is(aj.openEnded.find((c) => !c.contrast).layers, undefined);
  assert.equal(aj.settings.repetitionPenalty, { plain: 1, contrast: 1 });
  assert.ok(fs.existsSync(path.join(out, 'open-ended-greedy-acd-auto-high.json')));
  // plain continuations are shared by runs that differ in their contrast (a repetition penalty of 1 is plain's default)
  const rp1 = cli(['eval', 'open-ended', '--model', f.dir, '--data', f.oe, '--limit', '2', '--max-new-tokens', '8', '--strategies', 'greedy', '--mode', 'dola', '--repetition-penalty', '1', '--out', out, '--json', '--quiet', '--no-coherence']);
  assert.is(rp1.code, 0, rp1.err);
  assert.equal(JSON.parse(rp1.out).settings.repetitionPenalty, { plain: 1, contrast: 1 });
  assert.ok(fs.existsSync(path.join(out, 'open-ended-greedy-dola-high-rp1.json')));
  assert.is(fs.readdirSync(path.join(out, 'cache')).filter((n) => n.startsWith('open-ended-plain-')).length, 1, 'one plain cache');
  // a WikiText sweep on the first article only: the per-layer table and plot come from it, while Table 4 keeps
  // the run over more articles (the main result is the one with the most items)
  const wa = cli(['eval', 'wikitext', '--model', f.dir, '--data', f.wiki, '--window', '16', '--amateur-layer', '2', '--out', out, '--quiet']);
  assert.is(wa.code, 0, wa.err);
  const ws = cli(['eval', 'wikitext', '--model', f.dir, '--data', f.wiki, '--window', '16', '--limit', '1', '--sweep', '--out', out, '--json', '--quiet']);
  assert.is(ws.code, 0, ws.err);
  const wsj = JSON.parse(ws.out);
  assert.is(wsj.data.items, 1);
  const wmain = JSON.parse(fs.readFileSync(path.join(out, 'wikitext-acd2.json'), 'utf8'));
  assert.ok(wmain.data.items > 1);
  const rep = cli(['report', '--results', out]);
  assert.is(rep.code, 0, rep.err);
  const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
  for (const s of ['Table 4 shape', 'Table 6 shape', 'Table 1 shape', 'Table 5 shape', 'lambada-accuracy.svg', 'Compared with the paper', 'Layer chosen per position', 'chosen-layers.svg', 'Per layer (Figure 4 shape)', 'wikitext-perplexity.svg', 'at equal length', '**Greedy diversity**', '**LAMBADA accuracy**']) assert.ok(md.includes(s), s);
  const t4 = md.split('\n').find((l) => l.startsWith('| WikiText-2 | word perplexity |'));
  assert.ok(t4.includes(` ${wmain.wikitext.plain.wordPerplexity.toFixed(2)} `), `Table 4 shows the run over ${wmain.data.items} articles: ${t4}`);
  assert.ok(fs.readFileSync(path.join(out, 'wikitext-perplexity.svg'), 'utf8').includes('1 of '), 'the plot names its item count');
  assert.ok(fs.readFileSync(path.join(out, 'chosen-layers.svg'), 'utf8').startsWith('<svg'));
  const svg = fs.readFileSync(path.join(out, 'lambada-accuracy.svg'), 'utf8');
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"') && svg.trim().endsWith('</svg>'));
  const stack = [];
  for (const mm of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (mm[3] === '/') continue;
    if (mm[1] === '/') assert.is(stack.pop(), mm[2]);
    else stack.push(mm[2]);
  }
  assert.equal(stack, []);
  assert.ok(svg.includes(path.basename(f.lambada)), 'the plot names its data');
});

test('bad input: missing or malformed data, --limit 0, an exit layer the model lacks, unknown task: coded one-line errors', async () => {
  const f = await setup();
  if (!f) return;
  const out = tempDir();
  const one = (r, re) => {
    assert.is(r.code, 1, r.err);
    assert.is(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, re);
    return r.err.trim();
  };
  one(cli(['eval', 'lambada', '--model', f.dir, '--data', path.join(out, 'nope.jsonl'), '--out', out]), /LAMBADA data not found at .*nope\.jsonl/);
  const bad = path.join(out, 'bad.jsonl');
  fs.writeFileSync(bad, '{"text": "a b"}\n{"text": 3}\n');
  one(cli(['eval', 'lambada', '--model', f.dir, '--data', bad, '--out', out]), /bad\.jsonl:2: expected \{"text": string\}/);
  fs.writeFileSync(bad, '{"text": "a b"}\nnot json\n');
  one(cli(['eval', 'lambada', '--model', f.dir, '--data', bad, '--out', out]), /bad\.jsonl:2: not a JSON object/);
  one(cli(['eval', 'lambada', '--model', f.dir, '--data', f.lambada, '--limit', '0', '--out', out]), /--limit must be an integer >= 1, got 0/);
  one(cli(['eval', 'lambada', '--model', f.dir, '--data', f.lambada, '--amateur-layer', '9', '--out', out]), /--amateur-layer 9: the model has no exit there \(exits: 1, 2, 3, 4, 5/);
  // options shared with generate are checked by the one configuration: the same message as generate's
  const alphaMsg = one(cli(['eval', 'lambada', '--alpha', '2']), /--alpha expects a number in \[0, 1\], got 2/);
  const genMsg = cli(['generate', '--alpha', '2', '--prompt', 'x']).err.trim().split('\n')[0];
  assert.ok(genMsg.includes('--alpha expects a number in [0, 1], got 2'), genMsg);
  assert.ok(alphaMsg.includes(genMsg.slice(genMsg.indexOf('--alpha'))), `${alphaMsg} | ${genMsg}`);
  // DoLa and amateur layer auto: bad buckets, empty lists, layers the model lacks, the final layer, conflicts
  one(cli(['eval', 'lambada', '--mode', 'dola', '--dola-layers', 'middle']), /--dola-layers expects low, high or a comma-separated list of layer numbers, got "middle"/);
  one(cli(['eval', 'lambada', '--amateur-layer', 'auto', '--dola-layers', '']), /--dola-layers expects low, high or a comma-separated list of layer numbers, got ""/);
  one(cli(['eval', 'lambada', '--mode', 'dola', '--amateur-layer', '3']), /--amateur-layer is not for --mode "?dola/);
  one(cli(['eval', 'lambada', '--dola-layers', 'low']), /--dola-layers is for --mode "?dola"? or --amateur-layer "?auto/);
  one(cli(['eval', 'lambada', '--sweep', '--mode', 'dola']), /--sweep contrasts with every exit/);
  one(cli(['eval', 'lambada', '--repetition-penalty', '1.2', '--mode', 'dola']), /--repetition-penalty is for open-ended generation/);
  one(cli(['eval', 'lambada', '--model', f.dir, '--data', f.lambada, '--mode', 'dola', '--dola-layers', '2,9', '--out', out]), /--mode dola chooses among --dola-layers: .*9/);
  one(cli(['eval', 'lambada', '--model', f.dir, '--data', f.lambada, '--amateur-layer', 'auto', '--dola-layers', '5', '--out', out]), /--amateur-layer auto chooses among --dola-layers: .*final layer/);
  one(cli(['eval', 'open-ended', '--model', f.dir, '--data', f.oe, '--mode', 'dola', '--dola-layers', '1,1', '--out', out]), /--dola-layers holds layer 1 twice/);
  one(cli(['eval', 'lambada', '--amateur-layer', 'middle']), /--amateur-layer expects an integer, got "middle"/);
  one(cli(['eval', 'squad']), /unknown task "squad"/);
  one(cli(['report', '--results', path.join(out, 'empty')]), /no results in/);
  assert.ok(!fs.existsSync(path.join(out, 'lambada.json')), 'no result written by a failed run');
  // the API names its fields and carries the code
  const e = await ev.evaluate('lambada', { model: f.dir, data: f.lambada, limit: 0 }).catch((x) => x);
  assert.is(e.code, 'EVAL_BAD_OPTION');
  assert.match(e.message, /options\.limit/);
  const e2 = await ev.evaluate('lambada', { model: f.dir, data: f.lambada, amateurLayer: 9, out, progress: false }).catch((x) => x);
  assert.is(e2.code, 'EVAL_BAD_LAYER');
  const e3 = await ev.evaluate('lambada', { model: f.dir, data: f.lambada, amateurLayer: 'auto', dolaLayers: [], out, progress: false }).catch((x) => x);
  assert.is(e3.code, 'EVAL_BAD_OPTION');
  assert.match(e3.message, /dolaLayers/);
  const e4 = await ev.evaluate('lambada', { model: f.dir, data: f.lambada, mode: 'dola', dolaLayers: [7], out, progress: false }).catch((x) => x);
  assert.is(e4.code, 'EVAL_BAD_LAYER');
  assert.match(e4.message, /^options\.mode dola chooses among options\.dolaLayers: .*7/);
  const e5 = await ev.evaluate('lambada', { model: f.dir, data: f.lambada, mode: 'dola', dolaLayers: 'middle', out, progress: false }).catch((x) => x);
  assert.is(e5.code, 'EVAL_BAD_OPTION');
});

test('an interrupted run resumes from its cache (a torn last line is redone) and gives the uninterrupted result', async () => {
  const f = await setup();
  if (!f) return;
  const m = await gen.load(f.dir);
  const base = { model: m, data: f.lambada, sweep: true, batch: 2, progress: false };
  const full = await ev.evaluate('lambada', { ...base, out: tempDir() });
  const out = tempDir();
  // stop after the first batch
  const ac = new AbortController();
  const orig = process.stderr.write;
  const first = await ev.evaluate('lambada', { ...base, out, limit: 2 });
  assert.is(first.data.items, 2);
  const cacheDir = path.join(out, 'cache');
  const [file] = fs.readdirSync(cacheDir);
  const cache = path.join(cacheDir, file);
  assert.is(fs.readFileSync(cache, 'utf8').trim().split('\n').length, 3); // settings + 2 items
  fs.appendFileSync(cache, '{"i": 4, "n": 2, "e": [-1.'); // a torn write
  // a run stopped before its first batch reports what had finished (the 2 cached items), the torn line dropped
  ac.abort();
  const aborted = await ev.evaluate('lambada', { ...base, out, signal: ac.signal });
  assert.is(aborted.data.items, 2);
  assert.is(fs.readFileSync(cache, 'utf8').trim().split('\n').length, 3);
  // with nothing finished at all, nothing is written
  const none = await ev.evaluate('lambada', { ...base, out: tempDir(), signal: ac.signal }).catch((x) => x);
  assert.is(none.code, 'EVAL_NO_RESULTS');
  void orig;
  const resumed = await ev.evaluate('lambada', { ...base, out });
  assert.is(resumed.data.items, 6);
  // equal up to float noise (batches are padded differently when a run resumes)
  closeDeep(resumed.lambada, full.lambada);
  const lines = fs.readFileSync(cache, 'utf8').trim().split('\n');
  assert.is(lines.length, 7);
  for (const l of lines) JSON.parse(l);
  // each item carries its share of the wall time; the whole set's time sums the parts: the first part's items
  // and this run's, which together cover no more than the two runs' scoring time
  const recs = lines.slice(1).map((l) => JSON.parse(l));
  for (const r of recs) assert.ok(r.w > 0, `item ${r.i} has no wall time`);
  const sum = (rs) => rs.reduce((a, r) => a + r.w, 0);
  const firstPart = recs.filter((r) => r.i < 2);
  assert.ok(Math.abs(first.totalSpeed.seconds - sum(firstPart)) < 1e-9);
  assert.ok(sum(firstPart) <= first.speed.seconds + 1e-9);
  assert.ok(sum(recs.filter((r) => r.i >= 2)) <= resumed.speed.seconds + 1e-9);
  assert.is(resumed.totalSpeed.items, 6);
  assert.ok(Math.abs(resumed.totalSpeed.seconds - sum(recs)) < 1e-9);
  assert.is(resumed.totalSpeed.tokens, recs.reduce((a, r) => a + r.t, 0));
  assert.is(resumed.totalSpeed.tokens, full.totalSpeed.tokens);
  // a cache written before items carried their time gives no whole-set time (rather than a partial one)
  const old = tempDir();
  fs.mkdirSync(path.join(old, 'cache'));
  fs.writeFileSync(path.join(old, 'cache', file), lines.map((l, k) => (k === 0 ? l : JSON.stringify({ ...JSON.parse(l), w: undefined }))).join('\n') + '\n');
  const fromOld = await ev.evaluate('lambada', { ...base, out: old });
  assert.is(fromOld.resumedItems, 6);
  assert.is(fromOld.totalSpeed, undefined);
  // a cache of other settings is refused rather than mixed
  const other = await ev.evaluate('lambada', { ...base, sweep: false, out }).then(() => null, (x) => x);
  assert.is(other, null, 'other settings use another cache file');
  fs.writeFileSync(path.join(cacheDir, fs.readdirSync(cacheDir).find((n) => n !== file)), '{"settings":{"other":1}}\n');
  const mismatch = await ev.evaluate('lambada', { ...base, sweep: false, out }).catch((x) => x);
  assert.is(mismatch.code, 'EVAL_CACHE_MISMATCH');
  m.dispose();
});

test.run();
