/**
 * GPT-Neo decoder graph, assembled from the graph builder's parts (the builder itself has no
 * GPT-Neo architecture): learned positions, pre-LayerNorm blocks, separate q/k/v projections
 * without biases, UNSCALED attention, alternating global / local (sliding window) attention,
 * GELU (tanh) MLP, LM head tied to the token embedding.
 *
 * Weight names (Hugging Face `GPTNeoModel` without `transformer.`; nn.Linear `[out, in]`):
 * `wte.weight` [V, d], `wpe.weight` [ctx, d], `h.{i}.ln_1|ln_2.weight|bias` [d],
 * `h.{i}.attn.attention.q_proj|k_proj|v_proj.weight` [d, d], `h.{i}.attn.attention.out_proj.weight` [d, d] + `.bias`,
 * `h.{i}.mlp.c_fc.weight` [I, d] + `.bias`, `h.{i}.mlp.c_proj.weight` [d, I] + `.bias`, `ln_f.weight|bias` [d].
 */
import { selfAttention } from '../graph/attention';
import type { DecoderBuildOptions, Gpt2Config } from '../graph/decoder-config';
import { checkBaseConfig, newDecoderGraph, type BuiltDecoderGraph } from '../graph/decoder-graph';
import { attentionBias, declareDecoderInputs } from '../graph/decoder-inputs';
import { presentName } from '../graph/io-names';
import { geluErf, geluTanh, layerNorm, linear } from '../graph/layers';
import { Ops } from '../graph/onnx/ops';
import type { WeightMap } from '../graph/onnx/tensor-source';
import { gpt2Embeddings, gpt2Outputs } from '../graph/gpt2';
import { WeightReader } from '../graph/weight-reader';

/** GPT-Neo hyper-parameters (a GPT-2 shaped config plus the attention pattern). */
export interface GptNeoConfig extends Omit<Gpt2Config, 'architecture'> {
  /** Architecture tag. */
  readonly architecture: 'gpt-neo';
  /** Attention kind of each block. */
  readonly attentionLayers: readonly ('global' | 'local')[];
  /** Local attention window (keys at most windowSize - 1 positions back). */
  readonly windowSize: number;
}

/**
 * The GPT-2 shaped view of a GPT-Neo config (same graph interface: multi-head attention,
 * learned positions, LayerNorm), used for the built graph's description and the manifest.
 */
export function gptNeoInterfaceConfig(c: GptNeoConfig): Gpt2Config {
  const { attentionLayers: _a, windowSize: _w, ...rest } = c;
  return { ...rest, architecture: 'gpt2' };
}

/** Builds a GPT-Neo multi-exit decoder graph. See the module comment for weight names. */
export function buildGptNeoGraph(config: GptNeoConfig, weights: WeightMap, options: DecoderBuildOptions = {}): BuiltDecoderGraph {
  const { numLayers: n, hiddenSize: d, numHeads: H, intermediateSize: I } = config;
  const hd = d / H;
  const view = gptNeoInterfaceConfig(config);
  checkBaseConfig(view, hd, H);
  if (config.attentionLayers.length !== n) {
    throw new RangeError(`attention_layers lists ${config.attentionLayers.length} layers, the model has ${n}`);
  }
  const g = newDecoderGraph('gpt_neo_multi_exit', options);
  const ops = new Ops(g);
  const w = new WeightReader(weights, g);
  const positions = options.logitPositions ?? 'all';
  const inputs = declareDecoderInputs(g, n, H, hd, positions === 'input');
  const globalBias = attentionBias(ops, inputs);
  const localBias = config.attentionLayers.includes('local') ? attentionBias(ops, inputs, config.windowSize) : globalBias;
  const eps = config.normEpsilon;
  const act = config.activation === 'gelu' ? geluErf : geluTanh;

  const emb = gpt2Embeddings(ops, w, inputs, view);
  let x = emb.x;
  const hiddens = [x];
  for (let i = 0; i < n; i++) {
    const p = `h.${i}`;
    const vec = (name: string, len: number) => w.initializer(`${p}.${name}`, [len]);
    const a = layerNorm(ops, x, vec('ln_1.weight', d), vec('ln_1.bias', d), eps);
    const att = `${p}.attn.attention`;
    const qkvW = w.fusedLinear(`${att}.qkv.weight_t`, ['q', 'k', 'v'].map((m) => ({ name: `${att}.${m}_proj.weight`, dims: [d, d] })));
    const [q, k, v] = ops.split(linear(ops, a, qkvW), [d, d, d], -1);
    const ctx = selfAttention(ops, {
      q, k, v, numHeads: H, numKvHeads: H, headDim: hd,
      pastKey: inputs.past[i].key, pastValue: inputs.past[i].value,
      presentKey: presentName(i, 'key'), presentValue: presentName(i, 'value'),
      bias: config.attentionLayers[i] === 'local' ? localBias : globalBias,
      scale: 1,
    });
    const oW = w.fusedLinear(`${att}.out_proj.weight_t`, [{ name: `${att}.out_proj.weight`, dims: [d, d] }]);
    x = ops.add(x, linear(ops, ctx, oW, vec('attn.attention.out_proj.bias', d)));
    const m = layerNorm(ops, x, vec('ln_2.weight', d), vec('ln_2.bias', d), eps);
    const fcW = w.fusedLinear(`${p}.mlp.c_fc.weight_t`, [{ name: `${p}.mlp.c_fc.weight`, dims: [I, d] }]);
    const up = act(ops, linear(ops, m, fcW, vec('mlp.c_fc.bias', I)));
    const projW = w.fusedLinear(`${p}.mlp.c_proj.weight_t`, [{ name: `${p}.mlp.c_proj.weight`, dims: [d, I] }]);
    x = ops.add(x, linear(ops, up, projW, vec('mlp.c_proj.bias', d)));
    hiddens.push(x);
  }
  return gpt2Outputs(ops, w, inputs, view, emb.wte, hiddens, options);
}
