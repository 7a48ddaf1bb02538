/**
 * Finding an exit's head matrix in a model folder's graph, for the sparse amateur: the exit's logits are
 * `hidden · W[token] (+ b[token])` with `hidden` the graph's `exit.{L}.hidden` output, so the contrast kernel
 * can compute the amateur logits of the plausible head only (|H| x d work instead of V x d per step).
 *
 * The head is found by tracing the graph: the `Gemm` (transB) that produces the exit's logits output (or, for
 * logit-lens and conversion exits without a logits output, the model's `logits`), whose B input is the
 * `[V, d]` matrix (the tied embedding, `lm_head.weight` or `exit_heads.{L}.weight`) and C the optional bias.
 * A trained-head exit without a logits output is looked up by its weight name (`exit_heads.{L}.weight`, or the
 * name recorded in the manifest's builder config), its bias likewise (`exit_heads.{L}.bias` when present).
 * A head the graph computes with `MatMulNBits` on the vocabulary (one 8-bit node, or the sum of two 4-bit digit
 * nodes: the graph builder's `q8Projection`) is only ever built on the tied embedding's own 8-bit values, so its
 * float32 matrix is the embedding the graph gathers token vectors from (the same values).
 */
import { join } from 'node:path';

import type { ModelManifest } from '../model/manifest/manifest-types';
import { loadInitializer, readOnnxGraph, type OnnxGraphInfo, type OnnxNodeInfo } from './onnx-reader';

/** A head matrix `[V x d]` held in memory. */
export interface HeadWeights {
  /** Initializer name of the matrix. */
  readonly name: string;
  /** `[V x d]` values (float32, or float16/bfloat16 bits). */
  readonly weight: Float32Array | Uint16Array;
  /** Element type of weight and bias. */
  readonly dtype: 'float32' | 'float16' | 'bfloat16';
  /** Optional bias `[V]`. */
  readonly bias?: Float32Array | Uint16Array;
}

/**
 * A head computed with `MatMulNBits` on the vocabulary by `node` (one 8-bit node, or the `Add` of the two 4-bit
 * digit nodes of the graph builder's `q8Projection`): its float32 matrix, the tied embedding the graph gathers
 * token vectors from (the same values), and the hidden-state tensor it multiplies. `undefined` when `node` is not
 * such a head; null when it is but the embedding cannot be found.
 */
export function quantisedTiedHead(
  graph: OnnxGraphInfo,
  m: ModelManifest,
  producer: ReadonlyMap<string, OnnxNodeInfo>,
  node: OnnxNodeInfo,
): { input: string; matrix: string } | null | undefined {
  const vocabNBits = (n: OnnxNodeInfo | undefined) => n?.opType === 'MatMulNBits' && graph.initializers.get(n.inputs[1])?.dims[0] === m.vocabSize;
  const digits = node.opType === 'Add' ? node.inputs.map((i) => producer.get(i)) : [];
  const product = vocabNBits(node) ? node : digits.length === 2 && digits.every(vocabNBits) ? digits[0]! : undefined;
  if (!product) return undefined;
  const isEmbedding = (name: string) => {
    const t = graph.initializers.get(name);
    return !!t && t.dims.length === 2 && t.dims[0] === m.vocabSize && t.dims[1] === m.hiddenSize;
  };
  const gather = graph.nodes.find((n) => n.opType === 'Gather' && n.inputs[1] === m.graph.io.inputIds && isEmbedding(n.inputs[0]));
  return gather ? { input: product.inputs[0], matrix: gather.inputs[0] } : null;
}

/** Each tensor's producing node, by tensor name. */
export function graphProducers(graph: OnnxGraphInfo): Map<string, OnnxNodeInfo> {
  const p = new Map<string, OnnxNodeInfo>();
  for (const n of graph.nodes) for (const o of n.outputs) p.set(o, n);
  return p;
}

/**
 * The output head computed by `node`, as the float32 matrix (and bias) it multiplies and the hidden-state tensor
 * it multiplies: a `Gemm` names its own B and C; a quantised head on the tied embedding is read through the
 * embedding's float32 values (the same values the quantised product multiplies; {@link quantisedTiedHead}).
 * Null when `node` is neither, or the embedding cannot be found.
 */
export function outputHead(
  graph: OnnxGraphInfo,
  m: ModelManifest,
  producer: ReadonlyMap<string, OnnxNodeInfo>,
  node: OnnxNodeInfo,
): { input: string; matrix: string; bias?: string } | null {
  if (node.opType === 'Gemm') return { input: node.inputs[0], matrix: node.inputs[1], bias: node.inputs[2] && graph.initializers.has(node.inputs[2]) ? node.inputs[2] : undefined };
  return quantisedTiedHead(graph, m, producer, node) ?? null;
}

