/**
 * A loaded model for generation: the native runtime session, the tokenizer, special tokens and the exits,
 * plus the `DecoderModel` adapter that lets src/decoding's strategies run on it.
 */
import { readFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';

import { envValue } from '../config/env';
import { AutocontrastError, InvalidArgTypeError, OutOfRangeError } from '../errors';
import { compactHead, headLogits, resolveDolaLayers, type CompactHead } from '../kernel';
import type { ContrastMode, DolaHeadChoice } from '../config/generation';
import type { DecoderModel, DecoderSession, FusedStep, SelectedTokens, StepOutput } from '../decoding/session';
import { loadTokenizer, type LoadedTokenizer } from '../model/import';
import { graphWithoutHead } from '../model/graph/onnx/without-head';
import type { ManifestExit, ModelManifest } from '../model/manifest/manifest-types';
import { validateModelFolder } from '../model/manifest/validate-model-folder';
import { resolveModel } from '../model/pull/resolve-model';
import {
  describeFromManifest,
  loadModel as loadRuntimeModel,
  readManifest,
  type LoadOptions as RuntimeLoadOptions,
  type ContrastStepOutput,
  type RuntimeModel,
  type Sequence,
  type StepOutput as RuntimeStepOutput,
} from '../runtime';
import { finalHeadSpan, findHeadInitializers, loadHeadWeights, readFolderGraph, type HeadWeights } from './heads';
import type { OnnxGraphInfo } from './onnx-reader';
import { nativeHeadPlan } from './q8-head';
import { RowwiseSession, type RowSession } from './rowwise-session';

/** Options of {@link load}. */
export interface LoadModelOptions extends RuntimeLoadOptions {
  /** Skip the folder validation (it opens the graph once; default false). */
  skipValidation?: boolean;
}

/** How the amateur's distribution is obtained. */
export type AmateurPath = 'sparse' | 'dense';

/** The contrast applied per step (resolved from the generation options). */
export interface ContrastPlan {
  /** Exit layer of the amateur (-1 when the layer is chosen per step among `candidates`). */
  layer: number;
  /**
   * The candidate layers when the premature / amateur layer is chosen per step by divergence from the final
   * layer (`mode: 'dola'`, or `amateurLayer: 'auto'`); absent for a fixed amateur.
   */
  candidates?: number[];
  mode: ContrastMode;
  alpha: number;
  minCandidates: number;
  beta?: number;
  /** With `candidates`: how they are projected (`dolaHead`; absent: `exact`). */
  dolaHead?: DolaHeadChoice;
  /** `sparse`: exit hidden state x head matrix for head tokens only; `dense`: the graph's exit logits. */
  path: AmateurPath;
}

/**
 * Where the expert distribution comes from when it is not the model's own `logits` (early exit, or a trained
 * final head): exit `layer`'s logits output (`logits`), or its hidden state times its head matrix (`head`,
 * computed per step with the native `headLogits`).
 */
export interface ExpertPlan {
  /** Exit layer of the expert. */
  layer: number;
  source: 'logits' | 'head';
}

/** What an exit offers. */
export interface ExitInfo {
  readonly layer: number;
  readonly kind: ManifestExit['kind'];
  /** The graph outputs the exit's hidden state (sparse amateur possible). */
  readonly hidden: boolean;
  /** The graph outputs the exit's logits (dense amateur possible). */
  readonly logits: boolean;
}

/** A model ready for {@link generate}, {@link stream} and {@link score}. */
export class ContrastModel {
  /** The model folder. */
  readonly dir: string;
  /** Its manifest. */
  readonly manifest: ModelManifest;
  /** The native runtime session (shared by all generations on this model). */
  readonly runtime: RuntimeModel;
  /** The tokenizer from the folder's tokenizer.json (null when the folder has none: prompts must be token ids). */
  readonly tokenizer: LoadedTokenizer | null;
  /** End-of-sequence ids from the manifest. */
  readonly eosTokenIds: readonly number[];
  /** Beginning-of-sequence id, if any. */
  readonly bosTokenId?: number;
  /** Exits by layer. */
  readonly exits: readonly ExitInfo[];
  #graph?: OnnxGraphInfo;
  #heads = new Map<number, HeadWeights | null>();
  #candidateHead?: { head: HeadWeights; weight: Float32Array | Uint16Array | CompactHead };
  #runtimeOptions: RuntimeLoadOptions;
  #oneHead?: Promise<RuntimeModel | null>;
  #disposed = false;

  /** @internal Use {@link load}. */
  constructor(dir: string, manifest: ModelManifest, runtime: RuntimeModel, tokenizer: LoadedTokenizer | null, runtimeOptions: RuntimeLoadOptions = {}) {
    this.#runtimeOptions = runtimeOptions;
    this.dir = dir;
    this.manifest = manifest;
    this.runtime = runtime;
    this.tokenizer = tokenizer;
    this.eosTokenIds = manifest.specialTokens.eos ?? [];
    this.bosTokenId = manifest.specialTokens.bos;
    this.exits = manifest.exits.map((e) => ({ layer: e.layer, kind: e.kind, hidden: !!e.hiddenOutput, logits: !!e.logitsOutput }));
  }

  /** Transformer blocks. */
  get numLayers(): number {
    return this.manifest.numLayers;
  }
  /** Vocabulary size (logits width). */
  get vocabSize(): number {
    return this.manifest.vocabSize;
  }
  /** Context length in tokens. */
  get contextLength(): number {
    return this.manifest.contextLength;
  }

  /**
   * The default amateur layer: the middle exit (`floor(numLayers / 2)`), else the exit nearest to it. With
   * `below` (the expert's layer when it is an early exit), the exit nearest to `floor(below / 2)` among those
   * below it.
   */
  defaultAmateurLayer(below: number = this.numLayers): number | undefined {
    const mid = Math.floor(below / 2);
    const usable = this.exits.filter((e) => e.layer < below);
    if (usable.length === 0) return undefined;
    return usable.reduce((best, e) => (Math.abs(e.layer - mid) < Math.abs(best.layer - mid) ? e : best)).layer;
  }

  /** Whether the LM head is the token embedding (transformers' DoLa buckets start at layer 2 then). */
  get tiedEmbeddings(): boolean {
    return (this.manifest.config as { tieWordEmbeddings?: boolean } | undefined)?.tieWordEmbeddings === true;
  }

  /**
   * The candidate layers of a layer chosen per step (`mode: 'dola'`, `amateurLayer: 'auto'`): transformers'
   * bucket or the given layers, each with an exit that outputs its hidden state, all projected by one head.
   * @throws RangeError / TypeError with code `ERR_DOLA_LAYERS` / `ERR_DOLA_NO_CANDIDATES` naming `field`.
   */
  candidateLayers(spec: unknown, field = 'dolaLayers'): number[] {
    const usable = this.exits.filter((e) => e.hidden && e.layer < this.numLayers).map((e) => e.layer);
    let layers: number[];
    try {
      layers = resolveDolaLayers(spec, this.numLayers, this.tiedEmbeddings, usable, field);
    } catch (e) {
      // the option at fault, by its API name (callers name it in their own words from it)
      if (e instanceof Error && (e as { option?: string }).option === undefined) Object.assign(e, { option: 'dolaLayers' });
      throw e;
    }
    this.#graph ??= readFolderGraph(this.dir, this.manifest);
    const names = new Set(layers.map((l) => findHeadInitializers(this.#graph!, this.manifest, l)?.matrix ?? '?'));
    if (names.has('?') || names.size !== 1) {
      throw new OutOfRangeError(`${field}: the candidate layers ${layers.join(', ')} do not share one head matrix the graph shows (DoLa projects every candidate with the model's head)`, 'dolaLayers');
    }
    return layers;
  }

  /**
   * The head shared by the candidate layers, loaded once; its lossless int8 block form when it has one (a head
   * dequantised from GGUF Q8_0: a quarter of the bytes read per step, the same logits).
   */
  candidateHead(layer: number): { head: HeadWeights; weight: Float32Array | Uint16Array | CompactHead } {
    if (!this.#candidateHead) {
      const head = this.headWeights(layer)!;
      const compact = head.weight instanceof Float32Array && !head.bias ? compactHead(head.weight, this.vocabSize, this.manifest.hiddenSize) : null;
      this.#candidateHead = { head, weight: compact ?? head.weight };
    }
    return this.#candidateHead;
  }

  /**
   * DoLa's runtime (`mode: 'dola'`, `amateurLayer: 'auto'` with the model's own final layer): the model's graph
   * without its head product (src/model/graph/onnx/without-head.ts), opened on first use and then held. Its steps
   * output the final layer's hidden state, and the DoLa kernel projects it in the same pass as the candidates, so
   * the head is read once per step instead of twice (graph + kernel), with the same values (the candidates' head
   * is the model's head: findHeadInitializers / finalHeadSpan check it). Null when the graph's head cannot be
   * told apart, on a device other than the CPU, or with AUTOCONTRAST_DOLA_ONE_HEAD=0 (the two-head reference:
   * the graph's `logits` as the final layer, the kernel projecting the candidates only).
   */
  oneHeadRuntime(candidate: number): Promise<RuntimeModel | null> {
    if (envValue('AUTOCONTRAST_DOLA_ONE_HEAD') === '0' || this.runtime.device !== 'cpu') return Promise.resolve(null);
    this.#oneHead ??= (async () => {
      this.#graph ??= readFolderGraph(this.dir, this.manifest);
      const span = finalHeadSpan(this.#graph, this.manifest, candidate);
      if (!span) return null;
      // without a final exit, the edited graph outputs the head's input itself
      const exposed = span.hiddenOutput ? undefined : 'dola.final.hidden';
      let bytes: Uint8Array;
      try {
        bytes = graphWithoutHead(readFileSync(this.runtime.description.graphPath), {
          input: span.input,
          output: span.output,
          vocabSize: this.vocabSize,
          ...(exposed ? { exposeInputAs: exposed, hiddenSize: this.manifest.hiddenSize } : {}),
        });
      } catch {
        return null; // a head of another shape: the reference path
      }
      // DoLa's kernel projects the final layer itself: the runtime's own output head (./q8-head.ts) is not wanted
      const { outputHead: _, graphBytes: __, ...d } = this.runtime.description;
      const exits = exposed ? [...(d.exits ?? []), { layer: this.numLayers, hiddenOutput: exposed }] : d.exits;
      let rt: RuntimeModel;
      try {
        rt = await loadRuntimeModel({ ...d, graphBytes: bytes, ...(exits ? { exits } : {}) }, this.#runtimeOptions);
      } catch {
        return null; // e.g. an ONNX Runtime without external data for in-memory graphs (before 1.19): the reference path
      }
      if (this.#disposed) rt.dispose();
      return rt;
    })();
    return this.#oneHead;
  }

  /**
   * The head matrix of exit `layer` (loaded once, then held), or null when the graph does not show it (the
   * dense path is used then).
   */
  headWeights(layer: number): HeadWeights | null {
    if (!this.#heads.has(layer)) {
      this.#graph ??= readFolderGraph(this.dir, this.manifest);
      let h: HeadWeights | null = null;
      try {
        h = loadHeadWeights(this.dir, this.manifest, this.#graph, layer);
      } catch {
        h = null;
      }
      this.#heads.set(layer, h);
    }
    return this.#heads.get(layer)!;
  }

  /**
   * Picks the amateur path for exit `layer`: sparse when the exit outputs its hidden state and its head is
   * found (or `prefer` says so), else dense (exit logits).
   * @throws RangeError when the layer has no exit, or the preferred path is impossible.
   */
  amateurPath(layer: number, prefer: AmateurPath | 'auto' = 'auto', label = 'amateur layer'): AmateurPath {
    const e = this.exits.find((x) => x.layer === layer);
    if (!e) {
      throw new OutOfRangeError(
        `${label} ${layer} has no exit in this model (exits: ${this.exits.map((x) => x.layer).join(', ') || 'none'}; ` +
          'convert with --exits to add one)',
      );
    }
    const sparseOk = e.hidden && this.headWeights(layer) !== null;
    if (prefer === 'sparse') {
      if (!sparseOk) throw new OutOfRangeError(`exit ${layer} cannot use the sparse amateur (it needs exit.${layer}.hidden and a head matrix the graph shows)`);
      return 'sparse';
    }
    if (prefer === 'dense') {
      if (!e.logits) throw new OutOfRangeError(`exit ${layer} has no logits output, so the dense amateur is unavailable (use the sparse path)`);
      return 'dense';
    }
    if (sparseOk && e.kind !== 'conversion') return 'sparse';
    if (e.logits) return 'dense';
    if (sparseOk) return 'sparse';
    throw new OutOfRangeError(`exit ${layer} has neither a logits output nor a head matrix the sparse amateur can use`);
  }

  /**
   * Resolves the expert exit for `expertLayer` (null: the model's own `logits`, the default).
   *
   * - `undefined`: null.
   * - `numLayers`: the model's final layer. When the folder has an exit at layer `numLayers` of kind `head` (a
   *   trained final head, as multi-exit checkpoints have when their lm_head layer indices include the last
   *   layer), that head is the expert; otherwise (no such exit, or a `lens` exit, which equals `logits`) null.
   * - `L < numLayers`: early exit at L. The exit must exist; its `logits` output is used when the folder has
   *   it, else its hidden state times its head matrix.
   * @throws TypeError for a non-integer, RangeError for a layer out of range or without a usable exit.
   */
  expertPlan(expertLayer: number | undefined, label = 'expertLayer'): ExpertPlan | null {
    if (expertLayer === undefined) return null;
    if (typeof expertLayer !== 'number' || !Number.isInteger(expertLayer)) {
      throw new InvalidArgTypeError(`Expected ${label} to be an integer but received ${String(expertLayer)}`, 'expertLayer');
    }
    const N = this.numLayers;
    if (expertLayer < 1 || expertLayer > N) throw new OutOfRangeError(`${label} ${expertLayer} is out of range: layers are 1..${N}`, 'expertLayer');
    const e = this.exits.find((x) => x.layer === expertLayer);
    if (expertLayer === N && (!e || e.kind !== 'head')) return null;
    if (!e) {
      throw new OutOfRangeError(
        `${label} ${expertLayer} has no exit in this model (exits: ${this.exits.map((x) => x.layer).join(', ') || 'none'}; ` +
          'convert with --exits to add one)',
      );
    }
    if (e.logits) return { layer: expertLayer, source: 'logits' };
    if (e.hidden && this.headWeights(expertLayer) !== null) return { layer: expertLayer, source: 'head' };
    throw new OutOfRangeError(`exit ${expertLayer} has neither a logits output nor a head matrix to compute its logits from`);
  }

  /**
   * A `DecoderModel` whose sessions return the expert's logits and, with `plan`, the amateur's outputs (the
   * exit's logits, or its hidden state and head); with `expert`, the expert is that exit instead of the model's
   * `logits`. The contrast itself is the decoding pipeline's (src/decoding/pipeline.ts). With
   * `run.deterministic`, a session of B rows is B one-row sessions fed one token per run ({@link RowwiseSession}):
   * each row's outputs are then the same bits whatever the batch, its neighbours and the prompt split.
   */
  decoder(plan: ContrastPlan | null, expert: ExpertPlan | null = null, run: { deterministic?: boolean } = {}): DecoderModel {
    if (plan && expert && plan.layer === expert.layer) throw new OutOfRangeError(`the amateur and the expert are both exit ${plan.layer}`);
    const selecting = plan?.candidates !== undefined;
    const N = this.numLayers;
    // oneHead: DoLa's runtime without the graph's head product (see oneHeadRuntime); the final layer's hidden state
    // is then an output and the kernel computes its logits.
    const open = (rows: number, maxLength: number, oneHead: RuntimeModel | null = null): RuntimeSession => {
      const seq = (oneHead ?? this.runtime).createSequence({
        batch: rows,
        maxLength,
        ...(plan && !selecting ? { exit: { layer: plan.layer, logits: plan.path === 'dense', hidden: plan.path === 'sparse' } } : {}),
        ...(selecting ? { exits: [...plan.candidates!, ...(oneHead ? [N] : [])].map((layer) => ({ layer, logits: false, hidden: true })) } : {}),
        ...(expert ? { exits: [{ layer: expert.layer, logits: expert.source === 'logits', hidden: expert.source === 'head' }] } : {}),
      });
      return new RuntimeSession(seq, plan, !selecting && plan?.path === 'sparse' ? this.headWeights(plan.layer)! : null, this.vocabSize, {
        expert,
        expertHead: expert?.source === 'head' ? this.headWeights(expert.layer)! : null,
        hiddenSize: this.manifest.hiddenSize,
        ...(selecting ? { candidateHead: this.candidateHead(plan.candidates![0]) } : {}),
        ...(oneHead ? { finalLayer: N } : {}),
        fork: () => open(1, maxLength, oneHead),
      });
    };
    return {
      vocabSize: this.vocabSize,
      eosTokenId: this.eosTokenIds[0],
      createSession: async ({ rows, maxLength }) => {
        const length = Math.min(maxLength ?? this.contextLength, this.contextLength);
        const oneHead = selecting && !expert ? await this.oneHeadRuntime(plan.candidates![0]) : null;
        if (!run.deterministic) return open(rows, length, oneHead);
        // one one-row session per row, every token run alone (./rowwise-session.ts says why)
        const sessions: RuntimeSession[] = [];
        try {
          for (let b = 0; b < rows; b++) sessions.push(open(1, length, oneHead));
        } catch (e) {
          for (const s of sessions) s.dispose();
          throw e;
        }
        return new RowwiseSession(sessions, this.vocabSize);
      },
    };
  }

  /** Releases the runtime session, and DoLa's when it was opened (after running generations finish). */
  dispose(): void {
    this.#disposed = true;
    this.runtime.dispose();
    void this.#oneHead?.then((rt) => rt?.dispose(), () => undefined);
  }
}

/**
 * Runs a runtime sequence for src/decoding: each step returns the raw outputs, the expert's logits (the
 * model's `logits`, or the expert exit's) and the amateur's (the exit's logits for the dense path, or its
 * hidden state with the head matrix for the sparse path). The contrast runs in the decoding pipeline.
 */
export class RuntimeSession implements RowSession {
  readonly vocabSize: number;
  #seq: Sequence;
  #plan: ContrastPlan | null;
  #head: HeadWeights | null;
  #expert: ExpertPlan | null;
  #expertHead: HeadWeights | null;
  #expertBuf?: Float32Array;
  #hiddenSize: number;
  #candidateHead?: { head: HeadWeights; weight: Float32Array | Uint16Array | CompactHead };
  #finalLayer?: number;
  #finalBuf?: Float32Array;
  #openRow?: () => RuntimeSession;
  /** Native step time of the last step (ms) and time inside ONNX Runtime's Run. */
  lastStepMs = 0;
  lastRunMs = 0;
  /**
   * The fused native step and loop, when this session's outputs allow it: the model's own logits as the expert,
   * alone (plain decoding) or with the amateur exit's logits (the dense path) or its hidden state and head (the
   * sparse path), on the CPU. Expert exits and layers chosen per step run the chain.
   */
  readonly fused?: FusedStep;

  constructor(
    seq: Sequence,
    plan: ContrastPlan | null,
    head: HeadWeights | null,
    vocabSize: number,
    early: {
      expert: ExpertPlan | null;
      expertHead: HeadWeights | null;
      hiddenSize: number;
      candidateHead?: { head: HeadWeights; weight: Float32Array | Uint16Array | CompactHead };
      /**
       * The final layer whose hidden state the sequence outputs instead of computing `logits` (DoLa's runtime
       * without the head product): the kernel projects it with the candidates into the step's expert buffer.
       */
      finalLayer?: number;
      /** Opens an empty one-row session of the same kind ({@link fork} copies this one's state into it). */
      fork?: () => RuntimeSession;
    } = { expert: null, expertHead: null, hiddenSize: 0 },
  ) {
    this.#openRow = early.fork;
    this.#candidateHead = early.candidateHead;
    this.#finalLayer = early.finalLayer;
    this.#expert = early.expert;
    this.#expertHead = early.expertHead;
    this.#hiddenSize = early.hiddenSize;
    this.#seq = seq;
    this.#plan = plan;
    this.#head = head;
    this.vocabSize = vocabSize;
    // The sparse amateur's head goes with every fused call (the native step reads only the head rows it needs).
    const sparse = plan && !plan.candidates && plan.path === 'sparse' && head ? { sparse: { weight: head.weight, weightDtype: head.dtype, ...(head.bias ? { bias: head.bias } : {}) } } : {};
    if ((!plan || (!plan.candidates && (plan.path === 'dense' || 'sparse' in sparse))) && !early.expert && seq.device !== 'cuda') {
      const run = async (o: Promise<ContrastStepOutput>): Promise<SelectedTokens> => {
        const r = await o;
        this.lastStepMs = r.stepMs;
        this.lastRunMs = r.runMs;
        return { tokens: r.tokens, logProbs: r.logprobs };
      };
      this.fused = {
        prefill: (prompts, selection) => run(this.#seq.prefill(prompts, { contrast: { ...selection, ...sparse } })),
        step: (tokens, selection) => run(this.#seq.stepAndContrast(tokens, { ...selection, ...sparse })),
        loop: async (prompts, selection, limits, onStep) => {
          await this.#seq.decode(prompts, { ...selection, ...sparse }, limits, (tokens, logProbs, step, stepMs, runMs) => {
            this.lastStepMs = stepMs;
            this.lastRunMs = runMs;
            return onStep({ tokens, logProbs }, step);
          });
        },
        stop: () => this.#seq.stopDecode(),
      };
    }
  }

  async prefill(prompts: number[][]): Promise<StepOutput> {
    return this.#out(await this.#seq.prefill(prompts));
  }

  async step(tokens: number[]): Promise<StepOutput> {
    return this.#out(await this.#seq.step(tokens));
  }

  reorder(parents: number[]): void {
    this.#seq.reorder(parents);
  }

  dispose(): void {
    this.#seq.dispose();
  }

  /** A new one-row session continuing from this one's row 0 (its KV cache copied; deterministic beams). */
  async fork(): Promise<RuntimeSession> {
    if (!this.#openRow) throw new AutocontrastError('AC_INVALID_STATE', 'this session was not opened to be forked');
    const next = this.#openRow();
    try {
      await next.#seq.admit(this.#seq, 0);
    } catch (e) {
      next.dispose();
      throw e;
    }
    return next;
  }

  /** The expert logits of this step: the model's `logits`, or the expert exit's (read, or hidden x head). */
  #expertLogits(o: RuntimeStepOutput): Float32Array {
    const ex = this.#expert;
    if (!ex) return o.logits;
    const got = o.exitOutputs.get(ex.layer);
    if (ex.source === 'logits') return got!.logits!;
    const h = this.#expertHead!;
    const out = (this.#expertBuf ??= new Float32Array(o.logits.length));
    return headLogits(got!.hidden!, h.weight, {
      hiddenSize: this.#hiddenSize,
      vocabSize: this.vocabSize,
      weightDtype: h.dtype,
      ...(h.bias ? { headBias: h.bias } : {}),
      out,
    });
  }

  #out(o: RuntimeStepOutput): StepOutput {
    this.lastStepMs = o.stepMs;
    this.lastRunMs = o.runMs;
    const expert = this.#expertLogits(o);
    const p = this.#plan;
    if (!p) return { expert };
    if (p.candidates) {
      const h = this.#candidateHead!;
      const N = this.#finalLayer;
      return {
        // without the graph's head product, the kernel writes the final layer's logits here
        expert: N === undefined ? expert : (this.#finalBuf ??= new Float32Array(o.logits.length)),
        candidates: {
          layers: p.candidates,
          hidden: p.candidates.map((l) => o.exitOutputs.get(l)!.hidden!),
          ...(N === undefined ? {} : { finalHidden: o.exitOutputs.get(N)!.hidden! }),
          weight: h.weight,
          weightDtype: h.head.dtype,
          ...(h.head.bias ? { bias: h.head.bias } : {}),
          hiddenSize: this.#hiddenSize,
        },
      };
    }
    if (p.path === 'dense') return { expert, amateur: o.exitLogits! };
    const h = this.#head!;
    return { expert, amateurHidden: { hidden: o.exitHidden!, weight: h.weight, weightDtype: h.dtype, ...(h.bias ? { bias: h.bias } : {}) } };
  }
}

/**
 * Loads a model for generation: `nameOrPath` is a model folder or the name of a pulled model
 * (`smollm2-135m`; see `pull`). Validates the folder, loads the native runtime session and the tokenizer
 * (a folder without tokenizer.json loads too; its prompts must then be token ids and texts come back empty).
 * @throws PullError (unknown name), ModelFolderError (a folder breaking the format), Error (runtime unavailable).
 */
export async function load(nameOrPath: string, options: LoadModelOptions = {}): Promise<ContrastModel> {
  if (typeof nameOrPath !== 'string' || nameOrPath.length === 0) throw new InvalidArgTypeError('Expected a model folder path or a pulled model name');
  if (options.device !== undefined && options.device !== 'cpu') {
    // The CUDA runtime keeps logits in device memory and selects tokens there; generate() reads host views,
    // and no GPU run has proven that path equal to the CPU pipeline yet. Refuse rather than decode garbage.
    throw new AutocontrastError(
      'AC_NOT_PROVEN_ON_DEVICE',
      `device '${String(options.device)}' is not yet supported by load()/generate(): the device decode path has not been proven equal to the CPU pipeline on a GPU. ` +
        "Use device 'cpu' (the default); the kernel-level CUDA functions (contrast with device: 'cuda', contrastDevicePointers) remain available.",
    );
  }
  const dir = resolveModel(nameOrPath);
  const { skipValidation, ...rtOptions } = options;
  const manifest: ModelManifest = skipValidation ? readManifest(dir) : (await validateModelFolder(dir)).manifest;
  const tokenizer = manifest.tokenizer.file ? loadTokenizer(JSON.parse(readFileSync(join(dir, manifest.tokenizer.file), 'utf8')) as object) : null;
  // The runtime gets the manifest checked above, not the folder: one reader of autocontrast.json per load.
  const desc = describeFromManifest(resolvePath(dir), manifest);
  // The output head on its exact 8-bit values in the runtime's kernel when it has them (./q8-head.ts), checked once
  // here; the graph's own product otherwise, with AUTOCONTRAST_Q8_HEAD=0, or when ONNX Runtime refuses the edit.
  const head = (rtOptions.device ?? 'cpu') === 'cpu' && envValue('AUTOCONTRAST_Q8_HEAD') !== '0' ? nativeHeadPlan(dir, manifest, readFolderGraph(dir, manifest)) : null;
  let runtime: RuntimeModel | undefined;
  if (head?.graphBytes) {
    try {
      runtime = await loadRuntimeModel({ ...desc, graphBytes: head.graphBytes, outputHead: head.outputHead }, rtOptions);
    } catch {
      runtime = undefined; // e.g. an ONNX Runtime without external data for in-memory graphs: the graph's head
    }
  }
  runtime ??= await loadRuntimeModel(desc, rtOptions);
  return new ContrastModel(dir, manifest, runtime, tokenizer, rtOptions);
}
