// Check (e) of `npm run parity`: fidelity of every weight form `convert`/`pull` can produce, against the
// float32 form of the same GGUF (SmolLM2-135M Q4_1). Greedy decoding through the library's own `generate`
// (batch of all prompts, the pulled model's layout: every exit's hidden state, sparse amateur), plain and
// ACD at two amateur layers; at each prompt's first divergence, the float32 form's logits there (teacher-forced
// forward on onnxruntime-node) tell whether it was a near-tie; per-layer hidden-state and logit differences
// on one teacher-forced sequence. Pure Node: no Python needed.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { headQuantEffect } from './head-quant.mjs';

const require = createRequire(import.meta.url);

/** What the check decodes (fixed: the README table is generated from the results). */
export const FIDELITY = { newTokens: 32, alpha: 0.1, amateurLayers: [8, 15], nearTie: 1e-3, target: 20, headSamplesPerPrompt: 3 };

/** 21 varied prompts (written for this check: facts, instructions, stories, code, dialogue, lists, numbers). */
export const FIDELITY_PROMPTS = [
  'The capital of France is',
  'Water boils at a temperature of',
  'Here is a short poem about the sea:',
  'def fibonacci(n):',
  'The three primary colours are',
  'Once upon a time, in a small village at the edge of a forest,',
  'To bake bread, you first need to',
  'Q: What is the largest planet in the solar system?\nA:',
  'The French Revolution began in 1789 when',
  'My favourite thing about winter is',
  'In machine learning, overfitting means that',
  'The recipe calls for two cups of flour, one egg and',
  'Dear hiring manager, I am writing to apply for',
  'The quick brown fox jumps over the lazy dog. This sentence is famous because',
  'Photosynthesis converts sunlight into',
  'List of things to pack for a camping trip:\n1.',
  'The stock market fell sharply on Monday after',
  'Translate to Spanish: "Good morning, how are you?"\n',
  'A healthy breakfast might include',
  'The main difference between a virus and a bacterium is',
  '12 + 35 = 47, and 48 + 21 =',
];

const MODES = [
  { name: 'plain', options: { contrast: false } },
  ...FIDELITY.amateurLayers.map((L) => ({ name: `acd${L}`, layer: L, options: { amateurLayer: L, alpha: FIDELITY.alpha, amateurPath: 'sparse' } })),
];

function maxAbs(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function logSoftmaxAt(row, ids) {
  let max = -Infinity;
  for (const x of row) max = Math.max(max, x);
  let s = 0;
  for (const x of row) s += Math.exp(x - max);
  const lse = max + Math.log(s);
  return { lse, max, at: ids.map((i) => row[i] - lse) };
}

function dot(w, row, d, h) {
  let s = 0;
  for (let i = 0; i < d; i++) s += w[row * d + i] * h[i];
  return s;
}

/** A teacher-forced forward on onnxruntime-node: last-position logits and every exit's hidden state. */
async function forwardSession(ort, dir) {
  const man = JSON.parse(fs.readFileSync(path.join(dir, 'autocontrast.json'), 'utf8'));
  const session = await ort.InferenceSession.create(path.join(dir, man.graph.file), { intraOpNumThreads: 2 });
  const run = async (ids, keep = 1) => {
    const T = ids.length;
    const i64 = (a) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
    const feeds = { input_ids: i64(ids), attention_mask: i64(ids.map(() => 1)), position_ids: i64(ids.map((_, i) => i)) };
    for (let i = 0; i < man.numLayers; i++) {
      for (const k of ['key', 'value']) feeds[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, man.numKvHeads, 0, man.headDim]);
    }
    feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.from([BigInt(keep)]), []);
    const out = await session.run(feeds);
    const hidden = {};
    for (const e of man.exits) if (e.hiddenOutput) hidden[e.layer] = out[e.hiddenOutput].data;
    void T;
    return { logits: out.logits.data, hidden };
  };
  return { man, run, release: () => session.release() };
}

/**
 * Runs the check. `record(check, name, pass, numbers, note)` is run.mjs's recorder. Returns the summary that
 * parity/results/fidelity.json holds and the README table is made from.
 */
