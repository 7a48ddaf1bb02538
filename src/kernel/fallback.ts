/**
 * The pure TypeScript implementation of the contrast kernel: used when the native addon is not available, and
 * checked against it by the tests. The algorithm of native/kernels/contrast.cc's reference row
 * (contrast_row_reference: the head finished in double precision), with its float32 rounding points.
 */
import { float16Table } from './half';
import type { DenseRequest, SparseRequest } from './validate';

/** Decodes element i of a float32/float16/bfloat16 array. */
type Reader = (i: number) => number;

const bf16Scratch = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16Scratch.buffer);

function reader(data: Float32Array | Uint16Array, dtype: number, offset: number): Reader {
  if (dtype === 0) return (i) => (data as Float32Array)[offset + i];
  if (dtype === 1) {
    const t = float16Table();
    return (i) => t[data[offset + i]];
  }
  return (i) => {
    bf16Bits[0] = data[offset + i] << 16;
    return bf16Scratch[0];
  };
}

const fround = Math.fround;

/** Raised for NaN/Infinity in the data, with the same wording as the native addon. */
function nonFinite(what: string, row: number, index: number): RangeError {
  return new RangeError(`Expected finite values in ${what} but row ${row}, index ${index} is NaN or infinite`);
}

function runRow(
  req: DenseRequest | SparseRequest,
  row: number,
  amateurAt: (v: number) => number,
  ze: Reader,
  checkAmateur: (() => void) | undefined,
): void {
  const V = req.vocab;
  const out = req.out;
  const base = row * V;
  let m = -Infinity;
  for (let i = 0; i < V; i++) {
    const x = ze(i);
    if (!Number.isFinite(x)) throw nonFinite('expert logits', row, i);
    if (x > m) m = x;
  }
  checkAmateur?.();
  let s = 0;
  for (let i = 0; i < V; i++) s += Math.exp(ze(i) - m);
  const lse = fround(m + fround(Math.log(fround(s))));
  // The head rule on the logits (z >= max + ln alpha, ties included), as the native kernel decides it: float32
  // probabilities would drop a token a few ulp above the cut-off (test/kernel/threshold-ulp.test.mjs).
  let thr = req.alpha > 0 ? fround(m + fround(Math.log(fround(req.alpha)))) : -Infinity;
  const cd = req.mode === 1;

  const collect = (): number[] => {
    const head: number[] = [];
    for (let i = 0; i < V; i++) {
      const x = ze(i);
      const inHead = x >= thr;
      out[base + i] = cd && !inHead ? -Infinity : fround(x - lse);
      if (inHead) head.push(i);
    }
    return head;
  };
  let head = collect();
  if (head.length < req.minCandidates) {
    const sorted = new Float32Array(V);
    for (let i = 0; i < V; i++) sorted[i] = ze(i);
    sorted.sort();
    thr = sorted[V - req.minCandidates];
    head = collect();
  }

  const scores = new Float64Array(head.length);
  let smax = -Infinity;
  let mass = 0;
  for (let j = 0; j < head.length; j++) {
    const v = head[j];
    const e = ze(v);
    const a = amateurAt(v);
    if (!Number.isFinite(a)) throw nonFinite('amateur logits', row, v);
    scores[j] = req.beta !== undefined ? (1 + fround(req.beta)) * e - fround(req.beta) * a : e - a;
    if (scores[j] > smax) smax = scores[j];
    mass += Math.exp(e - lse);
  }
  let z = 0;
  for (let j = 0; j < head.length; j++) z += Math.exp(scores[j] - smax);
  const shift = (cd ? 0 : Math.log(mass)) - smax - Math.log(z);
  for (let j = 0; j < head.length; j++) out[base + head[j]] = fround(scores[j] + shift);
  if (req.headSize) req.headSize[row] = head.length;
  if (req.headMass) req.headMass[row] = mass;
}

/** Runs a dense request in TypeScript, writing req.out (and the head statistics when asked). */
export function contrastDenseJs(req: DenseRequest): Float32Array {
  const V = req.vocab;
  for (let r = 0; r < req.rows; r++) {
    const ze = reader(req.expert, req.dtype, r * V);
    const za = reader(req.amateur, req.dtype, r * V);
    const checkAmateur = (): void => {
      for (let i = 0; i < V; i++) if (!Number.isFinite(za(i))) throw nonFinite('amateur logits', r, i);
    };
    runRow(req, r, za, ze, checkAmateur);
  }
  return req.out;
}

/** Runs a sparse request in TypeScript: amateur logits only for head tokens, from hidden x headWeight. */
export function contrastSparseJs(req: SparseRequest): Float32Array {
  const V = req.vocab;
  const d = req.hiddenSize;
  const bias = req.headBias ? reader(req.headBias, req.weightDtype, 0) : undefined;
  for (let r = 0; r < req.rows; r++) {
    const ze = reader(req.expert, req.dtype, r * V);
    const h = req.hidden.subarray(r * d, (r + 1) * d);
    const amateurAt = (v: number): number => {
      const w = reader(req.headWeight, req.weightDtype, v * d);
      let acc = 0;
      for (let i = 0; i < d; i++) acc += w(i) * h[i];
      let zf = fround(acc);
      if (bias) zf = fround(zf + bias(v));
      return zf;
    };
    runRow(req, r, amateurAt, ze, undefined);
  }
  return req.out;
}