/** Which initializers (matrix, bias) multiply an exit's hidden state; null when it cannot be told. */
export function findHeadInitializers(graph: OnnxGraphInfo, m: ModelManifest, layer: number): { matrix: string; bias?: string } | null {
  const exit = m.exits.find((e) => e.layer === layer);
  if (!exit || !exit.hiddenOutput) return null;
  const V = m.vocabSize;
  const d = m.hiddenSize;
  const producer = graphProducers(graph);
  const isMatrix = (name: string | undefined) => {
    const t = name ? graph.initializers.get(name) : undefined;
    return !!t && t.dims.length === 2 && t.dims[0] === V && t.dims[1] === d;
  };
  const trace = (output: string): { matrix: string; bias?: string } | null => {
    let name = output;
    for (let depth = 0; depth < 6; depth++) {
      const node = producer.get(name);
      if (!node) return null;
      const quantised = quantisedTiedHead(graph, m, producer, node);
      if (quantised !== undefined) return quantised && { matrix: quantised.matrix };
      if (node.opType === 'Gemm') {
        if (!isMatrix(node.inputs[1])) return null;
        const bias = node.inputs[2] && graph.initializers.has(node.inputs[2]) ? node.inputs[2] : undefined;
        return { matrix: node.inputs[1], bias };
      }
      if (node.opType !== 'Reshape' && node.opType !== 'Identity') return null;
      name = node.inputs[0];
    }
    return null;
  };
  if (exit.logitsOutput) return trace(exit.logitsOutput);
  if (exit.kind === 'lens' || exit.kind === 'conversion' || exit.kind === 'raw') return trace(m.graph.io.logits);
  // A trained head without a logits output: by weight name.
  const spec = (m.config as { exits?: { layer: number; weight?: string; bias?: string }[] } | undefined)?.exits?.find((e) => e.layer === layer);
  const matrix = spec?.weight ?? `exit_heads.${layer}.weight`;
  if (!isMatrix(matrix)) return null;
  // The bias: the name in the builder config, else the converter's default name `exit_heads.{L}.bias` when
  // the folder holds a [V] vector of that name (a hidden-only graph keeps its head's initializers).
  const isVector = (name: string) => {
    const t = graph.initializers.get(name);
    return !!t && t.dims.length === 1 && t.dims[0] === V;
  };
  const bias = spec?.bias ?? (spec?.weight === undefined ? `exit_heads.${layer}.bias` : undefined);
  return { matrix, bias: bias !== undefined && isVector(bias) ? bias : undefined };
}

/** Reads the graph of a model folder once (the `.onnx` file holds only the graph; weights are external). */
export function readFolderGraph(dir: string, m: ModelManifest): OnnxGraphInfo {
  return readOnnxGraph(join(dir, m.graph.file));
}

/** Loads the head of exit `layer` into memory, or returns null when it cannot be found. */
export function loadHeadWeights(dir: string, m: ModelManifest, graph: OnnxGraphInfo, layer: number): HeadWeights | null {
  const found = findHeadInitializers(graph, m, layer);
  if (!found) return null;
  const file = join(dir, m.graph.file);
  const w = loadInitializer(file, graph.initializers.get(found.matrix)!);
  let bias: Float32Array | Uint16Array | undefined;
  if (found.bias) {
    const b = loadInitializer(file, graph.initializers.get(found.bias)!);
    if (b.dtype !== w.dtype) return null;
    bias = b.data;
  }
  return { name: found.matrix, weight: w.data, dtype: w.dtype, bias };
}

/**
 * Where the model's own output head sits in the graph: the hidden-state tensor it multiplies, the `logits` output
 * it writes, the matrix (and bias) it multiplies (the float32 values: a quantised tied head is read through the
 * embedding, {@link outputHead}), and the final exit's output that is exactly that hidden state (`hiddenOutput`;
 * absent when the folder has no exit at the final layer, and then a graph without the head has to output the tensor
 * itself). Null when the head is not a `Gemm` or a quantised tied head, or the final exit is of another kind.
 */
export function modelHeadSpan(graph: OnnxGraphInfo, m: ModelManifest): { input: string; output: string; hiddenOutput?: string; matrix: string; bias?: string } | null {
  const N = m.numLayers;
  const exit = m.exits.find((e) => e.layer === N);
  const producer = graphProducers(graph);
  // the head's product: logits' producer, through reshapes (the reference graph flattens the rows for its Gemm)
  const through = (name: string) => {
    let n = producer.get(name);
    for (let i = 0; i < 4 && n && (n.opType === 'Reshape' || n.opType === 'Identity'); i++) n = producer.get(n.inputs[0]);
    return n;
  };
  const node = through(m.graph.io.logits);
  if (!node) return null;
  const head = outputHead(graph, m, producer, node);
  if (!head) return null;
  let input = head.input;
  // the [batch, positions, d] tensor before a flattening reshape
  for (let i = 0; i < 4; i++) {
    const p = producer.get(input);
    if (!p || (p.opType !== 'Reshape' && p.opType !== 'Identity')) break;
    input = p.inputs[0];
  }
  const weights = { matrix: head.matrix, ...(head.bias ? { bias: head.bias } : {}) };
  if (!exit) return { input, output: m.graph.io.logits, ...weights };
  const h = exit.hiddenOutput ? producer.get(exit.hiddenOutput) : undefined;
  const same = exit.kind === 'lens' && (exit.hiddenOutput === input || (h?.opType === 'Identity' && h.inputs[0] === input));
  return same ? { input, output: m.graph.io.logits, hiddenOutput: exit.hiddenOutput, ...weights } : null;
}

/**
 * Where the model's own head sits in the graph, for {@link graphWithoutHead} (DoLa's runtime): {@link modelHeadSpan}
 * when the head uses the same matrix as exit `candidate` (DoLa's candidates). Null otherwise (a trained final head,
 * a head the graph computes another way, a final exit of another kind).
 */
export function finalHeadSpan(graph: OnnxGraphInfo, m: ModelManifest, candidate: number): { input: string; output: string; hiddenOutput?: string } | null {
  const span = modelHeadSpan(graph, m);
  if (!span) return null;
  const matrix = findHeadInitializers(graph, m, candidate)?.matrix;
  if (!matrix || matrix !== span.matrix) return null;
  return { input: span.input, output: span.output, ...(span.hiddenOutput ? { hiddenOutput: span.hiddenOutput } : {}) };
}
