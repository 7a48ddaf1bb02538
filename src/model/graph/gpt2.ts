/**
 * GPT-2 style decoder graph: learned absolute positions, pre-LayerNorm blocks, fused QKV
 * (Conv1D), GELU MLP, LM head tied to the token embedding (or `lm_head.weight`).
 *
 * Weight names and shapes (Hugging Face `GPT2Model` state dict without the `transformer.`
 * prefix; Conv1D weights are `[in, out]`, used as stored):
 * - `wte.weight` [V, d], `wpe.weight` [contextLength, d]
 * - `h.{i}.ln_1.weight|bias` [d], `h.{i}.ln_2.weight|bias` [d]   (i = 0..numLayers-1)
 * - `h.{i}.attn.c_attn.weight` [d, 3d], `.bias` [3d]; `h.{i}.attn.c_proj.weight` [d, d], `.bias` [d]
 * - `h.{i}.mlp.c_fc.weight` [d, I], `.bias` [I]; `h.{i}.mlp.c_proj.weight` [I, d], `.bias` [d]
 * - `ln_f.weight|bias` [d]; `lm_head.weight` [V, d] only when `tieWordEmbeddings` is false.
 */
import { selfAttention } from './attention';
import type { DecoderBuildOptions, Gpt2Config } from './decoder-config';
import { checkBaseConfig, declarePresentOutputs, newDecoderGraph, type BuiltDecoderGraph } from './decoder-graph';
import { attentionBias, declareDecoderInputs, type DecoderInputs } from './decoder-inputs';
import { buildDecoderOutputs } from './decoder-outputs';
import { presentName } from './io-names';
import { geluErf, geluTanh, layerNorm, linear } from './layers';
import { Ops } from './onnx/ops';
import type { WeightMap } from './onnx/tensor-source';
import { WeightReader } from './weight-reader';

/** GPT-2-family input embeddings: token (`wte`) plus learned position (`wpe`) embeddings. */
export function gpt2Embeddings(ops: Ops, w: WeightReader, inputs: DecoderInputs, config: Gpt2Config): { wte: string; x: string } {
  const wte = w.initializer('wte.weight', [config.vocabSize, config.hiddenSize]);
  const wpe = w.initializer('wpe.weight', [config.contextLength, config.hiddenSize]);
  return { wte, x: ops.add(ops.gather(wte, inputs.inputIds), ops.gather(wpe, inputs.positionIds)) };
}

/**
 * GPT-2-family graph end: the present outputs, the final LayerNorm (`ln_f`), the LM head (tied to `wte` or
 * `lm_head.weight`), logits and exits from the residual stream after each block (`hiddens`, embeddings first).
 */
export function gpt2Outputs(
  ops: Ops,
  w: WeightReader,
  inputs: DecoderInputs,
  config: Gpt2Config,
  wte: string,
  hiddens: readonly string[],
  options: DecoderBuildOptions,
): BuiltDecoderGraph {
  const { numLayers: n, hiddenSize: d, numHeads: H, vocabSize: V } = config;
  const positions = options.logitPositions ?? 'all';
  declarePresentOutputs(ops.g, n, H, d / H);
  const lnW = w.initializer('ln_f.weight', [d]);
  const lnB = w.initializer('ln_f.bias', [d]);
  const exits = buildDecoderOutputs(
    {
      ops, reader: w, inputs, config, positions,
      finalNorm: (h, out) => layerNorm(ops, h, lnW, lnB, config.normEpsilon, out),
      lmHead: w.headProjection(ops, config.tieWordEmbeddings ? wte : 'lm_head.weight', V, d, config.tieWordEmbeddings),
    },
    hiddens,
    options.exits ?? [],
  );
  return { graph: ops.g, config, numKvHeads: H, headDim: d / H, logitPositions: positions, exits, unusedWeights: w.unused() };
}

/** Builds a GPT-2 style multi-exit decoder graph. See the module comment for weight names. */
export function buildGpt2Graph(config: Gpt2Config, weights: WeightMap, options: DecoderBuildOptions = {}): BuiltDecoderGraph {
  const { numLayers: n, hiddenSize: d, numHeads: H, intermediateSize: I } = config;
  const hd = d / H;
  checkBaseConfig(config, hd, H);
  const g = newDecoderGraph('gpt2_multi_exit', options);
  const ops = new Ops(g);
  const w = new WeightReader(weights, g);
  const positions = options.logitPositions ?? 'all';
  const inputs = declareDecoderInputs(g, n, H, hd, positions === 'input');
  const bias = attentionBias(ops, inputs);
  const eps = config.normEpsilon;
  const act = config.activation === 'gelu' ? geluErf : geluTanh;

  const emb = gpt2Embeddings(ops, w, inputs, config);
  let x = emb.x;
  const hiddens = [x];
  for (let i = 0; i < n; i++) {
    const p = `h.${i}`;
    const vec = (name: string, len: number) => w.initializer(`${p}.${name}`, [len]);
    const a = layerNorm(ops, x, vec('ln_1.weight', d), vec('ln_1.bias', d), eps);
    const qkv = linear(ops, a, w.initializer(`${p}.attn.c_attn.weight`, [d, 3 * d]), vec('attn.c_attn.bias', 3 * d));
    const [q, k, v] = ops.split(qkv, [d, d, d], -1);
    const ctx = selfAttention(ops, {
      q, k, v, numHeads: H, numKvHeads: H, headDim: hd,
      pastKey: inputs.past[i].key, pastValue: inputs.past[i].value,
      presentKey: presentName(i, 'key'), presentValue: presentName(i, 'value'),
      bias,
    });
    x = ops.add(x, linear(ops, ctx, w.initializer(`${p}.attn.c_proj.weight`, [d, d]), vec('attn.c_proj.bias', d)));
    const m = layerNorm(ops, x, vec('ln_2.weight', d), vec('ln_2.bias', d), eps);
    const up = act(ops, linear(ops, m, w.initializer(`${p}.mlp.c_fc.weight`, [d, I]), vec('mlp.c_fc.bias', I)));
    x = ops.add(x, linear(ops, up, w.initializer(`${p}.mlp.c_proj.weight`, [I, d]), vec('mlp.c_proj.bias', d)));
    hiddens.push(x);
  }
  return gpt2Outputs(ops, w, inputs, config, emb.wte, hiddens, options);
}
