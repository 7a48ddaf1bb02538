/**
 * `autocontrast generate [--model DIR|name] --prompt TEXT [options]`: a continuation, contrasted by default.
 *
 * Every flag is checked before the model loads (the generation flags come from the one configuration table,
 * src/config/generation.ts). Text goes to stdout as it is produced; progress, timing and notices go to
 * stderr. Ctrl-C stops the generation: what was generated stays printed, a one-line notice follows, and the
 * exit code is 130. With `--json`, stdout holds one JSON object and nothing else.
 */
import type { ResolvedGeneration } from '../../config/generation';
import type { GenerateTextOptions } from '../../generate/generate';
import { optionValue, parseArgs, type ParsedArgs } from '../args';
import { GENERATION_FLAG_SPEC, generationFlagHelp, generationFlags } from '../generation-flags';
import { UsageError } from '../usage-error';

/** The model used when `--model` is not given (pulled on first use). */
export const DEFAULT_MODEL = 'smollm2-135m';

/** Help text of `generate`. */
export const GENERATE_HELP = `Usage: autocontrast generate --prompt TEXT [options]

Continues TEXT with auto-contrastive decoding (the amateur is an early exit of the same model), or plainly.
The text is printed as it is generated; Ctrl-C stops and keeps what was printed (exit code 130).

Options:
  --model DIR|NAME          model folder or pulled model name (default ${DEFAULT_MODEL}, pulled on first use)
  --prompt TEXT             the prompt (required)
  --compare                 print the plain, then the contrasted continuation, each labelled
  --json                    print one JSON object (text, ids, log-probabilities, timings) and nothing else
  -h, --help                this help

Generation options (the API's options of the same names; see docs/architecture.md):
${generationFlagHelp()}`;

const SPEC = { model: 'value', prompt: 'value', compare: 'flag', json: 'flag', help: 'flag', ...GENERATION_FLAG_SPEC } as const;

/** Everything the command line says, checked: nothing here needs the model. */
export interface GenerateRequest {
  prompt: string;
  model: string;
  options: GenerateTextOptions;
  resolved: ResolvedGeneration;
  compare: boolean;
  json: boolean;
}

function readRequest(argv: readonly string[]): GenerateRequest | null {
  const args: ParsedArgs = parseArgs(argv, SPEC, 'generate');
  if (args.options.has('help')) return null;
  if (args.positional.length) throw new UsageError(`generate: unexpected argument "${args.positional[0]}" (give the prompt with --prompt TEXT)`);
  const prompt = optionValue(args, 'prompt');
  if (prompt === undefined) throw new UsageError('generate: --prompt TEXT is required');
  if (prompt.length === 0) throw new UsageError('generate: --prompt is empty');
  const compare = args.options.has('compare');
  const { options, resolved } = generationFlags(args, 'generate');
  if (compare && options.contrast === false) throw new UsageError('generate: --compare already shows the plain continuation; drop --no-contrast');
  if (compare && resolved.strategy === 'beam' && resolved.numReturnSequences > 1) throw new UsageError('generate: --compare prints one sequence per run; drop --num-return-sequences');
  return { prompt, model: optionValue(args, 'model') ?? DEFAULT_MODEL, options, resolved, compare, json: args.options.has('json') };
}

/** Runs `generate`; resolves to the exit code. */
export async function runGenerate(argv: readonly string[]): Promise<number> {
  const req = readRequest(argv);
  if (!req) {
    console.log(GENERATE_HELP);
    return 0;
  }
  // The model, the runtime and the output code load only once the command line is known to be right.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { generateOnModel } = require('./generate-run') as typeof import('./generate-run');
  return generateOnModel(req);
}
