/**
 * What fitting reads from a model folder's graph: the residual stream after each block (the tensor each exit's
 * final norm reads), the final norm itself (RMSNorm or LayerNorm: its weights and epsilon) and the model's output
 * head. Found by tracing the graph that this package's builders write (exit `hidden` output <- norm <- residual;
 * `logits` <- Reshape <- Gemm(head) or a quantised head on the tied embedding <- Reshape <- norm <- residual).
 */
import { graphProducers, outputHead } from '../generate/heads';
import type { OnnxGraphInfo } from '../generate/onnx-reader';
import type { ModelManifest } from '../model/manifest/manifest-types';
import { FitError } from './fit-error';

/** The model's final norm as the graph computes it. */
export interface FinalNorm {
  /** `rms` (Llama family) or `layer` (GPT-2 family). */
  readonly kind: 'rms' | 'layer';
  /** Scale initializer `[d]`. */
  readonly weight: string;
  /** Shift initializer `[d]` (LayerNorm). */
  readonly bias?: string;
  /** Epsilon. */
  readonly epsilon: number;
}

/** Graph tensors and initializers a fit reads. */
export interface GraphTaps {
  /** Residual stream after block L (`[batch, positions, d]`) by layer, for the requested layers and numLayers. */
  readonly residuals: ReadonlyMap<number, string>;
  /**
   * The same residuals before the graph's position selection (`num_logits_to_keep`), where it comes first: what
   * the fit reads (every position, whatever the logit rows asked). Fitted exits attach to `residuals`, so that
   * they select positions as the folder's other outputs do.
   */
  readonly everyPosition: ReadonlyMap<number, string>;
  /** The final norm. */
  readonly norm: FinalNorm;
  /** The output head `[V, d]` and its optional bias `[V]`. */
  readonly head: { readonly matrix: string; readonly bias?: string };
}

/**
 * Finds the residuals of `layers` (and of the last block), the final norm and the head in `graph`.
 * @throws {FitError} E_FIT_GRAPH when the graph does not have the expected shape, E_FIT_LAYER when a layer has
 * no exit whose hidden state is the final norm of the residual.
 */
export function findGraphTaps(graph: OnnxGraphInfo, m: ModelManifest, layers: readonly number[]): GraphTaps {
  const prod = graphProducers(graph);
  const skip = (name: string): string => {
    for (let i = 0; i < 8; i++) {
      const n = prod.get(name);
      if (!n || (n.opType !== 'Identity' && n.opType !== 'Reshape')) return name;
      name = n.inputs[0];
    }
    return name;
  };
  const eps = (m.config as { normEpsilon?: number } | undefined)?.normEpsilon;
  // The norm that produced `name`: its input (the residual) and its weights.
  const normOf = (name: string): { input: string; norm: Omit<FinalNorm, 'epsilon'> } | null => {
    const n = prod.get(skip(name));
    if (!n) return null;
    if (n.opType === 'LayerNormalization') return { input: n.inputs[0], norm: { kind: 'layer', weight: n.inputs[1], bias: n.inputs[2] || undefined } };
    if (n.opType === 'SimplifiedLayerNormalization') return { input: n.inputs[0], norm: { kind: 'rms', weight: n.inputs[1] } };
    if (n.opType === 'Mul') {
      for (const [a, w] of [[0, 1], [1, 0]]) {
        const div = prod.get(n.inputs[a]);
        if (div?.opType === 'Div' && graph.initializers.has(n.inputs[w])) return { input: div.inputs[0], norm: { kind: 'rms', weight: n.inputs[w] } };
      }
    }
    return null;
  };
  // The position selection (`num_logits_to_keep`, src/model/graph/decoder-inputs.ts selectPositions) may sit on
  // the residual before a norm; the fit reads every position, so its taps step back through it and the residual
  // reader can ask for one logit row without shortening the residuals.
  const keep = m.graph.io.numLogitsToKeep;
  const fromKeep = (name: string): boolean => {
    for (let i = 0; i < 4; i++) {
      if (name === keep) return true;
      const n = prod.get(name);
      if (!n || (n.opType !== 'Neg' && n.opType !== 'Unsqueeze' && n.opType !== 'Cast')) return false;
      name = n.inputs[0];
    }
    return false;
  };
  const unselect = (name: string): string => {
    const n = prod.get(name);
    return keep && n?.opType === 'Slice' && fromKeep(n.inputs[1]) ? n.inputs[0] : name;
  };
  const headNode = prod.get(skip(m.graph.io.logits));
  const head = headNode ? outputHead(graph, m, prod, headNode) : null;
  if (!headNode || !head) {
    throw new FitError('E_FIT_GRAPH', `the graph's ${m.graph.io.logits} output is not an output head (Gemm, or MatMulNBits on the tied embedding) this fit can read`);
  }
  const final = normOf(head.input);
  if (!final) throw new FitError('E_FIT_GRAPH', 'the graph does not show the final norm before its output head');
  if (typeof eps !== 'number') throw new FitError('E_FIT_GRAPH', 'the manifest has no config.normEpsilon (the folder was not written by this package)');
  const residuals = new Map<number, string>([[m.numLayers, final.input]]);
  for (const L of layers) {
    if (!Number.isInteger(L) || L < 0 || L > m.numLayers) {
      throw new FitError('E_FIT_LAYER', `layer ${L} is out of range: this model has ${m.numLayers} layers (exits 0..${m.numLayers})`);
    }
    if (residuals.has(L)) continue;
    const exit = m.exits.find((e) => e.layer === L);
    const tapped = exit?.hiddenOutput && (exit.kind === 'lens' || exit.kind === 'head') ? normOf(exit.hiddenOutput) : null;
    if (!tapped) {
      throw new FitError(
        'E_FIT_LAYER',
        `layer ${L} has no logit-lens exit with a hidden output in this folder (exits: ${m.exits.map((e) => e.layer).join(', ') || 'none'}); ` +
          'convert the model with --exits including it',
      );
    }
    residuals.set(L, tapped.input);
  }
  if (!graph.initializers.has(head.matrix)) throw new FitError('E_FIT_GRAPH', 'the output head is not an initializer of the graph');
  const everyPosition = new Map([...residuals].map(([L, name]) => [L, unselect(name)]));
  return { residuals, everyPosition, norm: { ...final.norm, epsilon: eps }, head: { matrix: head.matrix, bias: head.bias } };
}