export async function checkFidelity({ ac, gguf, work, threads, record, log }) {
  const ort = require('onnxruntime-node');
  const forms = [...ac.WEIGHT_FORMS];
  const dirs = {};
  const t0 = Date.now();
  for (const form of forms) {
    dirs[form] = path.join(work, `fidelity-${form}`);
    await ac.convert(gguf, { out: dirs[form], exits: 'all', exitOutputs: 'hidden', weightForm: form, overwrite: true });
  }
  const convertS = (Date.now() - t0) / 1000;
  const tokens = {};
  let prompts;
  const t1 = Date.now();
  for (const form of forms) {
    const model = await ac.load(dirs[form], { intraOpThreads: threads });
    prompts ??= FIDELITY_PROMPTS.map((p) => ac.encodePrompt(model, p, { chatTemplate: 'none', addSpecialTokens: false }));
    tokens[form] = {};
    for (const mode of MODES) {
      const out = await ac.generate(model, prompts, { strategy: 'greedy', maxNewTokens: FIDELITY.newTokens, minNewTokens: FIDELITY.newTokens, ...mode.options });
      tokens[form][mode.name] = out.map((o) => o.tokens);
      log(`fidelity: ${form} ${mode.name} decoded`);
    }
    model.dispose();
  }
  const decodeS = (Date.now() - t1) / 1000;

  // Divergences: the float32 form's own logits (and amateur hidden state) at the first differing position.
  const ref = await forwardSession(ort, dirs.float32);
  const head = ac.loadHeadWeights(dirs.float32, ref.man, ac.readOnnxGraph(path.join(dirs.float32, ref.man.graph.file)), FIDELITY.amateurLayers[0]);
  const d = ref.man.hiddenSize;
  const forms2 = {};
  for (const form of forms.filter((f) => f !== 'float32')) {
    const modes = {};
    for (const mode of MODES) {
      const rows = [];
      for (let p = 0; p < prompts.length; p++) {
        const want = tokens.float32[mode.name][p];
        const got = tokens[form][mode.name][p];
        const t = want.findIndex((x, i) => x !== got[i]);
        if (t < 0) {
          rows.push({ prompt: p, agree: true });
          continue;
        }
        const r = await ref.run([...prompts[p], ...want.slice(0, t)]);
        const [a, b] = [want[t], got[t]];
        const ls = logSoftmaxAt(r.logits, [a, b]);
        const expertGap = r.logits[a] - r.logits[b];
        let gap = expertGap;
        let cutoffDistance = null;
        if (mode.layer !== undefined) {
          // ACD's score difference of the two tokens: (z_e(a) - z_e(b)) - (z_a(a) - z_a(b)); the cut-off is
          // max log p_e + ln alpha.
          const h = r.hidden[mode.layer];
          gap = expertGap - (dot(head.weight, a, d, h) - dot(head.weight, b, d, h));
          const cut = ls.max - ls.lse + Math.log(FIDELITY.alpha);
          cutoffDistance = Math.min(Math.abs(ls.at[0] - cut), Math.abs(ls.at[1] - cut));
        }
        const nearTie = Math.abs(gap) < FIDELITY.nearTie || (cutoffDistance !== null && cutoffDistance < FIDELITY.nearTie);
        rows.push({ prompt: p, agree: false, position: t, float32Token: a, formToken: b, gap, cutoffDistance, nearTie });
      }
      const exact = rows.filter((r) => r.agree).length;
      const near = rows.filter((r) => !r.agree && r.nearTie).length;
      modes[mode.name] = { exact, nearTies: near, agree: exact + near, of: rows.length, divergences: rows.filter((r) => !r.agree) };
    }
    forms2[form] = { modes };
  }
  // Per-layer differences on prompt 0 + its float32 plain continuation (teacher-forced, last position).
  const seq = [...prompts[0], ...tokens.float32.plain[0]];
  const base = await ref.run(seq);
  for (const form of Object.keys(forms2)) {
    const s = await forwardSession(ort, dirs[form]);
    const r = await s.run(seq);
    forms2[form].layers = Object.keys(base.hidden).map(Number);
    forms2[form].layerHiddenMaxAbsDiff = forms2[form].layers.map((L) => +maxAbs(r.hidden[L], base.hidden[L]).toPrecision(3));
    forms2[form].logitsMaxAbsDiff = +maxAbs(r.logits, base.logits).toPrecision(3);
    await s.release();
  }
  // A quantised head (not built: measured): the float32 form's hidden states at the last few positions of each
  // prompt's float32 ACD continuation (amateur layer 15).
  const L = FIDELITY.amateurLayers[FIDELITY.amateurLayers.length - 1];
  const k = FIDELITY.headSamplesPerPrompt;
  const samples = [];
  for (let p = 0; p < prompts.length; p++) {
    const r = await ref.run([...prompts[p], ...tokens.float32[`acd${L}`][p].slice(0, k - 1)], k);
    const N = ref.man.numLayers;
    for (let j = 0; j < k; j++) samples.push({ expert: r.hidden[N].subarray(j * d, (j + 1) * d), amateur: r.hidden[L].subarray(j * d, (j + 1) * d) });
  }
  const headQuant = { amateurLayer: L, ...headQuantEffect(head.weight, ref.man.vocabSize, d, samples, FIDELITY.alpha) };
  await ref.release();
  for (const [bits, x] of Object.entries(headQuant.bits)) {
    record('e', `a ${bits}-bit LM head (symmetric, block 32; measured, not built) vs the float32 head, ${headQuant.positions} positions, ACD amateur layer ${L} alpha ${FIDELITY.alpha}`, null, x,
      'informative: why every weight form keeps a float32 head (positions where the plausibility set, ACD\'s choice or greedy\'s choice change)');
  }
  for (const [form, f] of Object.entries(forms2)) {
    for (const [mode, m] of Object.entries(f.modes)) {
      const worst = m.divergences.map((x) => `p${x.prompt}@${x.position} gap ${x.gap.toPrecision(3)}${x.cutoffDistance !== null ? ` cut ${x.cutoffDistance.toPrecision(3)}` : ''}${x.nearTie ? ' (near-tie)' : ''}`).join('; ');
      record('e', `weight form ${form} vs float32, greedy ${FIDELITY.newTokens} tokens, ${mode === 'plain' ? 'plain' : `ACD amateur layer ${mode.slice(3)} alpha ${FIDELITY.alpha}`}, ${m.of} prompts`,
        ac.weightFormSpec(form).faithful ? m.agree >= FIDELITY.target : null,
        { identical: m.exact, nearTies: m.nearTies, agree: `${m.agree}/${m.of}` },
        `${!ac.weightFormSpec(form).faithful ? 'informative (an opt-in fast form is not held to the target); ' : `target >= ${FIDELITY.target}/${m.of}; `}first divergences (prompt@position, float32 logit/score gap of the two tokens, ACD: distance of the nearer token to the cut-off): ${worst || 'none'}`);
    }
  }
  return { date: new Date().toISOString(), params: { ...FIDELITY, prompts: FIDELITY_PROMPTS.length }, forms: forms2, headQuant, seconds: { convertS, decodeS, totalS: (Date.now() - t0) / 1000 } };
}
