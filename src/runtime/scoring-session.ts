/**
 * The scoring forward: one ONNX Runtime run over whole token sequences (a batch, left-padded) that returns the
 * outputs of many positions at once, where the decode runtime returns the last position only. It drives the
 * same model folder's graph through onnxruntime-node's session API with an empty KV cache, so a text of T tokens
 * costs one graph run instead of T decode steps.
 *
 * Which positions come back: graphs built with `logitPositions: 'input'` (the converter's default) compute the
 * expert logits and every exit output only for the last `keep` positions (`num_logits_to_keep`), so scoring a
 * short continuation after a long context projects only the continuation's positions onto the vocabulary.
 * `'all'` graphs compute every position and the requested tail is cut out here; `'last'` graphs cannot score
 * more than one position per run ({@link ScoringSession.open} rejects them with code `SCORING_UNSUPPORTED`).
 */
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';

import type { ModelManifest } from '../model/manifest/manifest-types';

/** A scoring-path failure with a stable code. */
export class ScoringError extends Error {
  override readonly name = 'ScoringError';
  /** `SCORING_UNSUPPORTED` (the graph keeps the last position only) or `SCORING_INPUT` (bad rows). */
  readonly code: 'SCORING_UNSUPPORTED' | 'SCORING_INPUT';
  constructor(code: ScoringError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** What to read from a scoring run. */
export interface ScoringFetch {
  /** Positions per row to return, counted from the end of the longest row (1 = the last position). */
  keep: number;
  /** Exit layers whose hidden state (`exit.{L}.hidden`) to return. */
  hidden?: readonly number[];
  /** Exit layers whose logits output (`exit.{L}.logits`) to return (the graph must have it). */
  logits?: readonly number[];
}

/** Outputs of a scoring run: row-major `[batch x keep x width]` blocks (left-padded rows end together). */
export interface ScoringOutputs {
  batch: number;
  keep: number;
  /** Expert logits `[batch x keep x V]`. */
  logits: Float32Array;
  /** Exit hidden states by layer, `[batch x keep x d]` each. */
  hidden: Map<number, Float32Array>;
  /** Exit logits by layer, `[batch x keep x V]` each. */
  exitLogits: Map<number, Float32Array>;
  /** Milliseconds inside the session's run. */
  runMs: number;
}

/** A model folder's graph opened for scoring. One run at a time per session (runs are queued). */
export class ScoringSession {
  readonly manifest: ModelManifest;
  #session: ort.InferenceSession;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(manifest: ModelManifest, session: ort.InferenceSession) {
    this.manifest = manifest;
    this.#session = session;
  }

  /**
   * Opens `dir`'s graph (the manifest already read and checked). `threads`: intra-op threads (default: ONNX
   * Runtime's own choice, the physical cores).
   * @throws ScoringError `SCORING_UNSUPPORTED` for graphs that output the last position only.
   */
  static async open(dir: string, manifest: ModelManifest, options: { threads?: number } = {}): Promise<ScoringSession> {
    if (manifest.graph.logitPositions === 'last') {
      throw new ScoringError(
        'SCORING_UNSUPPORTED',
        `${dir}: the graph outputs the last position only (logitPositions "last"); convert it again (the default "input" form) to score many positions in one run`,
      );
    }
    const session = await ort.InferenceSession.create(join(dir, manifest.graph.file), {
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      interOpNumThreads: 1,
      // No spinning between ops: a scoring run is one long Run call, and on a shared machine spinning pool
      // threads only take cores from other work.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    return new ScoringSession(manifest, session);
  }

  /** Runs `rows` (token ids, any lengths >= 1, left-padded to the longest) and returns the last `fetch.keep` positions. */
  run(rows: readonly (readonly number[])[], fetch: ScoringFetch): Promise<ScoringOutputs> {
    const next = this.#queue.then(() => this.#run(rows, fetch));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #run(rows: readonly (readonly number[])[], fetch: ScoringFetch): Promise<ScoringOutputs> {
    const m = this.manifest;
    const io = m.graph.io;
    const B = rows.length;
    if (B < 1) throw new ScoringError('SCORING_INPUT', 'scoring needs at least one row');
    const T = Math.max(...rows.map((r) => r.length));
    if (rows.some((r) => r.length < 1)) throw new ScoringError('SCORING_INPUT', 'every scored row needs at least one token');
    if (T > m.contextLength) throw new ScoringError('SCORING_INPUT', `a row has ${T} tokens, more than the context length ${m.contextLength}`);
    const keep = fetch.keep;
    if (!Number.isInteger(keep) || keep < 1 || keep > T) throw new ScoringError('SCORING_INPUT', `keep must be an integer in [1, ${T}], got ${keep}`);
    const ids = new BigInt64Array(B * T);
    const mask = new BigInt64Array(B * T);
    const pos = new BigInt64Array(B * T);
    rows.forEach((r, b) => {
      const pad = T - r.length;
      for (let t = 0; t < T; t++) {
        const real = t >= pad;
        const v = real ? r[t - pad] : 0;
        if (!Number.isInteger(v) || v < 0 || v >= m.vocabSize) throw new ScoringError('SCORING_INPUT', `row ${b} has token ${v}, outside [0, ${m.vocabSize})`);
        ids[b * T + t] = BigInt(v);
        mask[b * T + t] = real ? 1n : 0n;
        // Padded positions get a valid id (they are masked out), as Hugging Face does.
        pos[b * T + t] = BigInt(real ? t - pad : 1);
      }
    });
    const feeds: Record<string, ort.Tensor> = {
      [io.inputIds]: new ort.Tensor('int64', ids, [B, T]),
      [io.attentionMask]: new ort.Tensor('int64', mask, [B, T]),
      [io.positionIds]: new ort.Tensor('int64', pos, [B, T]),
    };
    const empty = new Float32Array(0);
    for (let i = 0; i < m.numLayers; i++) {
      for (const [tpl] of [[io.pastKey], [io.pastValue]] as const) {
        feeds[tpl.replace('{i}', String(i))] = new ort.Tensor('float32', empty, [B, m.numKvHeads, 0, m.headDim]);
      }
    }
    const byLayer = new Map(m.exits.map((e) => [e.layer, e]));
    const names: string[] = [io.logits];
    const hiddenNames = new Map<number, string>();
    const logitNames = new Map<number, string>();
    for (const L of fetch.hidden ?? []) {
      const name = byLayer.get(L)?.hiddenOutput;
      if (!name) throw new ScoringError('SCORING_INPUT', `exit ${L} has no hidden-state output in this model`);
      hiddenNames.set(L, name);
      names.push(name);
    }
    for (const L of fetch.logits ?? []) {
      const name = byLayer.get(L)?.logitsOutput;
      if (!name) throw new ScoringError('SCORING_INPUT', `exit ${L} has no logits output in this model`);
      logitNames.set(L, name);
      names.push(name);
    }
    if (m.graph.logitPositions === 'input') feeds[io.numLogitsToKeep!] = new ort.Tensor('int64', BigInt64Array.from([BigInt(keep)]), []);
    const t0 = performance.now();
    const out = await this.#session.run(feeds, names);
    const runMs = performance.now() - t0;
    const tail = (t: ort.Tensor): Float32Array => {
      const [b, p, w] = t.dims as number[];
      const data = t.data as Float32Array;
      if (b !== B || p < keep) throw new ScoringError('SCORING_INPUT', `the graph returned ${p} positions for ${keep} requested`);
      if (p === keep) return data;
      const res = new Float32Array(B * keep * w);
      for (let r = 0; r < B; r++) res.set(data.subarray((r * p + p - keep) * w, (r * p + p) * w), r * keep * w);
      return res;
    };
    const hidden = new Map<number, Float32Array>();
    for (const [L, n] of hiddenNames) hidden.set(L, tail(out[n]));
    const exitLogits = new Map<number, Float32Array>();
    for (const [L, n] of logitNames) exitLogits.set(L, tail(out[n]));
    return { batch: B, keep, logits: tail(out[io.logits]), hidden, exitLogits, runMs };
  }

  /** Releases the session. */
  async dispose(): Promise<void> {
    await this.#queue;
    await this.#session.release();
  }
}
