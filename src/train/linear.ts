/**
 * The linear shortcut of Din et al. 2023 ("Jump to Conclusions"): for each layer L, the affine map A, b that
 * minimises sum_t ||A h_L(t) + b - h_N(t)||^2 over the fitting tokens (closed form, no gradient steps). The
 * statistics X̃^T X̃ and X̃^T Y (X̃ = [h_L, 1]) are summed per chunk in float32 by ONNX Runtime and across chunks
 * in float64; the normal equations are solved in float64 by Cholesky.
 */
import type * as ort from 'onnxruntime-node';
import { f32, graphSession, outF32 } from './ort-graph';
import { linearStatsGraph } from './step-graphs';

/** Running sums of the normal equations for several layers. */
export class LinearStats {
  /** X̃^T X̃ per layer, `(d+1)^2` float64. */
  readonly xx: Float64Array[];
  /** X̃^T Y per layer, `(d+1) x d` float64. */
  readonly xy: Float64Array[];
  /** Rows summed. */
  rows = 0;
  private session?: ort.InferenceSession;

  /** @param layers layers fitted, in order; @param d hidden width; @param threads ONNX Runtime threads */
  constructor(readonly layers: readonly number[], readonly d: number, private readonly threads: number) {
    this.xx = layers.map(() => new Float64Array((d + 1) * (d + 1)));
    this.xy = layers.map(() => new Float64Array((d + 1) * d));
  }

  /** Adds the rows of one chunk: `x` residuals of each layer (`rows x d`), `y` of the last block. */
  async add(x: ReadonlyMap<number, Float32Array>, y: Float32Array): Promise<void> {
    const rows = y.length / this.d;
    this.session ??= await graphSession(linearStatsGraph(this.layers.length, this.d).g, this.threads);
    const feeds: Record<string, ort.Tensor> = { y: f32(y, [rows, this.d]), ones: f32(new Float32Array(rows).fill(1), [rows, 1]) };
    this.layers.forEach((L, i) => (feeds[`x${i}`] = f32(x.get(L)!, [rows, this.d])));
    const r = await this.session.run(feeds);
    this.layers.forEach((_, i) => {
      const xx = outF32(r, `xx${i}`);
      const xy = outF32(r, `xy${i}`);
      const sx = this.xx[i];
      const sy = this.xy[i];
      for (let k = 0; k < xx.length; k++) sx[k] += xx[k];
      for (let k = 0; k < xy.length; k++) sy[k] += xy[k];
    });
    this.rows += rows;
  }

  /** Frees the statistics graph. */
  async close(): Promise<void> {
    await this.session?.release();
  }
}

/**
 * Solves `(G + ridge I) W = C` for W (`n x m`), G symmetric positive definite `n x n` (float64 Cholesky).
 * @returns W row-major `n x m`
 */
export function solveNormalEquations(G: Float64Array, C: Float64Array, n: number, m: number, ridge: number): Float64Array {
  const L = Float64Array.from(G);
  for (let i = 0; i < n; i++) L[i * n + i] += ridge;
  for (let j = 0; j < n; j++) {
    let s = L[j * n + j];
    for (let k = 0; k < j; k++) s -= L[j * n + k] * L[j * n + k];
    if (!(s > 0)) throw new Error(`the least-squares system is singular at column ${j} (too few distinct tokens?)`);
    const dj = Math.sqrt(s);
    L[j * n + j] = dj;
    for (let i = j + 1; i < n; i++) {
      let t = L[i * n + j];
      const ri = i * n;
      const rj = j * n;
      for (let k = 0; k < j; k++) t -= L[ri + k] * L[rj + k];
      L[ri + j] = t / dj;
    }
  }
  // Forward then back substitution for all m right-hand sides at once (row-major: row i holds m values).
  const W = Float64Array.from(C);
  for (let i = 0; i < n; i++) {
    const wi = i * m;
    for (let k = 0; k < i; k++) {
      const l = L[i * n + k];
      if (l === 0) continue;
      const wk = k * m;
      for (let c = 0; c < m; c++) W[wi + c] -= l * W[wk + c];
    }
    const di = L[i * n + i];
    for (let c = 0; c < m; c++) W[wi + c] /= di;
  }
  for (let i = n - 1; i >= 0; i--) {
    const wi = i * m;
    for (let k = i + 1; k < n; k++) {
      const l = L[k * n + i];
      if (l === 0) continue;
      const wk = k * m;
      for (let c = 0; c < m; c++) W[wi + c] -= l * W[wk + c];
    }
    const di = L[i * n + i];
    for (let c = 0; c < m; c++) W[wi + c] /= di;
  }
  return W;
}

/**
 * The fitted translator of one layer from its statistics: `At` = A^T (`d x d`, float32, the first d rows of W)
 * and `b` (row d of W). The ridge is a relative jitter (`ridgeScale` x the mean diagonal of X̃^T X̃) that only
 * keeps the Cholesky factorisation defined for degenerate directions.
 */
export function solveLinear(xx: Float64Array, xy: Float64Array, d: number, ridgeScale: number): { At: Float32Array; b: Float32Array } {
  const n = d + 1;
  let tr = 0;
  for (let i = 0; i < n; i++) tr += xx[i * n + i];
  const W = solveNormalEquations(xx, xy, n, d, (ridgeScale * tr) / n);
  return { At: Float32Array.from(W.subarray(0, d * d)), b: Float32Array.from(W.subarray(d * d, n * d)) };
}
