/**
 * The fused Llama-family graph: the same function as {@link buildLlamaGraph} (which stays the
 * reference the tests compare against) written with ONNX Runtime's contrib operators, so a decode
 * step runs a few hundred nodes instead of a few thousand:
 * - RMSNorm as `SimplifiedLayerNormalization` (first block) and `com.microsoft.SkipSimplifiedLayerNormalization`
 *   (every later norm adds the residual in the same node and also returns the sum, the next residual);
 * - attention as one `com.microsoft.GroupQueryAttention` per block on the packed q/k/v projection, with
 *   rotary from a cos/sin cache, grouped-query heads without repeat, and `past`/`present` caches in the
 *   same `[batch, kv_heads, positions, head_dim]` layout as the reference graph (so the runtime binds
 *   both graphs alike);
 * - padding (left-padded batches) as GroupQueryAttention's additive `attention_bias`, the same bias the
 *   reference graph adds to its scores.
 *
 * Rotary positions: GroupQueryAttention rotates query/key t of a row by its cache column (past length +
 * t), not by `position_ids` (ONNX Runtime 1.30's CPU kernel takes only a row's first position id and
 * counts up from it, which cannot express left padding). For a left-padded row the column is the true
 * position plus the row's padding, the same shift for every query and key of the row; rotary attention
 * depends only on query-key distances, so the function is the reference graph's (equal up to float
 * rounding, checked by the tests). `position_ids` stays a graph input (unused) so both forms share an
 * interface. The cached keys therefore depend on their column: when the runtime moves a row to other columns
 * (continuous batching), it rotates the row's keys on by the shift (src/model/manifest/key-rotation.ts).
 * Weight names, inputs, outputs and exits are those of the reference graph (see llama.ts).
 */
import type { DecoderBuildOptions, LlamaConfig } from './decoder-config';
import { checkBaseConfig, declarePresentOutputs, newDecoderGraph, type BuiltDecoderGraph } from './decoder-graph';
import { attentionBias, declareDecoderInputs, type DecoderInputs } from './decoder-inputs';
import { buildDecoderOutputs } from './decoder-outputs';
import { presentName } from './io-names';
import { llamaHeadDim } from './llama';
import { MS_DOMAIN } from './matmul-nbits';
import { attr, OnnxDataType } from './onnx/onnx-types';
import { Ops } from './onnx/ops';
import { float32Source, type WeightMap } from './onnx/tensor-source';
import { ropeInverseFrequencies } from './rotary';
import { WeightReader } from './weight-reader';
import { builtWeightForm } from './weight-forms';

/** cos and sin of position x inverse frequency, `[positions, headDim/2]` each, computed in float64. */
export function rotaryCache(positions: number, invFreq: readonly number[]): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      // float32 product first, as the reference graph computes position x frequency in float32
      const angle = Math.fround(p * Math.fround(invFreq[i]));
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/**
 * Whether ONNX Runtime's CPU GroupQueryAttention accepts this configuration: its rotary kernel needs a
 * head width that is a multiple of 16 (measured with onnxruntime 1.30: 4 and 8 are refused at run time).
 */
export function canFuseLlama(config: LlamaConfig): boolean {
  return llamaHeadDim(config) % 16 === 0;
}

/** GroupQueryAttention's length inputs: `seqlens_k` (int32 [B], total - 1 per row) and `total_sequence_length`. */
export function attentionLengths(ops: Ops, inputs: DecoderInputs): { seqlensK: string; total: string } {
  const g = ops.g;
  const total64 = ops.shape(inputs.attentionMask, 1, 2); // [1]
  const total = ops.squeeze(ops.cast(total64, OnnxDataType.INT32), [0]);
  const last = ops.sub(ops.cast(total64, OnnxDataType.INT32), g.initializer('const_i32_one', { dataType: OnnxDataType.INT32, dims: [1], bytes: async () => new Uint8Array(Int32Array.of(1).buffer) }));
  // Every row holds `total` cache positions (left padding is masked by the bias), so every row's last key is total - 1.
  const seqlensK = ops.expand(last, ops.shape(inputs.inputIds, 0, 1));
  return { seqlensK, total };
}

