// Early exit (expertLayer): greedy from exit L equals greedy on onnxruntime-node's own exit.{L}.logits (full
// recompute on the JS API), expertLayer = numLayers equals the default, a hidden-only folder (hidden x head via
// headLogits) gives the tokens of a folder with exit logits, a trained final head is selected by
// expertLayer = numLayers, ACD with an early expert runs (alpha = 1 equals plain early exit), and errors.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import graphPkg from 'autocontrast/graph';
import manifestPkg from 'autocontrast/manifest';
import { repoRoot } from '../import/helpers.mjs';
import { ort, recompute } from '../runtime/helpers.mjs';
import { gen, maxAbsDiff, runtimeSkip, storiesFolder, tempDir } from './helpers.mjs';

const skip = runtimeSkip();
const config = graphPkg.TINY_GPT2_CONFIG; // 3 layers, vocabulary 40
const N = config.numLayers;

// One set of random weights (decoder and exit heads), written as folders that differ only in their exits.
const WEIGHT_EXITS = [
  { layer: 1, kind: 'head', bias: 'exit_heads.1.bias' },
  { layer: 2, kind: 'lens' },
  { layer: 3, kind: 'head', bias: 'exit_heads.3.bias' },
];
const folders = new Map();
async function folder(name, exits) {
  if (folders.has(name)) return folders.get(name);
  const weights = graphPkg.tinyDecoderWeights(config, 31, { std: 0.3, vectorStd: 0.1 });
  graphPkg.addRandomExitWeights(weights, config, WEIGHT_EXITS, 32, { std: 0.3, vectorStd: 0.1 });
  const dir = path.join(tempDir(), name);
  const w = await manifestPkg.writeModelFolder(dir, { config, weights, exits, logitPositions: 'last', specialTokens: {} });
  const model = await gen.load(dir);
  const f = { dir, model, manifest: w.manifest };
  folders.set(name, f);
  return f;
}
// Exits 1 (trained head) and 2 (lens) with both outputs; no exit at the last layer.
const withLogits = () => folder('logits', WEIGHT_EXITS.slice(0, 2));
// The same exits, hidden state only: early exit computes hidden x head with headLogits.
const hiddenOnly = () => folder('hidden', WEIGHT_EXITS.slice(0, 2).map((e) => ({ ...e, logits: false })));
// Exit 2 (lens) and a trained final head at layer 3 (as multi-exit checkpoints with the last layer in their heads).
const finalHead = () => folder('final-head', WEIGHT_EXITS.slice(1));

const PROMPT = [3, 17, 5, 29, 11];
const NEW = 10;

/** Greedy on the argmax of `output` recomputed from scratch on onnxruntime-node's JS API. */
async function referenceGreedy(f, output) {
  f.session ??= await ort.InferenceSession.create(path.join(f.dir, f.manifest.graph.file));
  const ids = PROMPT.slice();
  for (let s = 0; s < NEW; s++) {
    const ref = await recompute(f.session, f.manifest, ids);
    const z = ref[output];
    let best = 0;
    for (let v = 1; v < z.length; v++) if (z[v] > z[best]) best = v;
    ids.push(best);
  }
  return ids.slice(PROMPT.length);
}

test('early-exit greedy at layer L equals greedy on onnxruntime-node exit.{L}.logits', async () => {
  if (skip) return;
  const f = await withLogits();
  for (const L of [1, 2]) {
    const r = await gen.generate(f.model, PROMPT, { contrast: false, expertLayer: L, maxNewTokens: NEW });
    assert.equal(r.expert, { layer: L, source: 'logits' });
    assert.equal(r.tokens, await referenceGreedy(f, `exit.${L}.logits`), `layer ${L}`);
  }
  const plain = await gen.generate(f.model, PROMPT, { contrast: false, maxNewTokens: NEW });
  assert.equal(plain.tokens, await referenceGreedy(f, 'logits'));
  assert.is(plain.expert, null);
});

test('expertLayer = numLayers without a final head equals the default', async () => {
  if (skip) return;
  const f = await withLogits();
  const d = await gen.generate(f.model, PROMPT, { contrast: false, maxNewTokens: NEW });
  const e = await gen.generate(f.model, PROMPT, { contrast: false, expertLayer: N, maxNewTokens: NEW });
  assert.is(e.expert, null);
  assert.equal(e.tokens, d.tokens);
  assert.equal(e.logProbs, d.logProbs);
  const c = await gen.generate(f.model, PROMPT, { expertLayer: N, amateurLayer: 1, maxNewTokens: NEW });
  const c0 = await gen.generate(f.model, PROMPT, { amateurLayer: 1, maxNewTokens: NEW });
  assert.equal(c.tokens, c0.tokens);
});

test('a hidden-only folder (hidden x head) gives the early-exit tokens of a folder with exit logits', async () => {
  if (skip) return;
  const a = await withLogits();
  const b = await hiddenOnly();
  for (const L of [1, 2]) {
    const ra = await gen.generate(a.model, PROMPT, { contrast: false, expertLayer: L, maxNewTokens: NEW });
    const rb = await gen.generate(b.model, PROMPT, { contrast: false, expertLayer: L, maxNewTokens: NEW });
    assert.equal(rb.expert, { layer: L, source: 'head' });
    assert.equal(rb.tokens, ra.tokens, `layer ${L}`);
    assert.ok(maxAbsDiff(rb.logProbs, ra.logProbs) < 1e-4, `log-probs, layer ${L}`);
  }
  // contrast with an early expert from the head path and a sparse amateur below it
  const ca = await gen.generate(a.model, PROMPT, { expertLayer: 2, amateurLayer: 1, alpha: 0.2, maxNewTokens: NEW });
  const cb = await gen.generate(b.model, PROMPT, { expertLayer: 2, amateurLayer: 1, alpha: 0.2, maxNewTokens: NEW });
  assert.equal(cb.tokens, ca.tokens);
  // score with expertLayer gives generate's log-probabilities for the same tokens
  const g = await gen.generate(b.model, PROMPT, { contrast: false, expertLayer: 1, maxNewTokens: NEW });
  const sg = await gen.score(b.model, PROMPT.concat(g.tokens), { expertLayer: 1 });
  assert.equal(sg.expert, { layer: 1, source: 'head' });
  assert.ok(maxAbsDiff(sg.logProbs.slice(PROMPT.length - 1), g.logProbs) < 1e-4);
});

