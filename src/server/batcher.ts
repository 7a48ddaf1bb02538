/**
 * Continuous batching on one loaded model: every sequence in flight shares the batched decode steps of its lane
 * (one running runtime Sequence with `maxBatch` row slots). Between two steps, waiting requests are prefilled
 * (together, in a sequence of their own) and their rows admitted into the running batch (Sequence.admit copies
 * the KV cache rows); finished or cancelled rows leave (Sequence.removeRow) without waiting for the others.
 * Each row keeps its own contrast settings, sampling processors and seed.
 *
 * Rows of one lane must bind the same exit outputs; a lane is keyed by the amateur exit (layer and path). Plain
 * requests ride in the server's default lane (they ignore its exit outputs).
 */
import { logSoftmaxInPlace } from '../decoding/processors';
import { scoreOptionsOf, scoresOf } from '../generate/generate';
import type { ContrastModel, ContrastPlan } from '../generate/model';
import { scoreBatch } from '../generate/score-batch';
import type { ExitRequest, Sequence, StepOutput } from '../runtime';
import { rowLogProbs, RowSelector, topTokens, type RowOutputs } from './distribution';
import type { DecodeRequest, DecodeSink, DecodeTicket, Engine, PromptLogprob } from './engine';
import { ApiError } from './errors';
import type { Metrics } from './metrics';

/** Options of {@link BatchEngine}. */
export interface BatchEngineOptions {
  /** Rows decoded together per lane (default 16). */
  maxBatch?: number;
  /** Sequences that may wait for a slot before new ones get 429 (default 64). */
  maxQueue?: number;
  /** Positions per row of the running batch (prompt + generated; default min(context, 2048)). */
  maxContext?: number;
  /** The exit whose outputs the default lane binds (plain requests ride there): the server's default contrast. */
  defaultPlan?: ContrastPlan | null;
  metrics?: Metrics;
}

interface Job {
  req: DecodeRequest;
  sink: DecodeSink;
  selector: RowSelector;
  tokens: number[]; // prompt, then generated
  generated: number;
  next: number; // the token to feed at the next step
  cancelled: boolean;
  done: boolean;
  lastAt: number;
  lane: Lane;
}

interface Lane {
  key: string;
  /** The exits the lane's sequences bind (none for plain decoding; every candidate for a layer chosen per step). */
  exits: ExitRequest[];
  seq: Sequence | null;
  rows: Job[]; // index = row of seq
  waiting: Job[];
}

/** Rows handled on the event loop between two yields (each costs a pass or two over the vocabulary). */
const YIELD_EVERY = 4;
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

const laneKey = (p: ContrastPlan | null): string => (!p ? 'plain' : p.candidates ? `candidates:${p.candidates.join(',')}` : `${p.layer}:${p.path}`);
/** The exit outputs a plan reads. */
const planExits = (p: ContrastPlan | null): ExitRequest[] =>
  !p ? [] : p.candidates ? p.candidates.map((layer) => ({ layer, logits: false, hidden: true })) : [{ layer: p.layer, logits: p.path === 'dense', hidden: p.path === 'sparse' }];

/** The {@link Engine} of one model with continuous batching. */
export class BatchEngine implements Engine {
  readonly model: ContrastModel;
  readonly maxBatch: number;
  readonly maxQueue: number;
  readonly maxContext: number;
  #lanes = new Map<string, Lane>();
  /** The contrast of requests that give none (null: plain): plain rows ride in its lane. */
  #defaultPlan: ContrastPlan | null;
  #metrics?: Metrics;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #closing = false;
  #stopped = false;
  #queued = 0;
  #running = 0;
  #scoring = 0;
  /** The scoring run in progress (runs are queued one after another). */
  #scoringRun: Promise<void> = Promise.resolve();
  #idle: (() => void)[] = [];
  #lp: Float32Array;

