/**
 * `fitExits(options)`: fits amateur exits of a frozen model on the CPU and writes them into its model folder.
 *
 * - `head`: a new linear head per layer on `finalNorm(h_L)`, initialised from the model's output head and trained
 *   with next-token cross-entropy, AdamW with linear decay (Gera et al. 2023, section 3.1 and Appendix A);
 *   `expertHead` also fits a new head on the last layer (the paper's "L-new").
 * - `lens`: an affine translator `h A^T + b` per layer, identity-initialised, before the final norm and the model's
 *   own head, trained to minimise KL(final layer || exit) (the tuned lens of Belrose et al. 2023).
 * - `linear`: the least-squares translator from h_L to the last block's residual (Din et al. 2023), closed form.
 *
 * Data: text/JSONL files, or text the model samples itself from varied prompts (self-distillation), chunked to
 * `seqLen` tokens with a held-out share; the evaluation sets are refused. Hidden states come from the folder's
 * graph (all positions of a chunk at once); the training steps are ONNX Runtime graphs; chunks stream through, so
 * memory does not grow with the data. Seeded and reproducible; with `checkpointDir` an interrupted run resumes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { load as loadModel, generate } from '../generate';
import { loadInitializer, readOnnxGraph, type OnnxGraphInfo } from '../generate/onnx-reader';
import { fromHalfBits } from '../kernel/half';
import { loadTokenizer } from '../model/import';
import { MANIFEST_FILE, type FitRecord, type ModelManifest } from '../model/manifest/manifest-types';
import { resolveModel } from '../model/pull/resolve-model';
import { AdamWParam, linearDecay } from './adamw';
import { checkpointFile, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { chunkTokens, readDataFiles, SELF_DISTILLATION_PROMPTS, tokenise, type FitData } from './data';
import type { FitMethod } from './exit-nodes';
import { FitError } from './fit-error';
import { findGraphTaps, type GraphTaps } from './graph-taps';
import { LinearStats, solveLinear } from './linear';
import { f32, graphSession, i64, outF32 } from './ort-graph';
import { ResidualReader } from './residuals';
import { headStepGraph, lensStepGraph, scoreGraph } from './step-graphs';
import { writeFittedExits, type FittedExit } from './write-exits';

/** Progress of a fit. */
export interface FitProgress {
  /** `data` (sampling text), `fit`, `validate` or `write`. */
  readonly phase: 'data' | 'fit' | 'validate' | 'write';
  /** Units done and total (tokens for `data`, chunks otherwise). */
  readonly done: number;
  readonly total: number;
  /** Mean training loss of the run so far (`fit` of `head` / `lens`). */
  readonly loss?: number;
  /** Tokens per second of this phase. */
  readonly tokensPerSecond: number;
  /** Seconds left in this phase (estimate). */
  readonly etaSeconds: number;
}

