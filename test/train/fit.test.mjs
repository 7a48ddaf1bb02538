// fitExits on tiny random models: `linear` against a float64 least-squares solve on residuals from an independent
// float64 forward pass; a resumed run equal to an uninterrupted one; the manifest round trip of fitted exits;
// fitted exits beating the logit lens; a planted head recovered from a teacher's samples; bad input.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
// Internal module under test (not public): the training data reader.
import dataPkg from '../../dist/train/data.js';
import { referenceForward } from '../graph/reference-forward.mjs';
import gen from 'autocontrast/generate';
import ort from 'onnxruntime-node';
import { graphPkg, manifestPkg, runtimeSkip, tempDir, tinyModel, tokenStream, trainPkg } from './helpers.mjs';

const skip = runtimeSkip();
const { fitExits, FitError } = trainPkg;

async function rejects(promise, code, pattern) {
  try {
    await promise;
  } catch (e) {
    assert.instance(e, FitError, `expected a FitError, got ${e?.stack}`);
    assert.is(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return e;
  }
  assert.unreachable(`expected ${code}`);
}

/** Solves the float64 least-squares problem min ||X W - Y|| by normal equations with Gaussian elimination (partial pivoting). */
function leastSquares(X, Y, rows, n, m) {
  const A = new Float64Array(n * n);
  const B = new Float64Array(n * m);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) {
      const xi = X[r * n + i];
      for (let j = 0; j < n; j++) A[i * n + j] += xi * X[r * n + j];
      for (let j = 0; j < m; j++) B[i * m + j] += xi * Y[r * m + j];
    }
  }
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(A[r * n + c]) > Math.abs(A[p * n + c])) p = r;
    for (let j = 0; j < n; j++) [A[c * n + j], A[p * n + j]] = [A[p * n + j], A[c * n + j]];
    for (let j = 0; j < m; j++) [B[c * m + j], B[p * m + j]] = [B[p * m + j], B[c * m + j]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = A[r * n + c] / A[c * n + c];
      if (f === 0) continue;
      for (let j = c; j < n; j++) A[r * n + j] -= f * A[c * n + j];
      for (let j = 0; j < m; j++) B[r * m + j] -= f * B[c * m + j];
    }
  }
  for (let r = 0; r < n; r++) for (let j = 0; j < m; j++) B[r * m + j] /= A[r * n + r];
  return B;
}

