// Model folders for the decode benchmark: GPT-2-small-shaped graphs with random weights, written once into a
// cache folder (~/.cache/autocontrast/bench or $AUTOCONTRAST_BENCH_CACHE) and reused while the key matches.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import lib from '../../dist/index.js';
// Graph internals (random weights, named configs) are not in the public entry: the graph layer's subpath.
import graph from '../../dist/model/graph/index.js';

export const CACHE = process.env.AUTOCONTRAST_BENCH_CACHE ?? path.join(os.homedir(), '.cache', 'autocontrast', 'bench');
const KEY_FILE = 'bench-key.json';
const EOS = 50256;

function cached(dir, key) {
  try {
    return JSON.stringify(JSON.parse(fs.readFileSync(path.join(dir, KEY_FILE), 'utf8'))) === JSON.stringify(key);
  } catch {
    return false;
  }
}

async function writeOnce(modelDir, keyDir, key, build, log) {
  if (cached(keyDir, key) && fs.existsSync(path.join(modelDir, 'autocontrast.json'))) return false;
  const t0 = performance.now();
  fs.rmSync(keyDir, { recursive: true, force: true });
  await build();
  fs.writeFileSync(path.join(keyDir, KEY_FILE), JSON.stringify(key));
  log(`wrote ${keyDir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return true;
}

// With std 0.02 everywhere (GPT-2's initialisation) the logits of a random model are almost flat, so nearly
// the whole vocabulary passes the plausibility threshold: nothing like a trained model, whose head holds a
// handful of tokens, and the worst case for the sparse amateur. The output heads get std 0.12 instead, which
// gives logits with a spread of a few nats over normalised hidden states, as trained models have.
const HEAD_STD = 0.12;
function peaked(weights, names) {
  for (const name of names) {
    const w = weights.get(name);
    if (!w) continue;
    const data = typeof w.data === 'function' ? w.data() : w.data;
    const scaled = Float32Array.from(data, (x) => x * (HEAD_STD / 0.02));
    weights.set(name, { ...w, data: scaled });
  }
}

/**
 * GPT-2 small (12 layers, d 768, V 50257), random weights, with a logit-lens exit at `lensLayer` and a trained
 * head exit (random [V x d]) at `headLayer`, both hidden-state only (sparse amateur path), logits of the last
 * position only.
 */
export async function gpt2ExitsModel({ lensLayer = 6, headLayer = 8, seed = 5, log = console.log } = {}) {
  const cfg = graph.GPT2_SMALL_CONFIG;
  const exits = [
    { layer: lensLayer, kind: 'lens', hidden: true, logits: false },
    { layer: headLayer, kind: 'head', hidden: true, logits: false },
  ];
  const dir = path.join(CACHE, 'gpt2-small-exits');
  const key = { v: 2, cfg, exits, seed, logitPositions: 'last', headStd: HEAD_STD };
  await writeOnce(dir, dir, key, async () => {
    const weights = graph.tinyDecoderWeights(cfg, seed, { std: 0.02, vectorStd: 0.02 });
    graph.addRandomExitWeights(weights, cfg, exits, seed + 1, { std: 0.02, vectorStd: 0.02 });
    peaked(weights, ['wte.weight', `exit_heads.${headLayer}.weight`]);
    await lib.writeModelFolder(dir, { config: cfg, weights, exits, logitPositions: 'last', specialTokens: { eos: [EOS], bos: EOS }, overwrite: true });
  }, log);
  return { dir, config: cfg, exits, lensLayer, headLayer };
}

/** A WordLevel tokenizer.json over `t0 .. t{V-2}` and `<|endoftext|>` (ids only matter here). */
function wordLevelTokenizer(V) {
  const vocab = {};
  for (let i = 0; i < V; i++) vocab[i === EOS ? '<|endoftext|>' : `t${i}`] = i;
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: EOS, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null, pre_tokenizer: { type: 'WhitespaceSplit' }, post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<|endoftext|>' },
  };
}

/**
 * The plain GPT-2-small graph (no exits, logits at all positions, as Hugging Face exports) laid out the way
 * transformers.js expects: `<root>/config.json`, `tokenizer.json`, `tokenizer_config.json`,
 * `generation_config.json` and `<root>/onnx/model.onnx` (+ `model.onnx.data`). `<root>/onnx` is also an
 * autocontrast model folder (its manifest sits beside the graph), so both runtimes load the same file.
 */
export async function gpt2PlainHfModel({ seed = 5, log = console.log } = {}) {
  const cfg = graph.GPT2_SMALL_CONFIG;
  const root = path.join(CACHE, 'gpt2-small-plain-hf');
  const onnxDir = path.join(root, 'onnx');
  const key = { v: 1, cfg, seed, logitPositions: 'all' };
  await writeOnce(onnxDir, root, key, async () => {
    const weights = graph.tinyDecoderWeights(cfg, seed, { std: 0.02, vectorStd: 0.02 });
    await lib.writeModelFolder(onnxDir, { config: cfg, weights, exits: [], logitPositions: 'all', specialTokens: { eos: [EOS], bos: EOS }, overwrite: true });
    const j = (f, o) => fs.writeFileSync(path.join(root, f), JSON.stringify(o, null, 1));
    j('config.json', {
      model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], vocab_size: cfg.vocabSize, n_positions: cfg.contextLength,
      n_ctx: cfg.contextLength, n_embd: cfg.hiddenSize, n_layer: cfg.numLayers, n_head: cfg.numHeads, n_inner: null,
      activation_function: 'gelu_new', layer_norm_epsilon: cfg.normEpsilon, bos_token_id: EOS, eos_token_id: EOS,
      tie_word_embeddings: true, use_cache: true,
    });
    j('generation_config.json', { bos_token_id: EOS, eos_token_id: EOS });
    j('tokenizer_config.json', { tokenizer_class: 'PreTrainedTokenizerFast', bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', model_max_length: cfg.contextLength });
    j('tokenizer.json', wordLevelTokenizer(cfg.vocabSize));
  }, log);
  return { root, dir: onnxDir, config: cfg };
}