/** Options of {@link fitExits}. */
export interface FitExitsOptions {
  /** Model folder, or the name of a pulled model. */
  readonly model: string;
  /** Exit layers to fit (1..numLayers). */
  readonly layers: readonly number[];
  /** `head`, `lens` or `linear`. */
  readonly method: FitMethod;
  /** Text or JSONL files; none: the model samples its own text (self-distillation). */
  readonly data?: readonly string[];
  /** Token ids to fit on instead of files (e.g. for a model folder without a tokenizer). */
  readonly tokens?: ArrayLike<number>;
  /** `head`: also fit a new head on the last layer (the paper's new final head). Default false. */
  readonly expertHead?: boolean;
  /** `head`: give each head a bias. Default false. */
  readonly bias?: boolean;
  /** Write a new model folder here instead of updating the model folder. */
  readonly out?: string;
  /** Tokens per chunk (default 512, the paper's sequence length). */
  readonly seqLen?: number;
  /** Tokens per optimiser step (default 32768 = 64 sequences of 512, the paper's batch); whole chunks. */
  readonly batchTokens?: number;
  /** Peak learning rate (default 2e-4, Appendix A). */
  readonly learningRate?: number;
  /** AdamW weight decay (default 0). */
  readonly weightDecay?: number;
  /** Share of chunks held out for validation (default 0.05, at least one chunk). */
  readonly validationFraction?: number;
  /** Use at most this many tokens of the data (default all). */
  readonly maxTokens?: number;
  /** Self-distillation: tokens to sample when no data is given (default 200000). */
  readonly sampleTokens?: number;
  /** Seed of the data shuffle and the sampling (default 0). */
  readonly seed?: number;
  /** ONNX Runtime intra-op threads (default 0: one per core). */
  readonly threads?: number;
  /** Folder for a checkpoint every `checkpointEvery` steps; a run finds its checkpoint there and resumes. */
  readonly checkpointDir?: string;
  /** Steps between checkpoints (default 20). */
  readonly checkpointEvery?: number;
  /** `linear`: relative ridge jitter (default 1e-9 x the mean diagonal). */
  readonly ridge?: number;
  /** Stop after this many optimiser steps, leaving the checkpoint (for interrupting a run on purpose). */
  readonly stopAfterSteps?: number;
  /**
   * Interrupts the fit after the chunk in progress (Ctrl-C in the CLI): with `checkpointDir` everything done so
   * far, the current step's accumulated gradients included, is saved there first, and the same call resumes it.
   * Rejects with FitError `E_FIT_INTERRUPTED`.
   */
  readonly signal?: AbortSignal;
  /** Progress callback. */
  readonly onProgress?: (p: FitProgress) => void;
}

/** Per-layer validation results. */
export interface LayerReport {
  readonly layer: number;
  /** Validation cross-entropy of the fitted exit (nats per token). */
  readonly validationLoss: number;
  /** The same of the logit lens. */
  readonly logitLensValidationLoss: number;
  /** Share of validation positions whose arg-max equals the final layer's. */
  readonly top1Agreement: number;
  readonly logitLensTop1Agreement: number;
}

/** What {@link fitExits} did. */
export interface FitExitsResult {
  /** The model folder written (null when stopped early by `stopAfterSteps`). */
  readonly dir: string | null;
  /** Its manifest (null when stopped early). */
  readonly manifest: ModelManifest | null;
  /** Per layer results (empty when stopped early). */
  readonly layers: readonly LayerReport[];
  /** The final layer's own validation cross-entropy. */
  readonly finalValidationLoss: number;
  /** Data used. */
  readonly data: { readonly hash: string; readonly source: FitData['source']; readonly trainTokens: number; readonly validationTokens: number };
  /** Optimiser steps done. */
  readonly steps: number;
  /** Seconds spent fitting (after the data was ready, before validation). */
  readonly fitSeconds: number;
  /** Training tokens per second of the fit phase. */
  readonly fitTokensPerSecond: number;
  /** The fitted parameters by layer (for inspection and tests). */
  readonly params: ReadonlyMap<number, { W?: Float32Array; b?: Float32Array; At?: Float32Array; tb?: Float32Array }>;
  /** True when `stopAfterSteps` stopped the run before the end. */
  readonly stopped: boolean;
}

function option(ok: boolean, what: string): void {
  if (!ok) throw new FitError('E_FIT_OPTION', what);
}

function toF32(x: { data: Float32Array | Uint16Array; dtype: 'float32' | 'float16' | 'bfloat16' }): Float32Array {
  return x.dtype === 'float32' ? (x.data as Float32Array) : fromHalfBits(x.data as Uint16Array, x.dtype);
}

