// mode 'dola' and amateurLayer 'auto' through generate / score / the CLI: greedy DoLa equals an independent loop
// (whole-sequence recompute on onnxruntime-node, candidate logits W h in float64, transformers' DoLa restated,
// repetition penalty 1.2 on the raw scores), 'auto' with one candidate equals that fixed layer, the chosen layers
// are reported per token, score agrees with generate, and bad options fail with codes.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import graphPkg from 'autocontrast/graph';
import manifestPkg from 'autocontrast/manifest';
import lib, { resolveGeneration } from 'autocontrast';
import { repoRoot } from '../import/helpers.mjs';
import { logSoftmax64 } from '../helpers/reference64.mjs';
import { ort, recompute } from '../runtime/helpers.mjs';
import { gen, runtimeSkip, storiesFolder, tempDir } from './helpers.mjs';

const skip = runtimeSkip();
// 4 layers, untied head: transformers' candidates for 'low' are 0 (the embedding output) and for 'high' 2.
const config = { ...graphPkg.TINY_LLAMA_CONFIG, numLayers: 4, vocabSize: 48 };
const N = config.numLayers;
const V = config.vocabSize;
const d = config.hiddenSize;
const PROMPT = [3, 17, 5, 29, 11];
let folder;
async function model() {
  if (folder) return folder;
  const weights = graphPkg.tinyDecoderWeights(config, 41, { std: 0.4, vectorStd: 0.1 });
  const exits = [0, 1, 2, 3].map((layer) => ({ layer, kind: 'raw', logits: false }));
  const dir = path.join(tempDir(), 'dola');
  const w = await manifestPkg.writeModelFolder(dir, { config, weights, exits, logitPositions: 'last', specialTokens: {} });
  const head = weights.get('lm_head.weight');
  folder = { dir, manifest: w.manifest, model: await gen.load(dir), head: Float64Array.from(typeof head.data === 'function' ? head.data() : head.data) };
  return folder;
}

// ---------- the independent loop ----------
function project(W, h) {
  return Array.from({ length: V }, (_, v) => {
    let s = 0;
    for (let i = 0; i < d; i++) s += W[v * d + i] * h[i];
    return s;
  });
}
/** transformers' _dola_select_contrast for one row: (scores, chosen layer). */
function dolaStep(finalLogits, candLogits, layers) {
  const lp = logSoftmax64(finalLogits);
  const lqs = candLogits.map(logSoftmax64);
  let best = 0, bestJs = -Infinity;
  lqs.forEach((lq, c) => {
    let js = 0;
    for (let v = 0; v < V; v++) {
      const m = 0.5 * (Math.exp(lp[v]) + Math.exp(lq[v]));
      js += 0.5 * (m * (Math.log(m) - lp[v]) + m * (Math.log(m) - lq[v]));
    }
    if (js / V > bestJs) {
      bestJs = js / V;
      best = c;
    }
  });
  const thr = Math.max(...lp) + Math.log(0.1);
  return { scores: lp.map((x, v) => (x < thr ? -Infinity : x - lqs[best][v])), layer: layers[best] };
}
async function referenceDola(f, layers, steps, penalty) {
  const sess = await ort.InferenceSession.create(path.join(f.dir, f.manifest.graph.file));
  const ids = PROMPT.slice();
  const out = { tokens: [], layers: [] };
  try {
    for (let s = 0; s < steps; s++) {
      const o = await recompute(sess, f.manifest, ids);
      const cands = layers.map((l) => project(f.head, o[`exit.${l}.hidden`]));
      const { scores, layer } = dolaStep(Array.from(o.logits), cands, layers);
      for (const t of new Set(ids)) scores[t] = scores[t] > 0 ? scores[t] / penalty : scores[t] * penalty;
      let t = 0;
      for (let v = 1; v < V; v++) if (scores[v] > scores[t]) t = v;
      out.tokens.push(t);
      out.layers.push(layer);
      ids.push(t);
    }
  } finally {
    await sess.release();
  }
  return out;
}

