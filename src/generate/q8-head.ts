/**
 * The runtime's 8-bit output head. A head stored as GGUF Q8_0 (SmolLM2's tied embedding: int8 codes, one float16
 * scale per 32 values) reaches a model folder as float32 values that are exactly code x scale; Q8_0's rule makes the
 * largest |code| of a non-zero block 127, so the codes and scales come back exactly from the float32 matrix
 * (`compactHead` checks every value bit for bit). When they do, the runtime opens the folder's graph without its head
 * product (`graphWithoutHead`) and multiplies the final hidden state with the int8 codes itself
 * (native/kernels/q8_head.h): the same float32 values, a quarter of the bytes read per step (the q4 form's graph
 * reads the head as two 4-bit digit products, the float32 form's as a float32 Gemm), the head read once for every
 * row. A head without that form (a float32 or safetensors model, a bias, a trained final head) keeps the graph's
 * product: nothing changes. `AUTOCONTRAST_Q8_HEAD=0` keeps the graph's product always (the reference).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { compactHead } from '../kernel';
import { graphWithoutHead } from '../model/graph/onnx/without-head';
import type { ModelManifest } from '../model/manifest/manifest-types';
import type { GraphDescription } from '../runtime/types';
import { modelHeadSpan } from './heads';
import { loadInitializer, type OnnxGraphInfo } from './onnx-reader';

/** The name the edited graph gives the final hidden state when no final exit outputs it. */
export const Q8_HEAD_HIDDEN = 'q8_head.final.hidden';

/** What the runtime needs to compute the head itself, or why it cannot. */
export type NativeHeadPlan =
  | { readonly graphBytes: Uint8Array; readonly outputHead: NonNullable<GraphDescription['outputHead']> }
  | { readonly graphBytes?: undefined; readonly reason: string };

/**
 * The graph without its head product and the head's exact int8 blocks, for a model folder whose output head is a
 * bias-free float32 matrix of that form; otherwise the reason the graph keeps its head.
 */
export function nativeHeadPlan(dir: string, m: ModelManifest, graph: OnnxGraphInfo): NativeHeadPlan {
  if (m.hiddenSize % 32 !== 0) return { reason: `the hidden size ${m.hiddenSize} is not a multiple of 32` };
  const span = modelHeadSpan(graph, m);
  if (!span) return { reason: 'the graph computes its head in a form this runtime does not take apart' };
  if (span.bias) return { reason: 'the head has a bias' };
  const info = graph.initializers.get(span.matrix);
  if (!info || info.dataType !== 1) return { reason: `the head matrix ${span.matrix} is not float32` };
  const file = join(dir, m.graph.file);
  const weight = loadInitializer(file, info).data as Float32Array;
  const compact = compactHead(weight, m.vocabSize, m.hiddenSize);
  if (!compact) return { reason: 'the head is not exactly 8-bit blocks (not a Q8_0 head)' };
  let graphBytes: Uint8Array;
  try {
    graphBytes = graphWithoutHead(readFileSync(file), {
      input: span.input,
      output: span.output,
      vocabSize: m.vocabSize,
      ...(span.hiddenOutput ? {} : { exposeInputAs: Q8_HEAD_HIDDEN, hiddenSize: m.hiddenSize }),
    });
  } catch (e) {
    return { reason: `the graph's head cannot be removed (${(e as Error).message})` };
  }
  return { graphBytes, outputHead: { hiddenOutput: span.hiddenOutput ?? Q8_HEAD_HIDDEN, codes: compact.q8, scales: compact.scale } };
}