/** Samples text from the model itself, from varied prompts, until `tokens` tokens are collected. */
async function selfDistillationTokens(dir: string, tokens: number, seed: number, seqLen: number, onProgress?: (p: FitProgress) => void): Promise<number[]> {
  const model = await loadModel(dir, { skipValidation: true });
  const out: number[] = [];
  const t0 = Date.now();
  try {
    const batch = 8;
    for (let round = 0; out.length < tokens; round++) {
      const prompts = Array.from({ length: batch }, (_, i) => SELF_DISTILLATION_PROMPTS[(round * batch + i) % SELF_DISTILLATION_PROMPTS.length]);
      const rs = await generate(model, prompts, { contrast: false, strategy: 'sample', seed: seed * 100003 + round, maxNewTokens: seqLen, temperature: 1 });
      for (const r of rs) for (const t of [...r.promptTokens, ...r.tokens]) out.push(t);
      const s = (Date.now() - t0) / 1000;
      onProgress?.({ phase: 'data', done: Math.min(out.length, tokens), total: tokens, tokensPerSecond: out.length / s, etaSeconds: ((tokens - out.length) * s) / out.length });
    }
  } finally {
    model.dispose?.();
  }
  return out.slice(0, tokens);
}

/** Reads the fitting data of `o` as chunks. */
async function prepareData(dir: string, m: ModelManifest, o: FitExitsOptions, seqLen: number, seed: number): Promise<FitData> {
  const chunkOpts = { seqLen, validationFraction: o.validationFraction ?? 0.05, seed, maxTokens: o.maxTokens };
  if (o.tokens) {
    const ids = Array.from(o.tokens);
    for (const t of ids) option(Number.isInteger(t) && t >= 0 && t < m.vocabSize, `tokens: ${t} is not a token id of this model (0..${m.vocabSize - 1})`);
    return chunkTokens(ids, chunkOpts, createHash('sha256').update(Int32Array.from(ids)).digest('hex'), 'files');
  }
  const tokenizerFile = m.tokenizer.file ? join(dir, m.tokenizer.file) : null;
  if (o.data && o.data.length > 0) {
    const { docs, hash } = readDataFiles(o.data);
    if (!tokenizerFile) throw new FitError('E_FIT_NO_DATA', `${dir} has no tokenizer to read --data with; give token ids (the tokens option) instead`);
    const tok = loadTokenizer(JSON.parse(readFileSync(tokenizerFile, 'utf8')) as object);
    return chunkTokens(tokenise(docs, tok, o.maxTokens), chunkOpts, hash, 'files');
  }
  if (!tokenizerFile) {
    throw new FitError('E_FIT_NO_DATA', `no --data given and the model ${dir} has no tokenizer to sample its own text with; give --data FILE`);
  }
  const want = o.sampleTokens ?? 200000;
  option(Number.isInteger(want) && want >= 2 * seqLen, `sampleTokens must be an integer >= 2 x seqLen (${2 * seqLen}), got ${want}`);
  const ids = await selfDistillationTokens(dir, want, seed, seqLen, o.onProgress);
  return chunkTokens(ids, chunkOpts, createHash('sha256').update(Int32Array.from(ids)).digest('hex'), 'self-distillation');
}

/** The model's own head and final norm weights, as float32. */
function readModelWeights(dir: string, m: ModelManifest, graph: OnnxGraphInfo, taps: GraphTaps) {
  const file = join(dir, m.graph.file);
  const get = (name: string) => toF32(loadInitializer(file, graph.initializers.get(name)!));
  return {
    U: get(taps.head.matrix),
    ub: taps.head.bias ? get(taps.head.bias) : new Float32Array(m.vocabSize),
    normWeight: get(taps.norm.weight),
    normBias: taps.norm.bias ? get(taps.norm.bias) : undefined,
    norm: taps.norm,
    zeros: new Float32Array(m.vocabSize),
  };
}

/** Shifts: the hidden states of positions 0..S-2 predict tokens 1..S-1. */
function nextTokenRows(h: Float32Array, d: number, S: number): Float32Array {
  return h.subarray(0, (S - 1) * d);
}

/**
 * Fits exits (see the module comment) and writes them into the model folder (or `out`).
 * @throws {FitError} with a code for every user mistake (options, layers, data, evaluation sets, disk).
 */