test('linear equals a float64 least-squares solve on float64 residuals', async () => {
  if (skip) return;
  for (const arch of ['llama', 'gpt2']) {
    const { dir, config } = await tinyModel(arch);
    const d = config.hiddenSize;
    const N = config.numLayers;
    const seqLen = 16;
    const tokens = tokenStream(1600, config.vocabSize, 4);
    const r = await fitExits({ model: dir, layers: [1, 2], method: 'linear', tokens, seqLen, seed: 9, out: path.join(tempDir(), 'out') });
    // The same training chunks, and their residuals from the float64 reference forward.
    const split = dataPkg.chunkTokens(tokens, { seqLen, validationFraction: 0.05, seed: 9 }, '', 'files');
    const weights = graphPkg.tinyDecoderWeights(config, 3, { std: 0.3, vectorStd: 0.1 });
    const fwd = split.train.map((c) => referenceForward(config, weights, Array.from(c)).hiddens);
    const rows = split.train.length * seqLen;
    for (const L of [1, 2]) {
      const X = new Float64Array(rows * (d + 1));
      const Y = new Float64Array(rows * d);
      let k = 0;
      for (const hs of fwd) {
        for (let t = 0; t < seqLen; t++, k++) {
          X.set(hs[L][t], k * (d + 1));
          X[k * (d + 1) + d] = 1;
          Y.set(hs[N][t], k * d);
        }
      }
      const W = leastSquares(X, Y, rows, d + 1, d);
      const p = r.params.get(L);
      let num = 0;
      let den = 0;
      let perr = 0;
      let pnorm = 0;
      for (let i = 0; i < (d + 1) * d; i++) {
        const fitted = i < d * d ? p.At[i] : p.tb[i - d * d];
        perr += (fitted - W[i]) ** 2;
        pnorm += W[i] ** 2;
      }
      for (let row = 0; row < rows; row++) {
        for (let j = 0; j < d; j++) {
          let a = 0;
          let b = 0;
          for (let i = 0; i <= d; i++) {
            const x = X[row * (d + 1) + i];
            a += x * (i < d ? p.At[i * d + j] : p.tb[j]);
            b += x * W[i * d + j];
          }
          num += (a - b) ** 2;
          den += Y[row * d + j] ** 2;
        }
      }
      const predErr = Math.sqrt(num / den);
      const paramErr = Math.sqrt(perr / pnorm);
      console.log(`  ${arch} layer ${L}: prediction error ${predErr.toExponential(2)}, parameter error ${paramErr.toExponential(2)}`);
      assert.ok(predErr < 1e-4, `${arch} layer ${L}: predictions differ by ${predErr}`);
      assert.ok(paramErr < 1e-3, `${arch} layer ${L}: parameters differ by ${paramErr}`);
    }
    // The exit written into the folder computes finalNorm(h A^T + b): its graph output against float64.
    const out = r.dir;
    const m = JSON.parse(fs.readFileSync(path.join(out, 'autocontrast.json'), 'utf8'));
    const exit = m.exits.find((e) => e.layer === 1);
    const ids = tokens.slice(0, 12);
    const session = await ort.InferenceSession.create(path.join(out, 'model.onnx'));
    const feeds = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, ids.length]),
      num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.from([0n]), []),
    };
    const kvh = m.numKvHeads;
    for (let i = 0; i < N; i++) {
      feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', new Float32Array(0), [1, kvh, 0, m.headDim]);
      feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', new Float32Array(0), [1, kvh, 0, m.headDim]);
    }
    const got = (await session.run(feeds, [exit.hiddenOutput]))[exit.hiddenOutput].data;
    const hs = referenceForward(config, weights, ids).hiddens[1];
    const p = r.params.get(1);
    const load = (n) => { const w = weights.get(n); return typeof w.data === 'function' ? w.data() : w.data; };
    let worst = 0;
    hs.forEach((h, t) => {
      const y = Array.from({ length: d }, (_, j) => h.reduce((s, v, i) => s + v * p.At[i * d + j], p.tb[j]));
      let normed;
      if (arch === 'llama') {
        const inv = 1 / Math.sqrt(y.reduce((s, v) => s + v * v, 0) / d + config.normEpsilon);
        const g = load('model.norm.weight');
        normed = y.map((v, j) => v * inv * g[j]);
      } else {
        const mu = y.reduce((s, v) => s + v, 0) / d;
        const inv = 1 / Math.sqrt(y.reduce((s, v) => s + (v - mu) ** 2, 0) / d + config.normEpsilon);
        const g = load('ln_f.weight');
        const b = load('ln_f.bias');
        normed = y.map((v, j) => (v - mu) * inv * g[j] + b[j]);
      }
      normed.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - got[t * d + j]))));
    });
    await session.release();
    console.log(`  ${arch}: written exit output vs float64 finalNorm(h A^T + b): max |diff| ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-4, `${arch}: ${worst}`);
  }
});

test('fitted exits have lower validation cross-entropy than the logit lens, and the manifest records them', async () => {
  if (skip) return;
  const { dir, config } = await tinyModel('llama');
  const tokens = tokenStream(3000, config.vocabSize, 5);
  for (const method of ['linear', 'lens', 'head']) {
    const out = path.join(tempDir(), method);
    const r = await fitExits({ model: dir, layers: [1, 2], method, tokens, seqLen: 32, batchTokens: 128, learningRate: 1e-2, out, bias: method === 'head' });
    for (const l of r.layers) {
      console.log(`  ${method} layer ${l.layer}: CE ${l.validationLoss.toFixed(4)} vs logit lens ${l.logitLensValidationLoss.toFixed(4)}`);
      assert.ok(l.validationLoss < l.logitLensValidationLoss, `${method} layer ${l.layer}`);
    }
    // Round trip: the folder validates (the graph loads with the new outputs), the records read back as written.
    const valid = await manifestPkg.validateModelFolder(out);
    const onDisk = JSON.parse(fs.readFileSync(path.join(out, 'autocontrast.json'), 'utf8'));
    assert.equal(valid.manifest, onDisk);
    assert.ok(manifestPkg.isModelManifest(onDisk));
    for (const l of r.layers) {
      const e = onDisk.exits.find((x) => x.layer === l.layer);
      assert.is(e.kind, method === 'head' ? 'head' : 'conversion');
      assert.is(e.fit.method, method);
      assert.is(e.fit.validationLoss, l.validationLoss);
      assert.is(e.fit.logitLensValidationLoss, l.logitLensValidationLoss);
      assert.is(e.fit.tokens, r.data.trainTokens);
      assert.is(e.fit.steps, r.steps);
      assert.is(e.fit.dataHash, r.data.hash);
      assert.is(e.fit.dataSource, 'files');
    }
    // The other exits and the original folder are untouched.
    assert.is(onDisk.exits.length, config.numLayers + 1);
    assert.ok(JSON.parse(fs.readFileSync(path.join(dir, 'autocontrast.json'), 'utf8')).exits.every((e) => !e.fit));
    // The fitted exits run in generation (sparse amateur path) and score differently from the logit lens.
    const m = await gen.load(out);
    const fitted = await gen.score(m, tokens.slice(0, 20), { contrast: true, amateurLayer: 1 });
    const lensM = await gen.load(dir);
    const lens = await gen.score(lensM, tokens.slice(0, 20), { contrast: true, amateurLayer: 1 });
    assert.ok(fitted.logProbs.some((v, i) => Math.abs(v - lens.logProbs[i]) > 1e-4), `${method}: the fitted amateur changes the contrast`);
    m.dispose?.();
    lensM.dispose?.();
  }
});

test('a resumed run equals an uninterrupted one', async () => {
  if (skip) return;
  const { dir, config } = await tinyModel('gpt2');
  const tokens = tokenStream(2400, config.vocabSize, 6);
  for (const method of ['head', 'lens']) {
    const base = { model: dir, layers: [1, 2], method, tokens, seqLen: 16, batchTokens: 64, learningRate: 5e-3, seed: 2 };
    const whole = await fitExits({ ...base, out: path.join(tempDir(), 'whole') });
    const ck = tempDir('ac-train-ck-');
    const first = await fitExits({ ...base, checkpointDir: ck, checkpointEvery: 5, stopAfterSteps: 7 });
    assert.ok(first.stopped);
    assert.is(first.steps, 7);
    assert.ok(fs.existsSync(path.join(ck, 'fit-exits.ckpt')));
    const resumed = await fitExits({ ...base, checkpointDir: ck, out: path.join(tempDir(), 'resumed') });
    assert.is(resumed.steps, whole.steps);
    for (const L of [1, 2]) {
      const a = whole.params.get(L);
      const b = resumed.params.get(L);
      for (const k of Object.keys(a)) {
        if (!a[k]) continue;
        let diff = 0;
        for (let i = 0; i < a[k].length; i++) diff = Math.max(diff, Math.abs(a[k][i] - b[k][i]));
        assert.is(diff, 0, `${method} layer ${L} ${k}: max difference ${diff}`);
      }
    }
    assert.equal(resumed.layers, whole.layers);
    assert.not.ok(fs.existsSync(path.join(ck, 'fit-exits.ckpt')), 'the checkpoint is removed after the run');
    // A checkpoint of another run is refused.
    await fitExits({ ...base, checkpointDir: ck, stopAfterSteps: 1 });
    await rejects(fitExits({ ...base, seed: 3, checkpointDir: ck }), 'E_FIT_RESUME', /belongs to another run/);
  }
});

test('an interrupted run (the signal, inside a step) saves everything and resumes to the uninterrupted result', async () => {
  if (skip) return;
  const { dir, config } = await tinyModel('gpt2');
  const tokens = tokenStream(2400, config.vocabSize, 6);
  // 4 chunks per step: interrupting after chunk 10 lands inside step 3, with 2 chunks of it accumulated.
  const base = { model: dir, layers: [1, 2], method: 'head', tokens, seqLen: 16, batchTokens: 64, learningRate: 5e-3, seed: 2 };
  const whole = await fitExits({ ...base, out: path.join(tempDir(), 'whole') });
  const ck = path.join(tempDir('ac-train-ck-'), 'not-yet-created');
  const stop = new AbortController();
  const e = await rejects(
    fitExits({ ...base, checkpointDir: ck, checkpointEvery: 1000, signal: stop.signal, onProgress: (p) => p.phase === 'fit' && p.done === 10 && stop.abort() }),
    'E_FIT_INTERRUPTED',
    /interrupted at step 2 .*chunk 10 .*run the same command to resume/,
  );
  assert.ok(e.message.includes(ck));
  assert.ok(fs.existsSync(path.join(ck, 'fit-exits.ckpt')), 'the checkpoint folder is created and holds the run');
  const resumed = await fitExits({ ...base, checkpointDir: ck, out: path.join(tempDir(), 'resumed') });
  assert.is(resumed.steps, whole.steps);
  for (const L of [1, 2]) {
    const a = whole.params.get(L).W, b = resumed.params.get(L).W;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    assert.is(diff, 0, `layer ${L}: max difference ${diff}`);
  }
  // Without a checkpoint folder the message says that nothing was kept.
  const stop2 = new AbortController();
  stop2.abort();
  await rejects(fitExits({ ...base, signal: stop2.signal }), 'E_FIT_INTERRUPTED', /nothing was saved/);
});

test('a planted head is recovered from its own samples', async () => {
  if (skip) return;
  // The teacher: the tiny model with a planted head at layer 2 (hidden-only exit), sampled as an early exit.
  const config = graphPkg.TINY_LLAMA_CONFIG;
  const L = 2;
  const weights = graphPkg.tinyDecoderWeights(config, 3, { std: 0.3, vectorStd: 0.1 });
  const planted = graphPkg.gaussian(config.vocabSize * config.hiddenSize, 77, 1.5);
  weights.set(`exit_heads.${L}.weight`, { dims: [config.vocabSize, config.hiddenSize], data: planted });
  const teacherDir = path.join(tempDir(), 'teacher');
  const exits = [{ layer: L, kind: 'head', logits: false }];
  await manifestPkg.writeModelFolder(teacherDir, { config, weights, exits, logitPositions: 'input', specialTokens: {} });
  const teacher = await gen.load(teacherDir);
  const tokens = [];
  for (let round = 0; tokens.length < 24000; round++) {
    const prompts = Array.from({ length: 8 }, (_, i) => [(round * 8 + i) % config.vocabSize]);
    const rs = await gen.generate(teacher, prompts, { contrast: false, expertLayer: L, strategy: 'sample', seed: round, maxNewTokens: 47, minNewTokens: 47 });
    for (const r of rs) tokens.push(...r.promptTokens, ...r.tokens);
  }
  teacher.dispose?.();
  const { dir } = await tinyModel('llama');
  const r = await fitExits({ model: dir, layers: [L], method: 'head', tokens, seqLen: 48, batchTokens: 480, learningRate: 5e-2, out: path.join(tempDir(), 'student') });
  // Compare distributions on the teacher's own positions (float64 reference forward): KL(teacher || student).
  const V = config.vocabSize;
  const d = config.hiddenSize;
  const lmHead = weights.get('lm_head.weight');
  const initHead = typeof lmHead.data === 'function' ? lmHead.data() : lmHead.data;
  const fitted = r.params.get(L).W;
  const logSoftmax = (W, n) => {
    const z = Array.from({ length: V }, (_, v) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += W[v * d + j] * n[j];
      return s;
    });
    const mx = Math.max(...z);
    const lse = mx + Math.log(z.reduce((a, x) => a + Math.exp(x - mx), 0));
    return z.map((x) => x - lse);
  };
  let klFit = 0;
  let klInit = 0;
  let agree = 0;
  let count = 0;
  for (let start = 0; start < 20 * 48; start += 48) {
    const fwd = referenceForward(config, weights, tokens.slice(start, start + 48));
    for (const n of fwd.lensHidden(L)) {
      const p = logSoftmax(planted, n);
      const q = logSoftmax(fitted, n);
      const q0 = logSoftmax(initHead, n);
      for (let v = 0; v < V; v++) {
        klFit += Math.exp(p[v]) * (p[v] - q[v]);
        klInit += Math.exp(p[v]) * (p[v] - q0[v]);
      }
      if (p.indexOf(Math.max(...p)) === q.indexOf(Math.max(...q))) agree++;
      count++;
    }
  }
  console.log(`  KL(planted || fitted) ${(klFit / count).toFixed(4)}, KL(planted || initial head) ${(klInit / count).toFixed(4)}, top-1 agreement ${(agree / count).toFixed(3)}; CE ${r.layers[0].validationLoss.toFixed(3)} (logit lens ${r.layers[0].logitLensValidationLoss.toFixed(3)})`);
  assert.ok(klFit < 0.1 * klInit, `the fitted head is not close to the planted one (KL ${klFit / count} vs ${klInit / count})`);
  assert.ok(agree / count > 0.8, `top-1 agreement ${agree / count}`);
});

test('expertHead also fits the last layer, which generation then uses as the expert', async () => {
  if (skip) return;
  const { dir, config } = await tinyModel('llama');
  const N = config.numLayers;
  const tokens = tokenStream(1200, config.vocabSize, 11);
  const out = path.join(tempDir(), 'expert');
  const r = await fitExits({ model: dir, layers: [1], method: 'head', expertHead: true, tokens, seqLen: 16, batchTokens: 64, learningRate: 1e-2, out });
  assert.equal(r.layers.map((l) => l.layer), [1, N]);
  const m = await gen.load(out);
  assert.equal(m.expertPlan(N), { layer: N, source: 'head' });
  const a = await gen.score(m, tokens.slice(0, 16), { expertLayer: N });
  const b = await gen.score(m, tokens.slice(0, 16));
  assert.ok(a.logProbs.some((v, i) => Math.abs(v - b.logProbs[i]) > 1e-4), 'the new final head changes the expert');
  m.dispose?.();
});

test('bad input: clear coded errors, nothing written', async () => {
  if (skip) return;
  const { dir, config } = await tinyModel('llama');
  const tokens = tokenStream(400, config.vocabSize, 7);
  const before = fs.readdirSync(path.dirname(dir)).sort();
  await rejects(fitExits({ model: dir, layers: [1], method: 'linear' }), 'E_FIT_NO_DATA', /no --data given and the model .* has no tokenizer/);
  await rejects(fitExits({ model: dir, layers: [4], method: 'linear', tokens }), 'E_FIT_LAYER', /layer 4 is out of range: this model has layers 1\.\.3/);
  await rejects(fitExits({ model: dir, layers: [0], method: 'head', tokens }), 'E_FIT_LAYER', /layer 0 is out of range/);
  await rejects(fitExits({ model: dir, layers: [3], method: 'lens', tokens }), 'E_FIT_OPTION', /last layer/);
  await rejects(fitExits({ model: dir, layers: [1], method: 'linear', tokens: tokens.slice(0, 40), seqLen: 32 }), 'E_FIT_DATA_SHORT', /40 tokens: at least two chunks of --seq-len 32/);
  await rejects(fitExits({ model: dir, layers: [1], method: 'ridge', tokens }), 'E_FIT_OPTION', /method must be head, lens or linear \(got "ridge"\)/);
  await rejects(fitExits({ model: dir, layers: [1], method: 'linear', tokens: [1, 2, 99] }), 'E_FIT_OPTION', /99 is not a token id/);
  const missing = path.join(tempDir(), 'nope.txt');
  await rejects(fitExits({ model: dir, layers: [1], method: 'linear', data: [missing] }), 'E_FIT_DATA_FILE', /nope\.txt: cannot be read \(ENOENT\)/);
  const existing = tempDir();
  await rejects(fitExits({ model: dir, layers: [1], method: 'linear', tokens, seqLen: 16, out: existing }), 'E_FIT_OUT', /already exists/);
  assert.equal(fs.readdirSync(path.dirname(dir)).sort(), before, 'nothing left beside the model folder');
  assert.ok(JSON.parse(fs.readFileSync(path.join(dir, 'autocontrast.json'), 'utf8')).exits.every((e) => !e.fit));
});

test.run();
