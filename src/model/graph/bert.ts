/**
 * A BERT encoder (Devlin et al. 2019; Hugging Face `BertModel` weight names) for sentence embeddings: token,
 * position and token-type embeddings with LayerNorm, then post-norm blocks of multi-head self-attention and a
 * GELU (erf) MLP. Inputs `input_ids` and `attention_mask` `[batch, sequence]` (int64, token type 0 everywhere);
 * output `last_hidden_state` `[batch, sequence, hidden]`. Padded keys are masked out of attention; pooling is
 * left to the caller (mean pooling for sentence-transformers models).
 */
import { geluErf } from './layers';
import { GraphBuilder } from './onnx/graph-builder';
import { OnnxDataType } from './onnx/onnx-types';
import { Ops } from './onnx/ops';
import type { WeightMap } from './onnx/tensor-source';
import { WeightReader } from './weight-reader';

/** Hyper-parameters of a BERT encoder. */
export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
}

/** A {@link BertConfig} from a Hugging Face `config.json` of `model_type: "bert"`. */
export function bertConfigFromHf(raw: Record<string, unknown>): BertConfig {
  const num = (k: string, dflt?: number): number => {
    const v = raw[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`config.json: ${k} must be a number (got ${JSON.stringify(v)})`);
    return v;
  };
  if (raw.model_type !== 'bert') throw new RangeError(`config.json: model_type "${String(raw.model_type)}" is not bert`);
  if ((raw.hidden_act ?? 'gelu') !== 'gelu') throw new RangeError(`config.json: hidden_act "${String(raw.hidden_act)}" is not supported (gelu)`);
  if ((raw.position_embedding_type ?? 'absolute') !== 'absolute') throw new RangeError('config.json: only absolute position embeddings are supported');
  return {
    vocabSize: num('vocab_size'),
    hiddenSize: num('hidden_size'),
    numLayers: num('num_hidden_layers'),
    numHeads: num('num_attention_heads'),
    intermediateSize: num('intermediate_size'),
    maxPositions: num('max_position_embeddings'),
    typeVocabSize: num('type_vocab_size', 2),
    layerNormEps: num('layer_norm_eps', 1e-12),
  };
}

/** Builds the encoder graph from `weights` (names as in `BertModel`'s state dict, without a `bert.` prefix). */
export function buildBertEncoderGraph(c: BertConfig, weights: WeightMap): GraphBuilder {
  const d = c.hiddenSize;
  const H = c.numHeads;
  if (d % H !== 0) throw new RangeError(`hidden_size ${d} is not a multiple of num_attention_heads ${H}`);
  const hd = d / H;
  const g = new GraphBuilder('bert-encoder', 17);
  const ops = new Ops(g);
  const w = new WeightReader(weights, g);
  const I64 = OnnxDataType.INT64;
  const ids = g.input('input_ids', I64, ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', I64, ['batch_size', 'sequence_length']);
  const seq = ops.shape(ids, 1, 2);
  const positions = ops.range(g.constInt64([0], []), ops.squeeze(seq, [0]), g.constInt64([1], []));
  const tokenType = ops.gather(w.initializer('embeddings.token_type_embeddings.weight', [c.typeVocabSize, d]), g.constInt64([0], []), 0);
  let x = ops.add(
    ops.add(ops.gather(w.initializer('embeddings.word_embeddings.weight', [c.vocabSize, d]), ids, 0), ops.gather(w.initializer('embeddings.position_embeddings.weight', [c.maxPositions, d]), positions, 0)),
    tokenType,
  );
  const ln = (v: string, prefix: string) =>
    ops.layerNormalization(v, w.initializer(`${prefix}.weight`, [d]), w.initializer(`${prefix}.bias`, [d]), c.layerNormEps);
  x = ln(x, 'embeddings.LayerNorm');
  // Additive key mask [B, 1, 1, T]: 0 for real tokens, a large negative number for padding.
  const keyMask = ops.unsqueeze(ops.mul(ops.sub(g.scalar(1), ops.cast(mask, OnnxDataType.FLOAT)), g.scalar(-1e9)), [1, 2]);
  const dense = (v: string, name: string, inDim: number, outDim: number) =>
    w.linear(ops, v, `${name}.weight_t`, [{ name: `${name}.weight`, dims: [outDim, inDim] }], w.initializer(`${name}.bias`, [outDim]));
  const heads = (v: string) => ops.transpose(ops.reshape(v, [0, 0, H, hd]), [0, 2, 1, 3]); // [B, H, T, hd]
  for (let i = 0; i < c.numLayers; i++) {
    const p = `encoder.layer.${i}`;
    const q = heads(dense(x, `${p}.attention.self.query`, d, d));
    const k = heads(dense(x, `${p}.attention.self.key`, d, d));
    const v = heads(dense(x, `${p}.attention.self.value`, d, d));
    const scores = ops.add(ops.mul(ops.matMul(q, ops.transpose(k, [0, 1, 3, 2])), g.scalar(1 / Math.sqrt(hd))), keyMask);
    const ctx = ops.reshape(ops.transpose(ops.matMul(ops.softmax(scores, -1), v), [0, 2, 1, 3]), [0, 0, d]);
    x = ln(ops.add(dense(ctx, `${p}.attention.output.dense`, d, d), x), `${p}.attention.output.LayerNorm`);
    const mid = geluErf(ops, dense(x, `${p}.intermediate.dense`, d, c.intermediateSize));
    x = ln(ops.add(dense(mid, `${p}.output.dense`, c.intermediateSize, d), x), `${p}.output.LayerNorm`);
  }
  g.outputAs(x, 'last_hidden_state', OnnxDataType.FLOAT, ['batch_size', 'sequence_length', d]);
  return g;
}