export async function fitExits(o: FitExitsOptions): Promise<FitExitsResult> {
  option(['head', 'lens', 'linear'].includes(o.method), `method must be head, lens or linear (got "${String(o.method)}")`);
  const seqLen = o.seqLen ?? 512;
  option(Number.isInteger(seqLen) && seqLen >= 2, `seqLen must be an integer >= 2 (got ${seqLen})`);
  const seed = o.seed ?? 0;
  option(Number.isInteger(seed) && seed >= 0, `seed must be a non-negative integer (got ${seed})`);
  const lr = o.learningRate ?? 2e-4;
  option(Number.isFinite(lr) && lr > 0, `learningRate must be > 0 (got ${lr})`);
  const batchTokens = o.batchTokens ?? 64 * 512;
  option(Number.isInteger(batchTokens) && batchTokens >= 1, `batchTokens must be a positive integer (got ${batchTokens})`);
  const vf = o.validationFraction ?? 0.05;
  option(vf > 0 && vf < 1, `validationFraction must be in (0, 1) (got ${vf})`);
  option(!o.expertHead || o.method === 'head', 'expertHead needs method head');
  option(!o.bias || o.method === 'head', 'bias needs method head');
  const threads = o.threads ?? 0;
  option(Array.isArray(o.layers) && o.layers.length > 0, 'layers: give at least one layer');

  const dir = resolveModel(o.model);
  const m = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as ModelManifest;
  const N = m.numLayers;
  for (const L of o.layers) {
    if (!Number.isInteger(L) || L < 1 || L > N) throw new FitError('E_FIT_LAYER', `layer ${L} is out of range: this model has layers 1..${N}`);
  }
  const layers = [...new Set([...o.layers, ...(o.expertHead ? [N] : [])])].sort((a, b) => a - b);
  option(o.method === 'head' || !layers.includes(N), `layer ${N} is the last layer: a ${o.method} translator to itself is the identity (fit layers below ${N})`);
  const graph = readOnnxGraph(join(dir, m.graph.file));
  const taps = findGraphTaps(graph, m, layers);
  const data = await prepareData(dir, m, o, seqLen, seed);
  const w = readModelWeights(dir, m, graph, taps);
  const d = m.hiddenSize;
  const V = m.vocabSize;
  const reader = await ResidualReader.open(dir, m, taps, threads);
  const sessions: ort.InferenceSession[] = [];
  try {
    const normFeeds = (): Record<string, ort.Tensor> => ({
      norm_weight: f32(w.normWeight, [d]),
      ...(w.normBias ? { norm_bias: f32(w.normBias, [d]) } : {}),
    });
    const params = new Map<number, { W?: Float32Array; b?: Float32Array; At?: Float32Array; tb?: Float32Array }>();
    let steps = 0;
    let stopped = false;
    const t0 = Date.now();
    const trainTokens = data.train.length * seqLen;

    if (o.method === 'linear') {
      const stats = new LinearStats(layers, d, threads);
      try {
        for (let c = 0; c < data.train.length; c++) {
          // The closed form has no steps to checkpoint: an interrupted run starts again (it is one pass).
          if (o.signal?.aborted) throw new FitError('E_FIT_INTERRUPTED', `interrupted after ${c} of ${data.train.length} chunks: linear fits in one pass and keeps no checkpoint; nothing was written`);
          const h = await reader.run(data.train[c]);
          await stats.add(h, h.get(N)!);
          const s = (Date.now() - t0) / 1000;
          o.onProgress?.({ phase: 'fit', done: c + 1, total: data.train.length, tokensPerSecond: ((c + 1) * seqLen) / s, etaSeconds: ((data.train.length - c - 1) * s) / (c + 1) });
        }
      } finally {
        await stats.close();
      }
      layers.forEach((L, i) => {
        let sol;
        try {
          sol = solveLinear(stats.xx[i], stats.xy[i], d, o.ridge ?? 1e-9);
        } catch (e) {
          throw new FitError('E_FIT_DATA_SHORT', `layer ${L}: ${(e as Error).message}`);
        }
        params.set(L, { At: sol.At, tb: sol.b });
      });
    } else {
      const r = await gradientFit(o, { dir, m, layers, data, w, reader, normFeeds, seqLen, lr, batchTokens, threads, seed, sessions, t0 });
      steps = r.steps;
      stopped = r.stopped;
      for (const [L, p] of r.params) params.set(L, p);
    }
    const fitSeconds = (Date.now() - t0) / 1000;
    const dataInfo = { hash: data.hash, source: data.source, trainTokens, validationTokens: data.validation.length * seqLen };
    if (stopped) {
      return { dir: null, manifest: null, layers: [], finalValidationLoss: NaN, data: dataInfo, steps, fitSeconds, fitTokensPerSecond: trainTokens / fitSeconds, params, stopped };
    }

    const report = await validate(o, { m, layers, data, w, reader, normFeeds, params, seqLen, threads, sessions });
    o.onProgress?.({ phase: 'write', done: 0, total: 1, tokensPerSecond: 0, etaSeconds: 0 });
    const settings: Record<string, number | string | boolean> = { seed, seqLen, validationFraction: vf };
    if (o.method !== 'linear') Object.assign(settings, { learningRate: lr, batchTokens, weightDecay: o.weightDecay ?? 0, optimizer: 'adamw', schedule: 'linear-decay' });
    if (o.method === 'head') settings.bias = !!o.bias;
    if (o.method === 'linear') settings.ridge = o.ridge ?? 1e-9;
    const exits: FittedExit[] = report.layers.map((lr2) => {
      const p = params.get(lr2.layer)!;
      const record: FitRecord = {
        method: o.method,
        dataHash: data.hash,
        dataSource: data.source,
        tokens: trainTokens,
        validationTokens: dataInfo.validationTokens,
        steps,
        validationLoss: lr2.validationLoss,
        logitLensValidationLoss: lr2.logitLensValidationLoss,
        top1Agreement: lr2.top1Agreement,
        logitLensTop1Agreement: lr2.logitLensTop1Agreement,
        settings,
      };
      return p.W ? { layer: lr2.layer, method: o.method, head: { W: p.W, b: p.b }, record } : { layer: lr2.layer, method: o.method, translator: { At: p.At!, b: p.tb! }, record };
    });
    await reader.close();
    const written = await writeFittedExits(dir, m, taps, exits, { out: o.out });
    if (o.checkpointDir) await import('node:fs').then((fs) => fs.promises.rm(checkpointFile(o.checkpointDir!), { force: true }));
    return {
      dir: written.dir,
      manifest: written.manifest,
      layers: report.layers,
      finalValidationLoss: report.finalLoss,
      data: dataInfo,
      steps,
      fitSeconds,
      fitTokensPerSecond: trainTokens / fitSeconds,
      params,
      stopped: false,
    };
  } finally {
    await reader.close().catch(() => undefined);
    for (const s of sessions) await s.release().catch(() => undefined);
  }
}

