/**
 * Seeded random weights for tests and benchmarks. Every tensor is generated from its own seed
 * (derived from the model seed and the tensor name) by a loader, so weights of a large
 * benchmark model are produced one at a time while the model is written.
 */
import type { DecoderConfig, ExitSpec, Gpt2Config, LlamaConfig } from './decoder-config';
import { llamaHeadDim } from './llama';
import type { WeightTensor } from './onnx/tensor-source';

/** mulberry32: a small, fast 32-bit PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a hash of a string mixed with a seed (per-tensor seeds). */
export function hashSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** `count` normal samples with mean `mean` and standard deviation `std` (Box-Muller). */
export function gaussian(count: number, seed: number, std = 1, mean = 0): Float32Array {
  const rnd = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u = 1 - rnd(); // (0, 1]
    const v = rnd();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = mean + std * r * Math.cos(2 * Math.PI * v);
    if (i + 1 < count) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** Options of the random weight generators. */
export interface RandomWeightOptions {
  /** Standard deviation of matrices (default 0.02, as GPT-2's initialisation). */
  readonly std?: number;
  /** Standard deviation of biases and of norm weights around 1 (default `std`). */
  readonly vectorStd?: number;
}

class RandomWeightMap extends Map<string, WeightTensor> {
  constructor(
    private readonly seed: number,
    private readonly opts: RandomWeightOptions,
  ) {
    super();
  }
  matrix(name: string, dims: number[]): void {
    const n = dims.reduce((a, b) => a * b, 1);
    const seed = hashSeed(this.seed, name);
    const std = this.opts.std ?? 0.02;
    this.set(name, { dims, data: () => gaussian(n, seed, std) });
  }
  vector(name: string, len: number, mean: number): void {
    const seed = hashSeed(this.seed, name);
    const std = this.opts.vectorStd ?? this.opts.std ?? 0.02;
    this.set(name, { dims: [len], data: () => gaussian(len, seed, std, mean) });
  }
}

/** Random weights for {@link buildGpt2Graph} (names as documented there). */
export function tinyGpt2Weights(config: Gpt2Config, seed: number, opts: RandomWeightOptions = {}): Map<string, WeightTensor> {
  const { numLayers: n, hiddenSize: d, vocabSize: V, intermediateSize: I } = config;
  const m = new RandomWeightMap(seed, opts);
  m.matrix('wte.weight', [V, d]);
  m.matrix('wpe.weight', [config.contextLength, d]);
  for (let i = 0; i < n; i++) {
    const p = `h.${i}`;
    m.vector(`${p}.ln_1.weight`, d, 1);
    m.vector(`${p}.ln_1.bias`, d, 0);
    m.matrix(`${p}.attn.c_attn.weight`, [d, 3 * d]);
    m.vector(`${p}.attn.c_attn.bias`, 3 * d, 0);
    m.matrix(`${p}.attn.c_proj.weight`, [d, d]);
    m.vector(`${p}.attn.c_proj.bias`, d, 0);
    m.vector(`${p}.ln_2.weight`, d, 1);
    m.vector(`${p}.ln_2.bias`, d, 0);
    m.matrix(`${p}.mlp.c_fc.weight`, [d, I]);
    m.vector(`${p}.mlp.c_fc.bias`, I, 0);
    m.matrix(`${p}.mlp.c_proj.weight`, [I, d]);
    m.vector(`${p}.mlp.c_proj.bias`, d, 0);
  }
  m.vector('ln_f.weight', d, 1);
  m.vector('ln_f.bias', d, 0);
  if (!config.tieWordEmbeddings) m.matrix('lm_head.weight', [V, d]);
  return m;
}

/** Random weights for {@link buildLlamaGraph} (names as documented there). */
export function tinyLlamaWeights(config: LlamaConfig, seed: number, opts: RandomWeightOptions = {}): Map<string, WeightTensor> {
  const { numLayers: n, hiddenSize: d, numHeads: H, numKvHeads: KVH, vocabSize: V, intermediateSize: I } = config;
  const hd = llamaHeadDim(config);
  const m = new RandomWeightMap(seed, opts);
  m.matrix('model.embed_tokens.weight', [V, d]);
  for (let i = 0; i < n; i++) {
    const p = `model.layers.${i}`;
    m.vector(`${p}.input_layernorm.weight`, d, 1);
    m.matrix(`${p}.self_attn.q_proj.weight`, [H * hd, d]);
    m.matrix(`${p}.self_attn.k_proj.weight`, [KVH * hd, d]);
    m.matrix(`${p}.self_attn.v_proj.weight`, [KVH * hd, d]);
    if (config.attentionBias) {
      m.vector(`${p}.self_attn.q_proj.bias`, H * hd, 0);
      m.vector(`${p}.self_attn.k_proj.bias`, KVH * hd, 0);
      m.vector(`${p}.self_attn.v_proj.bias`, KVH * hd, 0);
    }
    m.matrix(`${p}.self_attn.o_proj.weight`, [d, H * hd]);
    m.vector(`${p}.post_attention_layernorm.weight`, d, 1);
    m.matrix(`${p}.mlp.gate_proj.weight`, [I, d]);
    m.matrix(`${p}.mlp.up_proj.weight`, [I, d]);
    m.matrix(`${p}.mlp.down_proj.weight`, [d, I]);
  }
  m.vector('model.norm.weight', d, 1);
  if (!config.tieWordEmbeddings) m.matrix('lm_head.weight', [V, d]);
  return m;
}

/** Random weights of either architecture. */
export function tinyDecoderWeights(config: DecoderConfig, seed: number, opts: RandomWeightOptions = {}): Map<string, WeightTensor> {
  return config.architecture === 'gpt2' ? tinyGpt2Weights(config, seed, opts) : tinyLlamaWeights(config, seed, opts);
}

/**
 * Adds random trained-exit weights to `weights` for every `head` / `conversion` exit, under the
 * default names (`exit_heads.{L}.weight` [V, d] and, with `withBias`, `exit_heads.{L}.bias` [V];
 * `exit_conversions.{L}.weight` [d, d]) unless the spec names them.
 */
export function addRandomExitWeights(
  weights: Map<string, WeightTensor>,
  config: DecoderConfig,
  exits: readonly ExitSpec[],
  seed: number,
  opts: RandomWeightOptions = {},
): void {
  const m = new RandomWeightMap(seed, opts);
  const { hiddenSize: d, vocabSize: V } = config;
  for (const e of exits) {
    if (e.kind === 'head') {
      m.matrix(e.weight ?? `exit_heads.${e.layer}.weight`, [V, d]);
      if (e.bias) m.vector(e.bias, V, 0);
    } else if (e.kind === 'conversion') {
      m.matrix(e.weight ?? `exit_conversions.${e.layer}.weight`, [d, d]);
    }
  }
  for (const [k, v] of m) weights.set(k, v);
}
