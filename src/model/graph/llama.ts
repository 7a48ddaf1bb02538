/**
 * Llama-family decoder graph: RMSNorm, rotary positions (layout chosen by `config.rotary`),
 * grouped-query attention, SwiGLU MLP, optional q/k/v biases (Qwen2), tied or untied LM head.
 *
 * Weight names and shapes (Hugging Face `LlamaForCausalLM` state dict; linear weights in
 * PyTorch `[out, in]` layout, transposed and fused into `[in, out]` initializers when written):
 * - `model.embed_tokens.weight` [V, d]
 * - `model.layers.{i}.input_layernorm.weight` [d], `.post_attention_layernorm.weight` [d]
 * - `model.layers.{i}.self_attn.q_proj.weight` [H*hd, d], `k_proj` / `v_proj` [kvH*hd, d],
 *   `o_proj` [d, H*hd]; with `attentionBias`: `q_proj.bias` [H*hd], `k_proj.bias` / `v_proj.bias` [kvH*hd]
 * - `model.layers.{i}.mlp.gate_proj.weight` / `up_proj.weight` [I, d], `down_proj.weight` [d, I]
 * - `model.norm.weight` [d]; `lm_head.weight` [V, d] only when `tieWordEmbeddings` is false.
 *
 * Q/K rows must match `config.rotary`: Hugging Face checkpoints use `half`; llama.cpp GGUF
 * files store Llama Q/K in the Meta (`interleaved`) order.
 */
import { selfAttention } from './attention';
import type { DecoderBuildOptions, LlamaConfig } from './decoder-config';
import { checkBaseConfig, declarePresentOutputs, newDecoderGraph, type BuiltDecoderGraph } from './decoder-graph';
import { attentionBias, declareDecoderInputs } from './decoder-inputs';
import { buildDecoderOutputs } from './decoder-outputs';
import { presentName } from './io-names';
import { rmsNorm, silu } from './layers';
import { Ops } from './onnx/ops';
import type { WeightMap } from './onnx/tensor-source';
import { ropeInverseFrequencies, rotaryTables } from './rotary';
import { WeightReader } from './weight-reader';
import { builtWeightForm } from './weight-forms';

/** Head width of a Llama config (explicit or hiddenSize / numHeads). */
export function llamaHeadDim(config: LlamaConfig): number {
  return config.headDim ?? config.hiddenSize / config.numHeads;
}

/** Builds a Llama-family multi-exit decoder graph. See the module comment for weight names. */
export function buildLlamaGraph(config: LlamaConfig, weights: WeightMap, options: DecoderBuildOptions = {}): BuiltDecoderGraph {
  const { numLayers: n, hiddenSize: d, numHeads: H, numKvHeads: KVH, vocabSize: V, intermediateSize: I } = config;
  const hd = llamaHeadDim(config);
  checkBaseConfig(config, hd, KVH);
  if (config.rotary !== 'half' && config.rotary !== 'interleaved') {
    throw new RangeError(`config.rotary must be 'half' or 'interleaved' (got ${String(config.rotary)})`);
  }
  const g = newDecoderGraph('llama_multi_exit', options);
  const ops = new Ops(g);
  const w = new WeightReader(weights, g, options.matMulNBits);
  const positions = options.logitPositions ?? 'all';
  const inputs = declareDecoderInputs(g, n, KVH, hd, positions === 'input');
  const bias = attentionBias(ops, inputs);
  const eps = config.normEpsilon;
  const invFreq = config.ropeInvFreq ?? ropeInverseFrequencies(hd, config.ropeTheta);
  const rotary = rotaryTables(ops, inputs.positionIds, hd, invFreq, config.rotary);
  const qOut = H * hd;
  const kvOut = KVH * hd;

  const embed = w.initializer('model.embed_tokens.weight', [V, d]);
  let x = ops.gather(embed, inputs.inputIds);
  const hiddens = [x];
  for (let i = 0; i < n; i++) {
    const p = `model.layers.${i}`;
    const a = rmsNorm(ops, x, w.initializer(`${p}.input_layernorm.weight`, [d]), eps);
    const proj = (m: string) => `${p}.self_attn.${m}_proj`;
    const qkvParts = [
      { name: `${proj('q')}.weight`, dims: [qOut, d] },
      { name: `${proj('k')}.weight`, dims: [kvOut, d] },
      { name: `${proj('v')}.weight`, dims: [kvOut, d] },
    ];
    const qkvB = config.attentionBias
      ? w.fusedVector(`${p}.self_attn.qkv.bias`, [
          { name: `${proj('q')}.bias`, dims: [qOut] },
          { name: `${proj('k')}.bias`, dims: [kvOut] },
          { name: `${proj('v')}.bias`, dims: [kvOut] },
        ])
      : undefined;
    const [q, k, v] = ops.split(w.linear(ops, a, `${p}.self_attn.qkv.weight_t`, qkvParts, qkvB), [qOut, kvOut, kvOut], -1);
    const ctx = selfAttention(ops, {
      q, k, v, numHeads: H, numKvHeads: KVH, headDim: hd,
      pastKey: inputs.past[i].key, pastValue: inputs.past[i].value,
      presentKey: presentName(i, 'key'), presentValue: presentName(i, 'value'),
      bias, rotary,
    });
    x = ops.add(x, w.linear(ops, ctx, `${proj('o')}.weight_t`, [{ name: `${proj('o')}.weight`, dims: [d, qOut] }]));
    const m = rmsNorm(ops, x, w.initializer(`${p}.post_attention_layernorm.weight`, [d]), eps);
    const mlp = (name: string) => `${p}.mlp.${name}_proj.weight`;
    const guParts = [
      { name: mlp('gate'), dims: [I, d] },
      { name: mlp('up'), dims: [I, d] },
    ];
    const [gate, up] = ops.split(w.linear(ops, m, `${p}.mlp.gate_up.weight_t`, guParts), [I, I], -1);
    x = ops.add(x, w.linear(ops, ops.mul(silu(ops, gate), up), `${mlp('down')}_t`, [{ name: mlp('down'), dims: [d, I] }]));
    hiddens.push(x);
  }
  declarePresentOutputs(g, n, KVH, hd);
  const normW = w.initializer('model.norm.weight', [d]);
  const exits = buildDecoderOutputs(
    {
      ops, reader: w, inputs, config, positions,
      finalNorm: (h, out) => rmsNorm(ops, h, normW, eps, out),
      lmHead: w.headProjection(ops, config.tieWordEmbeddings ? embed : 'lm_head.weight', V, d, config.tieWordEmbeddings),
    },
    hiddens,
    options.exits ?? [],
  );
  return {
    graph: g, config, numKvHeads: KVH, headDim: hd, logitPositions: positions, exits, unusedWeights: w.unused(),
    graphForm: 'reference', weightForm: builtWeightForm(options.matMulNBits, w.quantizedLinears),
  };
}