test("mode 'dola' greedy equals transformers' DoLa restated (buckets low and high, explicit layers, penalty 1.2)", async () => {
  if (skip) return;
  const f = await model();
  for (const [dolaLayers, layers] of [['low', [0]], ['high', [2]], [[0, 1, 2, 3], [0, 1, 2, 3]], [[3, 1], [3, 1]]]) {
    const want = await referenceDola(f, layers, 12, 1.2);
    const r = await gen.generate(f.model, PROMPT, { mode: 'dola', dolaLayers, maxNewTokens: 12, minNewTokens: 12 });
    assert.equal(r.tokens, want.tokens, `tokens, dolaLayers ${JSON.stringify(dolaLayers)}`);
    assert.equal(r.amateurLayers, want.layers, 'the premature layer of every token');
    assert.equal(r.contrast.candidates, layers);
    for (const lp of r.logProbs) assert.ok(lp <= 1e-6 && Number.isFinite(lp), 'normalised log-probabilities are reported');
  }
});

test("mode 'dola' uses DoLa's repetition penalty 1.2 by default; an explicit one wins", async () => {
  assert.is(resolveGeneration({ mode: 'dola' }).repetitionPenalty, 1.2);
  assert.is(resolveGeneration({ mode: 'dola', repetitionPenalty: 1 }).repetitionPenalty, 1);
  assert.is(resolveGeneration({ mode: 'acd' }).repetitionPenalty, 1);
  if (skip) return;
  const f = await model();
  const want = await referenceDola(f, [0, 1, 2, 3], 12, 1);
  const r = await gen.generate(f.model, PROMPT, { mode: 'dola', dolaLayers: [0, 1, 2, 3], repetitionPenalty: 1, maxNewTokens: 12, minNewTokens: 12 });
  assert.equal(r.tokens, want.tokens);
});

test("amateurLayer 'auto' with one candidate equals that fixed amateur (ACD and CD); layers reported per token", async () => {
  if (skip) return;
  const f = await model();
  for (const mode of ['acd', 'cd']) {
    for (const L of [1, 2]) {
      const fixed = await gen.generate(f.model, PROMPT, { mode, amateurLayer: L, maxNewTokens: 10, minNewTokens: 10 });
      const auto = await gen.generate(f.model, PROMPT, { mode, amateurLayer: 'auto', dolaLayers: [L], maxNewTokens: 10, minNewTokens: 10 });
      assert.equal(auto.tokens, fixed.tokens, `${mode} layer ${L}`);
      for (let i = 0; i < fixed.logProbs.length; i++) assert.ok(Math.abs(auto.logProbs[i] - fixed.logProbs[i]) < 1e-5);
      assert.equal(auto.amateurLayers, Array(10).fill(L));
    }
  }
  const many = await gen.generate(f.model, [PROMPT, PROMPT.slice(1)], { amateurLayer: 'auto', dolaLayers: [0, 1, 2], maxNewTokens: 8, minNewTokens: 8 });
  for (const r of many) {
    assert.is(r.amateurLayers.length, r.tokens.length);
    for (const l of r.amateurLayers) assert.ok([0, 1, 2].includes(l));
  }
});

test("score under mode 'dola' gives the log-probabilities generate reports, and the layers", async () => {
  if (skip) return;
  const f = await model();
  const r = await gen.generate(f.model, PROMPT, { mode: 'dola', dolaLayers: 'high', repetitionPenalty: 1, maxNewTokens: 6, minNewTokens: 6 });
  const s = await gen.score(f.model, [...PROMPT, ...r.tokens], { contrast: true, mode: 'dola', dolaLayers: 'high' });
  const tail = s.logProbs.slice(PROMPT.length - 1);
  for (let i = 0; i < r.tokens.length; i++) assert.ok(Math.abs(tail[i] - r.logProbs[i]) < 1e-5, `token ${i}: ${tail[i]} vs ${r.logProbs[i]}`);
  assert.equal(s.amateurLayers.slice(PROMPT.length - 1), r.amateurLayers);
});

