/**
 * How a model folder's cached keys depend on their cache column. The fused Llama graph rotates each key by its
 * column in the cache (ONNX Runtime's GroupQueryAttention; see src/model/graph/fused-llama.ts), not by its
 * position: the runtime must rotate a row's keys on when it moves them to other columns (a row joining a running
 * batch, shared padding dropped), or the row's query-key distances change.
 */
import { llamaHeadDim } from '../graph/llama';
import { ropeInverseFrequencies } from '../graph/rotary';
import type { ModelManifest } from './manifest-types';

/** Rotary pairing and inverse frequencies of keys stored rotated by their cache column. */
export interface KeyRotation {
  /** headDim / 2 inverse frequencies (radians per column). */
  readonly invFreq: readonly number[];
  /** Pairs (2i, 2i + 1) when true, (i, i + headDim / 2) otherwise. */
  readonly interleaved: boolean;
}

/** The key rotation of a folder's graph, or undefined when its keys do not depend on their column. */
export function keyRotationOf(m: ModelManifest): KeyRotation | undefined {
  const c = m.config;
  if (m.graph.form !== 'fused' || !c || c.architecture !== 'llama') return undefined;
  return { invFreq: c.ropeInvFreq ?? ropeInverseFrequencies(llamaHeadDim(c), c.ropeTheta), interleaved: c.rotary === 'interleaved' };
}
