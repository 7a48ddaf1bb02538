// Writes tiny random Hugging Face checkpoints (config.json + safetensors) for the tests.
import fs from 'node:fs';
import path from 'node:path';
import graphPkg from 'autocontrast/graph';
import stPkg from 'autocontrast/safetensors';

export const graph = graphPkg;

function loaded(w) {
  return typeof w.data === 'function' ? w.data() : w.data;
}

/** HF config.json for a builder config. */
export function hfConfigJson(cfg, extra = {}) {
  if (cfg.architecture === 'gpt2') {
    return {
      model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_layer: cfg.numLayers, n_embd: cfg.hiddenSize, n_head: cfg.numHeads,
      vocab_size: cfg.vocabSize, n_positions: cfg.contextLength, n_inner: cfg.intermediateSize,
      layer_norm_epsilon: cfg.normEpsilon, activation_function: cfg.activation ?? 'gelu_new',
      bos_token_id: 0, eos_token_id: 1, ...extra,
    };
  }
  return {
    model_type: cfg.attentionBias ? 'qwen2' : 'llama', architectures: ['LlamaForCausalLM'], num_hidden_layers: cfg.numLayers,
    hidden_size: cfg.hiddenSize, num_attention_heads: cfg.numHeads, num_key_value_heads: cfg.numKvHeads,
    head_dim: cfg.headDim, vocab_size: cfg.vocabSize, max_position_embeddings: cfg.contextLength,
    intermediate_size: cfg.intermediateSize, rms_norm_eps: cfg.normEpsilon, rope_theta: cfg.ropeTheta,
    tie_word_embeddings: cfg.tieWordEmbeddings, bos_token_id: 0, eos_token_id: [1, 2], ...extra,
  };
}

/**
 * Writes a checkpoint folder for builder config `cfg` with random weights (seed). `rename` maps
 * builder weight names to checkpoint names; `shards` > 1 writes an index. Returns the weights (builder names).
 */
export function writeHfCheckpoint(dir, cfg, { seed = 3, extraWeights, configExtra = {}, shards = 1, dtype = 'F32', rename } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  const weights = graph.tinyDecoderWeights(cfg, seed, { std: 0.2, vectorStd: 0.1 });
  if (extraWeights) for (const [k, v] of extraWeights) weights.set(k, v);
  const toName = rename ?? ((n) => (cfg.architecture === 'gpt2' && !n.startsWith('name_to_') ? `transformer.${n}` : n));
  const entries = [...weights].map(([k, w]) => [toName(k), { shape: w.dims, data: loaded(w), dtype }]);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(hfConfigJson(cfg, configExtra)));
  if (shards === 1) {
    fs.writeFileSync(path.join(dir, 'model.safetensors'), stPkg.encodeSafetensors(new Map(entries), { format: 'pt' }));
  } else {
    const weightMap = {};
    const per = Math.ceil(entries.length / shards);
    for (let s = 0; s < shards; s++) {
      const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
      const part = entries.slice(s * per, (s + 1) * per);
      for (const [k] of part) weightMap[k] = file;
      fs.writeFileSync(path.join(dir, file), stPkg.encodeSafetensors(new Map(part)));
    }
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  }
  return weights;
}

/** Random [rows, cols] weight. */
export function randomMatrix(rows, cols, seed) {
  const r = graph.mulberry32(seed);
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = (r() - 0.5) * 0.4;
  return { dims: [rows, cols], data };
}
