/**
 * Candidate premature layers of DoLa: transformers' buckets (`_dola_decoding` in generation/utils.py, 4.43-4.5x)
 * and explicit lists, checked against the model. Layer 0 is the embedding output, layer N the final layer.
 */
import { dolaError } from './dola';

/** `low`, `high`, or explicit layer numbers. */
export type DolaLayers = 'low' | 'high' | readonly number[];

/**
 * transformers' bucket rule for an N-layer model. `start` is 0 with untied embeddings; with tied embeddings 2 if
 * N > 2, 1 if N = 2, else 0 (an exit at layer 0 through the tied head is close to the identity). `low`: `[start]`
 * when start = floor(N / 2), else `range(start, floor(N / 2), 2)` for N <= 40 and `range(start, 20, 2)` above;
 * `high`: `range(floor(N / 2), N, 2)` for N <= 40 and `range(N - 20, N, 2)` above.
 */
export function dolaBucket(bucket: 'low' | 'high', numLayers: number, tiedEmbeddings: boolean): number[] {
  const N = numLayers;
  const half = Math.floor(N / 2);
  const range = (a: number, b: number) => {
    const out: number[] = [];
    for (let i = a; i < b; i += 2) out.push(i);
    return out;
  };
  if (bucket === 'high') return N <= 40 ? range(half, N) : range(N - 20, N);
  const start = !tiedEmbeddings ? 0 : N > 2 ? 2 : N === 2 ? 1 : 0;
  if (start === half) return [start];
  return N <= 40 ? range(start, half) : range(start, 20);
}

/**
 * Resolves a candidate specification into layer numbers, each below the final layer and available in the model.
 * @param available layers the model can produce (its exits), or undefined to skip that check.
 * @param field the option name used in messages (`dolaLayers`, `--dola-layers`, ...).
 * @throws RangeError / TypeError with code `ERR_DOLA_LAYERS` (unknown bucket, not an integer, out of range, the
 *   final layer, a layer the model has no exit for, duplicates) or `ERR_DOLA_NO_CANDIDATES` (an empty list, or a
 *   bucket that is empty for this model).
 */
export function resolveDolaLayers(spec: unknown, numLayers: number, tiedEmbeddings: boolean, available?: readonly number[], field = 'dolaLayers'): number[] {
  let layers: number[];
  if (typeof spec === 'string') {
    if (spec !== 'low' && spec !== 'high') {
      throw dolaError('type', 'ERR_DOLA_LAYERS', `Expected ${field} to be 'low', 'high' or a list of layer numbers but received '${spec}'`);
    }
    layers = dolaBucket(spec, numLayers, tiedEmbeddings);
    if (layers.length === 0) throw dolaError('range', 'ERR_DOLA_NO_CANDIDATES', `${field} '${spec}' holds no layer for a ${numLayers}-layer model`);
  } else if (Array.isArray(spec)) {
    if (spec.length === 0) throw dolaError('range', 'ERR_DOLA_NO_CANDIDATES', `${field} is empty: give at least one candidate layer (or 'low' / 'high')`);
    const seen = new Set<number>();
    layers = spec.map((l: unknown) => {
      if (typeof l !== 'number' || !Number.isInteger(l)) throw dolaError('type', 'ERR_DOLA_LAYERS', `Expected ${field} to hold integer layer numbers but received ${JSON.stringify(l)}`);
      if (l === numLayers) throw dolaError('range', 'ERR_DOLA_LAYERS', `${field} holds ${l}, the final layer: it is the mature layer that candidates are contrasted with (candidates are 0..${numLayers - 1})`);
      if (l < 0 || l > numLayers) throw dolaError('range', 'ERR_DOLA_LAYERS', `${field} holds ${l}, out of range: candidates are 0..${numLayers - 1} (0 = the embedding output)`);
      if (seen.has(l)) throw dolaError('range', 'ERR_DOLA_LAYERS', `${field} holds layer ${l} twice`);
      seen.add(l);
      return l;
    });
  } else {
    throw dolaError('type', 'ERR_DOLA_LAYERS', `Expected ${field} to be 'low', 'high' or a list of layer numbers but received ${JSON.stringify(spec)}`);
  }
  if (available) {
    const have = new Set(available);
    const missing = layers.filter((l) => !have.has(l));
    if (missing.length > 0) {
      throw dolaError(
        'range',
        'ERR_DOLA_LAYERS',
        `${field}: this model has no exit at layer${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (its exits: ${available.join(', ') || 'none'}; convert with --exits ${layers.join(',')})`,
      );
    }
  }
  return layers;
}