async function rejects(p, code, re) {
  try {
    await p;
  } catch (e) {
    assert.is(e.code, code, `${e.code}: ${e.message}`);
    if (re) assert.match(e.message, re);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test('bad layer choices: coded errors naming the option', async () => {
  if (skip) return;
  const { model: m } = await model();
  await rejects(gen.generate(m, PROMPT, { mode: 'dola', dolaLayers: 'middle' }), 'ERR_INVALID_ARG_TYPE', /dolaLayers.*'low', 'high'/);
  await rejects(gen.generate(m, PROMPT, { mode: 'dola', dolaLayers: [] }), 'ERR_INVALID_ARG_TYPE', /dolaLayers/);
  await rejects(gen.generate(m, PROMPT, { mode: 'dola', dolaLayers: [1, N] }), 'ERR_DOLA_LAYERS', /the final layer/);
  await rejects(gen.generate(m, PROMPT, { mode: 'dola', dolaLayers: [1, 9] }), 'ERR_DOLA_LAYERS', /out of range/);
  await rejects(gen.generate(m, PROMPT, { mode: 'dola', amateurLayer: 2 }), 'ERR_INVALID_ARG_TYPE', /amateurLayer is not for mode 'dola'/);
  await rejects(gen.generate(m, PROMPT, { mode: 'acd', dolaLayers: 'high' }), 'ERR_INVALID_ARG_TYPE', /dolaLayers is for mode 'dola' or amateurLayer 'auto'/);
  await rejects(gen.generate(m, PROMPT, { amateurLayer: 'sometimes' }), 'ERR_INVALID_ARG_TYPE', /amateurLayer.*'auto'/);
  // a folder without an exit at a candidate layer
  const weights = graphPkg.tinyDecoderWeights(config, 41, { std: 0.4, vectorStd: 0.1 });
  const dir = path.join(tempDir(), 'few');
  await manifestPkg.writeModelFolder(dir, { config, weights, exits: [{ layer: 2, kind: 'raw', logits: false }], logitPositions: 'last', specialTokens: {} });
  const few = await gen.load(dir);
  await rejects(gen.generate(few, PROMPT, { mode: 'dola', dolaLayers: [1, 2] }), 'ERR_DOLA_LAYERS', /no exit at layer 1/);
  await rejects(gen.generate(few, PROMPT, { mode: 'dola', dolaLayers: 'low' }), 'ERR_DOLA_LAYERS', /no exit at layer 0/);
  few.dispose();
});

test("dolaHead 'int8': score's log-probabilities within the bound the candidates' logit error sets (where the layer is the same), generate and score alike; refused where it cannot apply", async () => {
  assert.is(resolveGeneration({ mode: 'dola' }).contrast.dolaHead, 'exact');
  assert.is(resolveGeneration({ amateurLayer: 'auto', dolaHead: 'int8' }).contrast.dolaHead, 'int8');
  if (skip) return;
  // the int8 blocks need a hidden size that is a multiple of 32
  const cfg = { ...config, hiddenSize: 32 };
  const weights = graphPkg.tinyDecoderWeights(cfg, 43, { std: 0.4, vectorStd: 0.1 });
  const dir = path.join(tempDir(), 'dola32');
  const layers = [0, 1, 2, 3];
  const w = await manifestPkg.writeModelFolder(dir, { config: cfg, weights, exits: layers.map((layer) => ({ layer, kind: 'raw', logits: false })), logitPositions: 'input', specialTokens: {} });
  const m = await gen.load(dir);
  try {
    const base = { mode: 'dola', dolaLayers: layers, maxNewTokens: 12, minNewTokens: 12, repetitionPenalty: 1 };
    const exact = await gen.generate(m, PROMPT, base);
    const fast = await gen.generate(m, PROMPT, { ...base, dolaHead: 'int8' });
    for (const l of fast.amateurLayers) assert.ok(layers.includes(l));
    // score follows the option: on generate's own tokens it reports generate's log-probabilities and layers
    const sf = await gen.score(m, [...PROMPT, ...fast.tokens], { contrast: true, mode: 'dola', dolaLayers: layers, dolaHead: 'int8' });
    const tail = sf.logProbs.slice(PROMPT.length - 1);
    for (let i = 0; i < fast.tokens.length; i++) assert.ok(Math.abs(tail[i] - fast.logProbs[i]) < 1e-5, `score token ${i}: ${tail[i]} vs ${fast.logProbs[i]}`);
    assert.equal(sf.amateurLayers.slice(PROMPT.length - 1), fast.amateurLayers);
    // on the exact path's tokens: the largest candidate-logit error of the int8 product, measured on the same hidden
    // states, bounds the change of DoLa's log-probabilities where both chose the same layer (log q moves by at most
    // 2 dz, the renormalisation over the head by as much again)
    const ids = [...PROMPT, ...exact.tokens];
    const se = await gen.score(m, ids, { contrast: true, mode: 'dola', dolaLayers: layers });
    const si = await gen.score(m, ids, { contrast: true, mode: 'dola', dolaLayers: layers, dolaHead: 'int8' });
    const sess = await gen.scoringSession(m);
    const o = await sess.run([ids], { keep: ids.length - 1, hidden: layers });
    const { weight } = m.candidateHead(layers[0]);
    let dz = 0;
    for (const L of layers) {
      const h = o.hidden.get(L);
      const ze = lib.candidateLogits(h, weight, { hiddenSize: 32, vocabSize: V });
      const zi = lib.candidateLogits(h, weight, { hiddenSize: 32, vocabSize: V, head: 'int8' });
      for (let i = 0; i < ze.length; i++) dz = Math.max(dz, Math.abs(zi[i] - ze[i]));
    }
    assert.ok(dz > 0, 'the int8 product differs from the exact one');
    let same = 0;
    for (let k = 0; k < se.logProbs.length; k++) {
      if (se.amateurLayers[k] !== si.amateurLayers[k]) continue;
      same++;
      // the head is the final layer's, exact in both: the same tokens fall outside it
      assert.is(si.logProbs[k] === -Infinity, se.logProbs[k] === -Infinity, `position ${k}: same head`);
      if (se.logProbs[k] === -Infinity) continue;
      assert.ok(Math.abs(si.logProbs[k] - se.logProbs[k]) <= 4 * dz + 1e-4, `position ${k}: ${si.logProbs[k]} vs ${se.logProbs[k]} (logit error ${dz})`);
    }
    assert.ok(same > 0, 'some positions chose the same layer');
    await gen.releaseScoring(m);
  } finally {
    m.dispose();
  }
  const { model: small } = await model();
  await rejects(gen.generate(small, PROMPT, { mode: 'dola', dolaLayers: 'high', dolaHead: 'int8' }), 'ERR_OUT_OF_RANGE', /dolaHead int8 needs a hidden size that is a multiple of 32.*16/);
  await rejects(gen.generate(small, PROMPT, { mode: 'acd', amateurLayer: 2, dolaHead: 'int8' }), 'ERR_INVALID_ARG_TYPE', /dolaHead is for mode 'dola' or amateurLayer 'auto'/);
  await rejects(gen.generate(small, PROMPT, { mode: 'dola', dolaHead: 'int4' }), 'ERR_INVALID_ARG_TYPE', /dolaHead.*'exact', 'int8'/);
});

function cli(args) {
  return spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'main.js'), 'generate', ...args], { encoding: 'utf8', env: { ...process.env, HOME: tempDir() } });
}