test('a trained final head at layer numLayers is selected by expertLayer = numLayers', async () => {
  if (skip) return;
  const f = await finalHead();
  assert.equal(f.model.expertPlan(N), { layer: N, source: 'logits' });
  const r = await gen.generate(f.model, PROMPT, { contrast: false, expertLayer: N, maxNewTokens: NEW });
  assert.equal(r.tokens, await referenceGreedy(f, `exit.${N}.logits`));
  const d = await gen.generate(f.model, PROMPT, { contrast: false, maxNewTokens: NEW });
  assert.equal(d.tokens, await referenceGreedy(f, 'logits'), 'the default stays the original head');
  assert.is(d.expert, null);
});

test('errors: amateur at or above the expert, expert layer without an exit, out of range', async () => {
  if (skip) return;
  const f = await finalHead(); // exits 2 and 3
  const rangeErr = (re) => (e) => e instanceof RangeError && re.test(e.message);
  await assertRejects(gen.generate(f.model, PROMPT, { expertLayer: 2, amateurLayer: 2 }), rangeErr(/amateurLayer 2 must be below expertLayer 2/));
  await assertRejects(gen.generate(f.model, PROMPT, { expertLayer: 1, contrast: false }), rangeErr(/expertLayer 1 has no exit in this model \(exits: 2, 3/));
  await assertRejects(gen.generate(f.model, PROMPT, { expertLayer: 2 }), rangeErr(/no exit below the expert layer 2/));
  await assertRejects(gen.generate(f.model, PROMPT, { expertLayer: 4, contrast: false }), rangeErr(/out of range/));
  await assertRejects(gen.generate(f.model, PROMPT, { expertLayer: 1.5, contrast: false }), (e) => e instanceof TypeError);
  await assertRejects(gen.score(f.model, PROMPT, { expertLayer: 1 }), rangeErr(/has no exit/));
});

async function assertRejects(p, check) {
  try {
    await p;
  } catch (e) {
    assert.ok(check(e), `unexpected error: ${e}`);
    return;
  }
  assert.unreachable('expected a rejection');
}

// ---- stories260K (a real tiny Llama, 5 layers; every layer has an exit) ----
let S = null;
async function stories() {
  if (skip) return null;
  if (S) return S;
  const dir = await storiesFolder();
  if (!dir) return null;
  S = await gen.load(dir);
  return S;
}
const BOS = [1];

test('stories260K: ACD with an early expert runs, and alpha = 1 equals plain early exit', async () => {
  const m = await stories();
  if (!m) return;
  const L = m.numLayers - 1;
  const plain = await gen.generate(m, BOS, { contrast: false, expertLayer: L, maxNewTokens: 24 });
  console.log(`  early exit at ${L}: ${JSON.stringify(plain.text)}`);
  assert.ok(plain.tokens.length > 0);
  for (const amateurLayer of [1, 2]) {
    const one = await gen.generate(m, BOS, { expertLayer: L, amateurLayer, alpha: 1, maxNewTokens: 24 });
    assert.equal(one.tokens, plain.tokens, `amateur ${amateurLayer}`);
  }
  const acd = await gen.generate(m, BOS, { expertLayer: L, maxNewTokens: 24 });
  console.log(`  acd expert ${L} amateur ${acd.contrast.layer} (${acd.contrast.path}): ${JSON.stringify(acd.text)}`);
  assert.ok(acd.contrast.layer < L);
  assert.ok(acd.logProbs.every((x) => x <= 0 && Number.isFinite(x)));
  const dense = await gen.generate(m, BOS, { expertLayer: L, amateurLayer: acd.contrast.layer, amateurPath: 'dense', maxNewTokens: 24 });
  assert.equal(dense.tokens, acd.tokens, 'sparse and dense amateur agree');
  await assertRejects(gen.generate(m, BOS, { expertLayer: 2, amateurLayer: 3 }), (e) => e instanceof RangeError && /must be below expertLayer/.test(e.message));
});

test('CLI: --expert-layer', async () => {
  const m = await stories();
  if (!m) return;
  const cli = (args) => spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'main.js'), 'generate', ...args], { encoding: 'utf8' });
  const r = cli(['--model', m.dir, '--prompt', 'Once upon a time', '--no-contrast', '--expert-layer', '3', '--max-new-tokens', '8', '--json']);
  assert.is(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.expert, { layer: 3, source: 'logits' });
  const api = await gen.generate(m, 'Once upon a time', { contrast: false, expertLayer: 3, maxNewTokens: 8 });
  assert.equal(o.tokens, api.tokens);
  const bad = cli(['--model', m.dir, '--prompt', 'Once upon a time', '--expert-layer', '2', '--amateur-layer', '3']);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /--amateur-layer 3 must be below --expert-layer 2/);
  assert.not.match(bad.stderr, /\n\s+at /);
});

test.run();