/** Builds the fused Llama-family graph (same interface and function as {@link buildLlamaGraph}). */
export function buildFusedLlamaGraph(config: LlamaConfig, weights: WeightMap, options: DecoderBuildOptions = {}): BuiltDecoderGraph {
  const { numLayers: n, hiddenSize: d, numHeads: H, numKvHeads: KVH, vocabSize: V, intermediateSize: I } = config;
  const hd = llamaHeadDim(config);
  checkBaseConfig(config, hd, KVH);
  if (config.rotary !== 'half' && config.rotary !== 'interleaved') {
    throw new RangeError(`config.rotary must be 'half' or 'interleaved' (got ${String(config.rotary)})`);
  }
  if (!canFuseLlama(config)) throw new RangeError(`fused graph: head dim ${hd} is not a multiple of 16 (build the reference form)`);
  const g = newDecoderGraph('llama_multi_exit_fused', options);
  g.useDomain(MS_DOMAIN, 1);
  const ops = new Ops(g);
  const w = new WeightReader(weights, g, options.matMulNBits);
  const positions = options.logitPositions ?? 'all';
  const inputs = declareDecoderInputs(g, n, KVH, hd, positions === 'input');
  const bias = attentionBias(ops, inputs);
  const { seqlensK, total } = attentionLengths(ops, inputs);
  const eps = config.normEpsilon;
  const invFreq = config.ropeInvFreq ?? ropeInverseFrequencies(hd, config.ropeTheta);
  if (invFreq.length !== hd / 2) throw new RangeError(`rotary: ${invFreq.length} inverse frequencies, ${hd / 2} expected`);
  const table = rotaryCache(config.contextLength, invFreq);
  const cos = g.initializer('rotary.cos_cache', float32Source(table.cos, [config.contextLength, hd / 2]));
  const sin = g.initializer('rotary.sin_cache', float32Source(table.sin, [config.contextLength, hd / 2]));
  const qOut = H * hd;
  const kvOut = KVH * hd;

  /** RMSNorm of `skip + x` (weight `weight`); returns [normed, skip + x]. */
  const skipNorm = (x: string, skip: string, weight: string): [string, string] => {
    const outs = g.node('SkipSimplifiedLayerNormalization', [x, skip, weight], { epsilon: attr.float(eps) }, { domain: MS_DOMAIN, outputCount: 4 });
    return [outs[0], outs[3]];
  };
  const norm = (x: string, weight: string, out?: string) => ops.simplifiedLayerNormalization(x, weight, eps, out);

  const embed = w.initializer('model.embed_tokens.weight', [V, d]);
  let x = ops.gather(embed, inputs.inputIds);
  const hiddens = [x];
  let pending: string | undefined; // the previous block's MLP output, not yet added to x
  for (let i = 0; i < n; i++) {
    const p = `model.layers.${i}`;
    const inW = w.initializer(`${p}.input_layernorm.weight`, [d]);
    let a: string;
    if (pending === undefined) a = norm(x, inW);
    else {
      [a, x] = skipNorm(pending, x, inW);
      hiddens.push(x);
    }
    const proj = (m: string) => `${p}.self_attn.${m}_proj`;
    const qkvB = config.attentionBias
      ? w.fusedVector(`${p}.self_attn.qkv.bias`, [
          { name: `${proj('q')}.bias`, dims: [qOut] },
          { name: `${proj('k')}.bias`, dims: [kvOut] },
          { name: `${proj('v')}.bias`, dims: [kvOut] },
        ])
      : undefined;
    const qkv = w.linear(ops, a, `${p}.self_attn.qkv.weight_t`, [
      { name: `${proj('q')}.weight`, dims: [qOut, d] },
      { name: `${proj('k')}.weight`, dims: [kvOut, d] },
      { name: `${proj('v')}.weight`, dims: [kvOut, d] },
    ], qkvB);
    const [ctx] = g.node(
      'GroupQueryAttention',
      [qkv, '', '', inputs.past[i].key, inputs.past[i].value, seqlensK, total, cos, sin, '', bias],
      {
        num_heads: attr.int(H),
        kv_num_heads: attr.int(KVH),
        do_rotary: attr.int(1),
        rotary_interleaved: attr.int(config.rotary === 'interleaved' ? 1 : 0),
      },
      { domain: MS_DOMAIN, outputs: [`${p}.attention`, presentName(i, 'key'), presentName(i, 'value')] },
    );
    const o = w.linear(ops, ctx, `${proj('o')}.weight_t`, [{ name: `${proj('o')}.weight`, dims: [d, qOut] }]);
    let m: string;
    [m, x] = skipNorm(o, x, w.initializer(`${p}.post_attention_layernorm.weight`, [d]));
    const mlp = (name: string) => `${p}.mlp.${name}_proj.weight`;
    const gateUp = w.linear(ops, m, `${p}.mlp.gate_up.weight_t`, [
      { name: mlp('gate'), dims: [I, d] },
      { name: mlp('up'), dims: [I, d] },
    ]);
    const [gate, up] = ops.split(gateUp, [I, I], -1);
    pending = w.linear(ops, ops.mul(ops.mul(gate, ops.sigmoid(gate)), up), `${mlp('down')}_t`, [{ name: mlp('down'), dims: [d, I] }]);
  }
  x = ops.add(x, pending!);
  hiddens.push(x);
  declarePresentOutputs(g, n, KVH, hd);
  const normW = w.initializer('model.norm.weight', [d]);
  const exits = buildDecoderOutputs(
    {
      ops, reader: w, inputs, config, positions,
      finalNorm: (h, out) => norm(h, normW, out),
      lmHead: w.headProjection(ops, config.tieWordEmbeddings ? embed : 'lm_head.weight', V, d, config.tieWordEmbeddings),
    },
    hiddens,
    options.exits ?? [],
  );
  return {
    graph: g, config, numKvHeads: KVH, headDim: hd, logitPositions: positions, exits, unusedWeights: w.unused(),
    graphForm: 'fused', weightForm: builtWeightForm(options.matMulNBits, w.quantizedLinears),
  };
}