test('CLI: --mode dola --dola-layers, --amateur-layer auto, chosen layers in --json; bad values exit 1 naming the flag', async () => {
  if (skip) return;
  const f = await model();
  const stories = await storiesFolder();
  let r;
  if (stories) {
    r = cli(['--model', stories, '--prompt', 'Once upon a time', '--mode', 'dola', '--dola-layers', '1,2', '--max-new-tokens', '5', '--min-new-tokens', '5', '--json']);
    assert.is(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.is(j.amateurLayers.length, j.tokens.length);
    for (const l of j.amateurLayers) assert.ok(l === 1 || l === 2);
    assert.equal(j.contrast.candidates, [1, 2]);
  }
  r = cli(['--model', f.dir, '--prompt', 'x', '--mode', 'dola', '--dola-layers', 'top']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /--dola-layers expects low, high or a comma-separated list of layer numbers, got "top"/);
  r = cli(['--model', f.dir, '--prompt', 'x', '--amateur-layer', 'maybe']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /--amateur-layer expects an integer or auto, got "maybe"/);
  r = cli(['--model', f.dir, '--prompt', 'x', '--mode', 'acd', '--dola-layers', 'high']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /--dola-layers is for --mode dola or --amateur-layer auto/);
  r = cli(['--model', f.dir, '--prompt', 'x', '--mode', 'dola', '--dola-head', 'fast']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /--dola-head expects one of exact, int8, got "fast"/);
  r = cli(['--model', f.dir, '--prompt', 'x', '--dola-head', 'int8']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /--dola-head is for --mode dola or --amateur-layer auto/);
});

test.after(() => folder?.model.dispose());
test.run();