interface FitContext {
  dir: string;
  m: ModelManifest;
  layers: number[];
  data: FitData;
  w: ReturnType<typeof readModelWeights>;
  reader: ResidualReader;
  normFeeds: () => Record<string, ort.Tensor>;
  seqLen: number;
  lr: number;
  batchTokens: number;
  threads: number;
  seed: number;
  sessions: ort.InferenceSession[];
  t0: number;
}

/** The gradient methods (`head`, `lens`): streamed chunks, accumulated micro-batches, AdamW steps, checkpoints. */
async function gradientFit(o: FitExitsOptions, c: FitContext) {
  const { m, layers, data, w, reader, seqLen } = c;
  const d = m.hiddenSize;
  const V = m.vocabSize;
  const N = m.numLayers;
  const isHead = o.method === 'head';
  const session = await graphSession((isHead ? headStepGraph : lensStepGraph)(w.norm, { d, V }).g, c.threads);
  c.sessions.push(session);
  const chunksPerStep = Math.max(1, Math.round(c.batchTokens / seqLen));
  const totalSteps = Math.ceil(data.train.length / chunksPerStep);
  // Parameters: a head starts as the model's own head (bias 0); a translator as the identity.
  const state = new Map<number, { main: AdamWParam; bias?: AdamWParam; gMain: Float32Array; gBias?: Float32Array }>();
  for (const L of layers) {
    if (isHead) {
      const main = new AdamWParam(Float32Array.from(w.U));
      const bias = o.bias ? new AdamWParam(Float32Array.from(w.ub)) : undefined;
      state.set(L, { main, bias, gMain: new Float32Array(V * d), gBias: new Float32Array(V) });
    } else {
      const At = new Float32Array(d * d);
      for (let i = 0; i < d; i++) At[i * d + i] = 1;
      state.set(L, { main: new AdamWParam(At), bias: new AdamWParam(new Float32Array(d)), gMain: new Float32Array(d * d), gBias: new Float32Array(d) });
    }
  }
  const key = createHash('sha256')
    .update(JSON.stringify({ model: m.graph, exits: m.exits.map((e) => e.layer), method: o.method, layers, data: data.hash, n: data.train.length, seqLen, lr: c.lr, batch: c.batchTokens, wd: o.weightDecay ?? 0, bias: !!o.bias, seed: c.seed }))
    .digest('hex');
  const ckFile = o.checkpointDir ? checkpointFile(o.checkpointDir) : null;
  let step = 0;
  let chunk = 0;
  let lossSum = 0;
  let lossRows = 0;
  // Rows already accumulated in the first step when resuming a run interrupted inside a step.
  let midStepRows: number | undefined;
  let rows = 0;
  if (ckFile) {
    const ck = await loadCheckpoint(ckFile, key);
    if (ck) {
      step = ck.step;
      chunk = ck.chunks;
      lossSum = ck.lossSum;
      lossRows = ck.lossRows;
      for (const [L, s] of state) {
        for (const [name, p] of [['main', s.main], ['bias', s.bias]] as const) {
          if (!p) continue;
          for (const part of ['value', 'm', 'v'] as const) {
            const a = ck.arrays.get(`${L}.${name}.${part}`);
            if (!a || a.length !== p[part].length) throw new FitError('E_FIT_RESUME', `${ckFile}: missing or wrong-sized ${L}.${name}.${part}`);
            p[part].set(a);
          }
        }
        if (ck.rows !== undefined) {
          // interrupted inside a step: its gradient sums so far
          for (const [name, p, g] of [['main', s.main, s.gMain], ['bias', s.bias, s.gBias]] as const) {
            const a = ck.arrays.get(`${L}.${name}.grad`);
            if (!p || !g) continue;
            if (!a || a.length !== g.length) throw new FitError('E_FIT_RESUME', `${ckFile}: missing or wrong-sized ${L}.${name}.grad`);
            g.set(a);
          }
        }
      }
      midStepRows = ck.rows;
    }
  }
  /** Saves the run; `inStep`: interrupted inside a step, so its accumulated gradients and rows go too. */
  const save = async (inStep = false) => {
    if (!ckFile) return;
    const arrays = new Map<string, Float32Array>();
    for (const [L, s] of state) {
      for (const [name, p, g] of [['main', s.main, s.gMain], ['bias', s.bias, s.gBias]] as const) {
        if (!p) continue;
        arrays.set(`${L}.${name}.value`, p.value);
        arrays.set(`${L}.${name}.m`, p.m);
        arrays.set(`${L}.${name}.v`, p.v);
        if (inStep && g) arrays.set(`${L}.${name}.grad`, g);
      }
    }
    await saveCheckpoint(ckFile, { key, step, chunks: chunk, lossSum, lossRows, ...(inStep ? { rows } : {}), arrays });
  };
  const interrupted = async (inStep: boolean): Promise<never> => {
    await save(inStep);
    throw new FitError(
      'E_FIT_INTERRUPTED',
      ckFile
        ? `interrupted at step ${step} of ${totalSteps} (chunk ${chunk} of ${data.train.length}); everything so far is saved in ${ckFile}: run the same command to resume`
        : `interrupted at step ${step} of ${totalSteps} without a checkpoint folder: nothing was saved (give --checkpoint-dir to keep progress)`,
    );
  };
  const every = o.checkpointEvery ?? 20;
  const tStart = Date.now();
  const chunkAtStart = chunk;
  let stopped = false;
  while (step < totalSteps) {
    if (o.stopAfterSteps !== undefined && step >= o.stopAfterSteps) {
      stopped = true;
      break;
    }
    if (midStepRows !== undefined) {
      rows = midStepRows;
      midStepRows = undefined;
    } else {
      for (const s of state.values()) {
        s.gMain.fill(0);
        s.gBias?.fill(0);
      }
      rows = 0;
    }
    const end = Math.min(data.train.length, (step + 1) * chunksPerStep);
    for (; chunk < end; chunk++) {
      if (o.signal?.aborted) await interrupted(true);
      const tokens = data.train[chunk];
      const h = await reader.run(tokens);
      for (const L of layers) {
        const s = state.get(L)!;
        let r: ort.InferenceSession.ReturnType;
        if (isHead) {
          const T = seqLen - 1;
          r = await session.run({
            h: f32(nextTokenRows(h.get(L)!, d, seqLen), [T, d]),
            y: i64(tokens.subarray(1), [T]),
            W: f32(s.main.value, [V, d]),
            b: f32(s.bias ? s.bias.value : w.zeros, [V]),
            ...c.normFeeds(),
          });
          addInto(s.gMain, outF32(r, 'grad_W'));
          if (s.gBias) addInto(s.gBias, outF32(r, 'grad_b'));
        } else {
          r = await session.run({
            h: f32(h.get(L)!, [seqLen, d]),
            h_final: f32(h.get(N)!, [seqLen, d]),
            At: f32(s.main.value, [d, d]),
            tb: f32(s.bias!.value, [d]),
            U: f32(w.U, [V, d]),
            ub: f32(w.ub, [V]),
            ...c.normFeeds(),
          });
          addInto(s.gMain, outF32(r, 'grad_At'));
          addInto(s.gBias!, outF32(r, 'grad_tb'));
        }
        lossSum += outF32(r, 'loss_sum')[0];
      }
      const n = isHead ? seqLen - 1 : seqLen;
      rows += n;
      lossRows += n * layers.length;
      const sec = (Date.now() - tStart) / 1000;
      const doneHere = chunk + 1 - chunkAtStart;
      o.onProgress?.({
        phase: 'fit',
        done: chunk + 1,
        total: data.train.length,
        loss: lossSum / lossRows,
        tokensPerSecond: (doneHere * seqLen) / sec,
        etaSeconds: ((data.train.length - chunk - 1) * sec) / doneHere,
      });
    }
    step++;
    const rate = linearDecay(c.lr, step, totalSteps);
    for (const s of state.values()) {
      s.main.step(s.gMain, 1 / rows, step, rate, { lr: c.lr, weightDecay: o.weightDecay ?? 0 });
      s.bias?.step(s.gBias!, 1 / rows, step, rate, { lr: c.lr, weightDecay: o.weightDecay ?? 0 });
    }
    if (step % every === 0 || (o.stopAfterSteps !== undefined && step >= o.stopAfterSteps)) await save();
    if (o.signal?.aborted) await interrupted(false);
  }
  const params = new Map<number, { W?: Float32Array; b?: Float32Array; At?: Float32Array; tb?: Float32Array }>();
  for (const [L, s] of state) params.set(L, isHead ? { W: s.main.value, b: s.bias?.value } : { At: s.main.value, tb: s.bias!.value });
  return { steps: step, stopped, params };
}

