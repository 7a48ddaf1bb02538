/**
 * The fused GPT-2 graph: the function of {@link buildGpt2Graph} (which stays the reference) with ONNX Runtime's
 * contrib operators: `com.microsoft.SkipLayerNormalization` (residual add, the projection's bias and LayerNorm in
 * one node, the sum as its fourth output), one `com.microsoft.GroupQueryAttention` per block with as many
 * key/value heads as query heads and no rotary (padding as its additive `attention_bias`), and
 * `com.microsoft.FastGelu` (tanh GELU, GPT-2's `gelu_new`) with the fc bias folded in. Same weights, inputs, outputs and exits.
 */
import type { DecoderBuildOptions, Gpt2Config } from './decoder-config';
import { checkBaseConfig, newDecoderGraph, type BuiltDecoderGraph } from './decoder-graph';
import { attentionBias, declareDecoderInputs } from './decoder-inputs';
import { attentionLengths } from './fused-llama';
import { gpt2Embeddings, gpt2Outputs } from './gpt2';
import { presentName } from './io-names';
import { geluErf, layerNorm, linear } from './layers';
import { MS_DOMAIN } from './matmul-nbits';
import { attr } from './onnx/onnx-types';
import { Ops } from './onnx/ops';
import type { WeightMap } from './onnx/tensor-source';
import { WeightReader } from './weight-reader';

/** Whether ONNX Runtime's CPU GroupQueryAttention accepts this GPT-2 configuration (head width a multiple of 16). */
export function canFuseGpt2(config: Gpt2Config): boolean {
  return (config.hiddenSize / config.numHeads) % 16 === 0;
}

/** Builds the fused GPT-2 graph (same interface and function as {@link buildGpt2Graph}). */
export function buildFusedGpt2Graph(config: Gpt2Config, weights: WeightMap, options: DecoderBuildOptions = {}): BuiltDecoderGraph {
  const { numLayers: n, hiddenSize: d, numHeads: H, intermediateSize: I } = config;
  const hd = d / H;
  checkBaseConfig(config, hd, H);
  if (!canFuseGpt2(config)) throw new RangeError(`fused graph: head dim ${hd} is not a multiple of 16 (build the reference form)`);
  const g = newDecoderGraph('gpt2_multi_exit_fused', options);
  g.useDomain(MS_DOMAIN, 1);
  const ops = new Ops(g);
  const w = new WeightReader(weights, g);
  const positions = options.logitPositions ?? 'all';
  const inputs = declareDecoderInputs(g, n, H, hd, positions === 'input');
  const bias = attentionBias(ops, inputs);
  const { seqlensK, total } = attentionLengths(ops, inputs);
  const eps = config.normEpsilon;
  const exactGelu = config.activation === 'gelu';

  const emb = gpt2Embeddings(ops, w, inputs, config);
  let x = emb.x;
  const hiddens = [x];
  let pending: { y: string; bias: string } | undefined; // the previous block's MLP output and bias, not yet added to x
  for (let i = 0; i < n; i++) {
    const p = `h.${i}`;
    const vec = (name: string, len: number) => w.initializer(`${p}.${name}`, [len]);
    /** LayerNorm of x + y + yBias; returns [normed, the sum]. */
    const skipNorm = (y: string, yBias: string, gamma: string, beta: string): [string, string] => {
      const outs = g.node('SkipLayerNormalization', [y, x, gamma, beta, yBias], { epsilon: attr.float(eps) }, { domain: MS_DOMAIN, outputCount: 4 });
      return [outs[0], outs[3]];
    };
    const ln1 = [vec('ln_1.weight', d), vec('ln_1.bias', d)] as const;
    let a: string;
    if (!pending) a = layerNorm(ops, x, ln1[0], ln1[1], eps);
    else {
      [a, x] = skipNorm(pending.y, pending.bias, ln1[0], ln1[1]);
      hiddens.push(x);
    }
    const qkv = linear(ops, a, w.initializer(`${p}.attn.c_attn.weight`, [d, 3 * d]), vec('attn.c_attn.bias', 3 * d));
    const [ctx] = g.node(
      'GroupQueryAttention',
      [qkv, '', '', inputs.past[i].key, inputs.past[i].value, seqlensK, total, '', '', '', bias],
      { num_heads: attr.int(H), kv_num_heads: attr.int(H) },
      { domain: MS_DOMAIN, outputs: [`${p}.attention`, presentName(i, 'key'), presentName(i, 'value')] },
    );
    const o = ops.matMul(ctx, w.initializer(`${p}.attn.c_proj.weight`, [d, d]));
    let m: string;
    [m, x] = skipNorm(o, vec('attn.c_proj.bias', d), vec('ln_2.weight', d), vec('ln_2.bias', d));
    const fc = ops.matMul(m, w.initializer(`${p}.mlp.c_fc.weight`, [d, I]));
    const fcBias = vec('mlp.c_fc.bias', I);
    // exact-erf GELU stays in standard operators: ORT's BiasGelu differed from it by up to 7e-4 in the logits
    const up = exactGelu ? geluErf(ops, ops.add(fc, fcBias)) : g.node('FastGelu', [fc, fcBias], {}, { domain: MS_DOMAIN })[0];
    pending = { y: ops.matMul(up, w.initializer(`${p}.mlp.c_proj.weight`, [I, d])), bias: vec('mlp.c_proj.bias', d) };
  }
  x = ops.add(ops.add(x, pending!.y), pending!.bias);
  hiddens.push(x);
  return { ...gpt2Outputs(ops, w, inputs, config, emb.wte, hiddens, options), graphForm: 'fused' };
}