  constructor(model: ContrastModel, options: BatchEngineOptions = {}) {
    this.model = model;
    this.maxBatch = options.maxBatch ?? 16;
    this.maxQueue = options.maxQueue ?? 64;
    this.maxContext = Math.min(options.maxContext ?? 2048, model.contextLength);
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${this.maxBatch}`);
    if (!Number.isInteger(this.maxQueue) || this.maxQueue < 0) throw new RangeError(`maxQueue must be a non-negative integer, got ${this.maxQueue}`);
    if (!Number.isInteger(this.maxContext) || this.maxContext < 2) throw new RangeError(`maxContext must be an integer >= 2, got ${this.maxContext}`);
    this.#defaultPlan = options.defaultPlan ?? null;
    this.#metrics = options.metrics;
    this.#lp = new Float32Array(this.maxBatch * model.vocabSize);
  }

  get queued(): number {
    return this.#queued;
  }
  get running(): number {
    return this.#running + this.#scoring;
  }

  #lane(plan: ContrastPlan | null): Lane {
    // Plain rows ride in the default lane (its exits are computed anyway), contrasted rows in their plan's.
    const lanePlan = plan ?? this.#defaultPlan;
    const key = laneKey(lanePlan);
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = { key, exits: planExits(lanePlan), seq: null, rows: [], waiting: [] };
      this.#lanes.set(key, lane);
    }
    return lane;
  }

  submit(req: DecodeRequest, sink: DecodeSink): DecodeTicket {
    if (this.#closing) throw new ApiError(503, 'server_shutting_down', 'the server is shutting down', { type: 'server_error' });
    if (req.prompt.length + req.maxTokens > this.maxContext) {
      throw new ApiError(400, 'context_length_exceeded',
        `the prompt (${req.prompt.length} tokens) plus max_tokens (${req.maxTokens}) exceeds the server's context of ${this.maxContext} tokens`,
        { param: 'max_tokens' });
    }
    if (this.#queued >= this.maxQueue) {
      throw new ApiError(429, 'queue_full', `the queue is full (${this.maxQueue} waiting requests); retry later`, { headers: { 'Retry-After': '1' } });
    }
    const lane = this.#lane(req.contrast);
    const job: Job = {
      req, sink, selector: new RowSelector(req.sampling, this.model.vocabSize, req.eos), tokens: req.prompt.slice(), generated: 0, next: 0,
      cancelled: false, done: false, lastAt: req.arrivedAt, lane,
    };
    lane.waiting.push(job);
    this.#queued++;
    this.#kick();
    return {
      cancel: () => {
        if (job.done || job.cancelled) return;
        job.cancelled = true;
        const i = lane.waiting.indexOf(job);
        if (i >= 0) { // still waiting: leave the queue now
          lane.waiting.splice(i, 1);
          this.#queued--;
          this.#finish(job, 'cancelled');
        }
        this.#kick();
      },
    };
  }

  #kick(): void {
    if (!this.#loop) this.#loop = this.#run().finally(() => (this.#loop = null));
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  #finish(job: Job, reason: Parameters<DecodeSink['onEnd']>[0], error?: Error): void {
    if (job.done) return;
    job.done = true;
    try {
      job.sink.onEnd(reason, error);
    } catch {
      // a sink that throws must not stop the batch
    }
  }

  #checkIdle(): void {
    if (this.#queued === 0 && this.#running === 0 && this.#scoring === 0) for (const f of this.#idle.splice(0)) f();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const busy = [...this.#lanes.values()].filter((l) => l.rows.length || l.waiting.length);
      this.#checkIdle();
      if (!busy.length) {
        await new Promise<void>((r) => (this.#wake = r));
        continue;
      }
      for (const lane of busy) {
        try {
          await this.#admit(lane);
          await this.#step(lane);
        } catch (e) {
          this.#failLane(lane, e instanceof Error ? e : new Error(String(e)));
        }
      }
    }
  }

  #failLane(lane: Lane, e: Error): void {
    for (const j of lane.rows) this.#finish(j, 'error', e);
    this.#running -= lane.rows.length;
    lane.rows = [];
    lane.seq?.dispose();
    lane.seq = null;
  }

  /** Emits a row's token; returns true when the row ends with it. */
  #emit(job: Job, lp: Float32Array): boolean {
    const t = job.selector.select(lp, job.tokens, job.generated);
    // DoLa's rows were selected from its unnormalised scores (as generate does); report log-probabilities.
    if (job.req.contrast?.mode === 'dola') logSoftmaxInPlace(lp);
    const now = performance.now();
    if (job.generated === 0) this.#metrics?.ttft.observe((now - job.req.arrivedAt) / 1000);
    else this.#metrics?.perToken.observe((now - job.lastAt) / 1000);
    job.lastAt = now;
    job.tokens.push(t);
    job.generated++;
    job.next = t;
    if (this.#metrics) this.#metrics.completionTokens++;
    let stop = false;
    try {
      stop = job.sink.onToken({ token: t, logprob: lp[t], ...(job.req.topLogprobs > 0 ? { top: topTokens(lp, job.req.topLogprobs) } : {}) }) === true;
    } catch (e) {
      this.#finish(job, 'error', e instanceof Error ? e : new Error(String(e)));
      return true;
    }
    if (job.cancelled) return this.#finish(job, 'cancelled'), true;
    if (job.req.eos.includes(t)) return this.#finish(job, 'eos'), true;
    if (stop) return this.#finish(job, 'stop'), true;
    if (job.generated >= job.req.maxTokens) return this.#finish(job, 'length'), true;
    return false;
  }

  #rowOutputs(o: StepOutput, lane: Lane, r: number): RowOutputs {
    const V = this.model.vocabSize, H = this.model.manifest.hiddenSize;
    const exits = new Map<number, { logits?: Float32Array; hidden?: Float32Array }>();
    for (const e of lane.exits) {
      const x = o.exitOutputs.get(e.layer);
      exits.set(e.layer, {
        ...(e.logits && x?.logits ? { logits: x.logits.subarray(r * V, (r + 1) * V) } : {}),
        ...(e.hidden && x?.hidden ? { hidden: x.hidden.subarray(r * H, (r + 1) * H) } : {}),
      });
    }
    return { expert: o.logits.subarray(r * V, (r + 1) * V), exits };
  }

  /**
   * Log-probabilities of every listed row (each with its own contrast), into this.#lp rows 0..n-1. Contrast
   * kernels run on the thread pool; the plain rows' log-softmax runs here, a few rows at a time with the event
   * loop let through in between.
   */
  async #distributions(o: StepOutput, lane: Lane, jobs: Job[], rowsOf: number[]): Promise<Float32Array[]> {
    const V = this.model.vocabSize;
    const out: Promise<Float32Array>[] = [];
    let sync = 0;
    for (let i = 0; i < jobs.length; i++) {
      const plain = !jobs[i].req.contrast;
      if (plain && ++sync % YIELD_EVERY === 0) await yieldToLoop();
      out.push(rowLogProbs(this.model, jobs[i].req.contrast, this.#rowOutputs(o, lane, rowsOf[i]), this.#lp.subarray(i * V, (i + 1) * V)));
    }
    return Promise.all(out);
  }

  async #admit(lane: Lane): Promise<void> {
    const free = this.maxBatch - lane.rows.length;
    if (free <= 0 || !lane.waiting.length || this.#stopped) return;
    const jobs = lane.waiting.splice(0, free);
    this.#queued -= jobs.length;
    this.#running += jobs.length;
    const longest = Math.max(...jobs.map((j) => j.req.prompt.length));
    const exits = lane.exits.length ? { exits: lane.exits } : {};
    const pre = this.model.runtime.createSequence({ batch: jobs.length, maxLength: longest, ...exits });
    try {
      const o = await pre.prefill(jobs.map((j) => j.req.prompt));
      const lps = await this.#distributions(o, lane, jobs, jobs.map((_, i) => i));
      const stay: number[] = [];
      jobs.forEach((j, i) => {
        if (j.cancelled) this.#finish(j, 'cancelled');
        else if (!this.#emit(j, lps[i])) stay.push(i);
      });
      this.#metrics && (this.#metrics.promptTokens += jobs.reduce((s, j) => s + j.req.prompt.length, 0));
      this.#running -= jobs.length - stay.length;
      if (!stay.length) return;
      lane.seq ??= this.model.runtime.createSequence({ batch: this.maxBatch, maxLength: this.maxContext, ...exits });
      for (const i of stay) {
        const row = await lane.seq.admit(pre, i);
        if (row !== lane.rows.length) throw new Error(`admitted row ${row}, expected ${lane.rows.length}`);
        lane.rows.push(jobs[i]);
      }
    } catch (e) {
      for (const j of jobs) if (!j.done && !lane.rows.includes(j)) { this.#finish(j, 'error', e as Error); this.#running--; }
      throw e;
    } finally {
      pre.dispose();
    }
  }

  #remove(lane: Lane, r: number): void {
    const last = lane.seq!.removeRow(r);
    lane.rows[r] = lane.rows[last];
    lane.rows.pop();
    this.#running--;
  }

  async #step(lane: Lane): Promise<void> {
    for (let r = lane.rows.length - 1; r >= 0; r--) {
      const j = lane.rows[r];
      if (j.cancelled || j.done) {
        this.#finish(j, 'cancelled');
        this.#remove(lane, r);
      }
    }
    if (!lane.rows.length || !lane.seq) return;
    const jobs = lane.rows.slice();
    this.#metrics?.batchSize.observe(jobs.length);
    const o = await lane.seq.step(jobs.map((j) => j.next));
    const lps = await this.#distributions(o, lane, jobs, jobs.map((_, i) => i));
    const ended: boolean[] = [];
    for (let i = 0; i < jobs.length; i++) {
      if (i > 0 && i % YIELD_EVERY === 0) await yieldToLoop();
      const j = jobs[i];
      ended.push(j.cancelled ? (this.#finish(j, 'cancelled'), true) : this.#emit(j, lps[i]));
    }
    for (let r = jobs.length - 1; r >= 0; r--) if (ended[r]) this.#remove(lane, r);
  }

  /**
   * Log-probabilities of each prompt's tokens (echo). Graphs with logits at every position score all prompts in
   * one forward run of the scoring fast path (src/generate/score-batch.ts; one run at a time per engine);
   * graphs that output the last position only step through each prompt one token at a time.
   */
  async scorePrompts(prompts: number[][], contrast: ContrastPlan | null, topLogprobs: number, signal?: AbortSignal): Promise<PromptLogprob[][]> {
    if (this.#closing) throw new ApiError(503, 'server_shutting_down', 'the server is shutting down', { type: 'server_error' });
    this.#scoring += prompts.length;
    try {
      if (this.model.manifest.graph.logitPositions === 'last') {
        const out: PromptLogprob[][] = [];
        for (const p of prompts) out.push(await this.#scoreByStepping(p, contrast, topLogprobs, signal));
        return out;
      }
      const run = this.#scoringRun.then(() => this.#scoreInOneRun(prompts, contrast, topLogprobs, signal));
      this.#scoringRun = run.then(() => undefined, () => undefined);
      return await run;
    } finally {
      this.#scoring -= prompts.length;
      this.#checkIdle();
    }
  }

  async #scoreInOneRun(prompts: number[][], contrast: ContrastPlan | null, topLogprobs: number, signal?: AbortSignal): Promise<PromptLogprob[][]> {
    if (signal?.aborted || this.#stopped) throw new ApiError(499, 'cancelled', 'the request was cancelled');
    const first = (p: number[]): PromptLogprob => ({ token: p[0], logprob: null, top: null });
    // A one-token prompt has nothing to score.
    const scoredIdx = prompts.flatMap((p, i) => (p.length > 1 ? [i] : []));
    const items = scoredIdx.map((i) => ({ ids: prompts[i], from: 1 }));
    const scored = await scoreBatch(this.model, items, { ...scoreOptionsOf(contrast), top: topLogprobs });
    const out = prompts.map((p) => [first(p)]);
    scored.forEach((res, k) => {
      const p = prompts[scoredIdx[k]];
      const s = scoresOf(res, contrast);
      for (let j = 0; j < s.logProbs.length; j++) out[scoredIdx[k]].push({ token: p[j + 1], logprob: s.logProbs[j], top: s.top ? s.top[j] : null });
    });
    return out;
  }

  async #scoreByStepping(prompt: number[], contrast: ContrastPlan | null, topLogprobs: number, signal?: AbortSignal): Promise<PromptLogprob[]> {
    const V = this.model.vocabSize;
    const lane = { exits: planExits(contrast) } as Lane;
    const seq = this.model.runtime.createSequence({ batch: 1, maxLength: prompt.length, ...(lane.exits.length ? { exits: lane.exits } : {}) });
    const out: PromptLogprob[] = [{ token: prompt[0], logprob: null, top: null }];
    const lp = new Float32Array(V);
    try {
      let o = await seq.prefill([[prompt[0]]]);
      for (let i = 1; i < prompt.length; i++) {
        if (signal?.aborted || this.#stopped) throw new ApiError(499, 'cancelled', 'the request was cancelled');
        await rowLogProbs(this.model, contrast, this.#rowOutputs(o, lane, 0), lp);
        if (contrast?.mode === 'dola') logSoftmaxInPlace(lp);
        out.push({ token: prompt[i], logprob: lp[prompt[i]], top: topLogprobs > 0 ? topTokens(lp, topLogprobs) : null });
        if (i < prompt.length - 1) o = await seq.step([prompt[i]]);
      }
      return out;
    } finally {
      seq.dispose();
    }
  }

  async close(deadlineMs: number): Promise<void> {
    this.#closing = true;
    if (this.#queued || this.#running || this.#scoring) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#idle.push(r)),
        new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadlineMs)))),
      ]);
      clearTimeout(timer);
    }
    for (const lane of this.#lanes.values()) {
      for (const j of lane.waiting.splice(0)) this.#finish(j, 'cancelled');
      for (const j of lane.rows) j.cancelled = true;
    }
    this.#queued = 0;
    this.#kick();
    // Let the loop pass one step boundary so cancelled rows end, then stop it.
    while (this.#running > 0 && this.#loop) await new Promise((r) => setTimeout(r, 5));
    this.#stopped = true;
    this.#kick();
    await this.#loop;
    for (const lane of this.#lanes.values()) {
      lane.seq?.dispose();
      lane.seq = null;
    }
  }
}