function addInto(acc: Float32Array, x: Float32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] += x[i];
}

interface ValidateContext {
  m: ModelManifest;
  layers: number[];
  data: FitData;
  w: ReturnType<typeof readModelWeights>;
  reader: ResidualReader;
  normFeeds: () => Record<string, ort.Tensor>;
  params: ReadonlyMap<number, { W?: Float32Array; b?: Float32Array; At?: Float32Array; tb?: Float32Array }>;
  seqLen: number;
  threads: number;
  sessions: ort.InferenceSession[];
}

/**
 * Validation on the held-out chunks: next-token cross-entropy and arg-max agreement with the final layer, of each
 * fitted exit and of the logit lens at the same layer.
 */
async function validate(o: FitExitsOptions, c: ValidateContext): Promise<{ layers: LayerReport[]; finalLoss: number }> {
  const { m, layers, data, w, reader, seqLen } = c;
  const d = m.hiddenSize;
  const V = m.vocabSize;
  const N = m.numLayers;
  const plain = await graphSession(scoreGraph(w.norm, { d, V }, false).g, c.threads);
  c.sessions.push(plain);
  const translated = o.method === 'head' ? null : await graphSession(scoreGraph(w.norm, { d, V }, true).g, c.threads);
  if (translated) c.sessions.push(translated);
  const T = seqLen - 1;
  const sums = new Map(layers.map((L) => [L, { fit: 0, lens: 0, fitAgree: 0, lensAgree: 0 }]));
  let finalSum = 0;
  const t0 = Date.now();
  for (let k = 0; k < data.validation.length; k++) {
    const tokens = data.validation[k];
    const h = await reader.run(tokens);
    const y = i64(tokens.subarray(1), [T]);
    const score = async (s: ort.InferenceSession, x: Float32Array, W: Float32Array, b: Float32Array, tr?: { At: Float32Array; tb: Float32Array }) => {
      const r = await s.run({
        h: f32(nextTokenRows(x, d, seqLen), [T, d]),
        y,
        W: f32(W, [V, d]),
        b: f32(b, [V]),
        ...c.normFeeds(),
        ...(tr ? { At: f32(tr.At, [d, d]), tb: f32(tr.tb, [d]) } : {}),
      });
      return { nll: outF32(r, 'nll'), top1: r.top1.data as BigInt64Array };
    };
    const final = await score(plain, h.get(N)!, w.U, w.ub);
    for (const v of final.nll) finalSum += v;
    for (const L of layers) {
      const acc = sums.get(L)!;
      const p = c.params.get(L)!;
      const lens = await score(plain, h.get(L)!, w.U, w.ub);
      const fit = p.W ? await score(plain, h.get(L)!, p.W, p.b ?? w.zeros) : await score(translated!, h.get(L)!, w.U, w.ub, { At: p.At!, tb: p.tb! });
      for (let i = 0; i < T; i++) {
        acc.lens += lens.nll[i];
        acc.fit += fit.nll[i];
        if (lens.top1[i] === final.top1[i]) acc.lensAgree++;
        if (fit.top1[i] === final.top1[i]) acc.fitAgree++;
      }
    }
    const sec = (Date.now() - t0) / 1000;
    o.onProgress?.({ phase: 'validate', done: k + 1, total: data.validation.length, tokensPerSecond: ((k + 1) * seqLen) / sec, etaSeconds: ((data.validation.length - k - 1) * sec) / (k + 1) });
  }
  const rows = T * data.validation.length;
  return {
    finalLoss: finalSum / rows,
    layers: layers.map((L) => {
      const s = sums.get(L)!;
      return { layer: L, validationLoss: s.fit / rows, logitLensValidationLoss: s.lens / rows, top1Agreement: s.fitAgree / rows, logitLensTop1Agreement: s.lensAgree / rows };
    }),
  };
}
