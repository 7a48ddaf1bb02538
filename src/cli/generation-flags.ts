/**
 * The command line's generation flags, generated from the one generation configuration
 * (`GENERATION_OPTIONS` in src/config/generation.ts): every option with a CLI form becomes a flag with the
 * same meaning, default and bounds, and the help lines are written from the same table. Commands that
 * generate (`generate`, and the server's defaults) parse their flags with {@link generationFlags}.
 */
import { checkOption, GENERATION_OPTIONS, resolveGeneration, type GenerationOptionValues, type OptionDef, type OptionName, type ResolvedGeneration } from '../config/generation';
import { isArgumentError } from '../errors';
import { optionValue, type OptionSpec, type ParsedArgs } from './args';
import { UsageError } from './usage-error';

const ENTRIES = Object.entries(GENERATION_OPTIONS) as [OptionName, OptionDef][];

const pick = (keys?: readonly OptionName[]) => ENTRIES.filter(([k, d]) => d.cli && (!keys || keys.includes(k)));

/** The parser spec of the generation flags of `keys` (default all): flag name -> takes a value. */
export function generationFlagSpec(keys?: readonly OptionName[]): OptionSpec {
  return Object.fromEntries(pick(keys).map(([, d]) => [d.cli!.flag, d.cli!.form === 'set' ? 'flag' : 'value']));
}

/** The parser spec of every generation flag. */
export const GENERATION_FLAG_SPEC: OptionSpec = generationFlagSpec();

function defaultText(d: OptionDef): string {
  const v = d.cliDefault ?? d.default;
  if (d.defaultDoc) return ` (default: ${d.defaultDoc})`;
  if (v === undefined || d.cli?.form === 'set') return '';
  return ` (default ${String(v)})`;
}

/** Help lines of the generation flags of `keys` (default all), one per option: flag, meaning, default. */
export function generationFlagHelp(keys?: readonly OptionName[]): string {
  const lines: string[] = [];
  for (const [, d] of pick(keys)) {
    const cli = d.cli!;
    const left = cli.form === 'set' ? `--${cli.flag}` : `--${cli.flag} ${cli.meta}`;
    lines.push(`  ${left.padEnd(26)}${d.doc}${defaultText(d)}`);
  }
  return lines.join('\n');
}

function parseValue(command: string, key: OptionName, d: OptionDef, raw: string): unknown {
  const flag = `--${d.cli!.flag}`;
  if (d.word !== undefined && raw === d.word) return raw;
  if (d.kind === 'layers') {
    if (raw === 'low' || raw === 'high') return raw;
    const parts = raw.split(',').map((s) => s.trim());
    if (raw.trim() === '' || parts.some((s) => !/^\d+$/.test(s))) throw new UsageError(`${command}: ${flag} expects low, high or a comma-separated list of layer numbers, got "${raw}"`);
    return parts.map(Number);
  }
  if (d.kind === 'integer' || d.kind === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || (d.kind === 'integer' && !Number.isInteger(n))) {
      throw new UsageError(`${command}: ${flag} expects ${d.kind === 'integer' ? 'an integer' : 'a number'}${d.word ? ` or ${d.word}` : ''}, got "${raw}"`);
    }
    return n;
  }
  if (d.kind === 'strings') {
    if (raw.length === 0) throw new UsageError(`${command}: ${flag} expects a non-empty text`);
    return [raw];
  }
  void key;
  return raw;
}

/** The generation options the command line gives (only those given), as API values. */
export function generationOptionsFromArgs(args: ParsedArgs, command: string): GenerationOptionValues {
  const out: Record<string, unknown> = {};
  for (const [key, d] of ENTRIES) {
    if (!d.cli || !args.options.has(d.cli.flag)) continue;
    if (d.cli.form === 'set') out[key] = d.cli.value;
    else out[key] = parseValue(command, key, d, optionValue(args, d.cli.flag) ?? '');
  }
  if (out.maxNewTokens === undefined) out.maxNewTokens = GENERATION_OPTIONS.maxNewTokens.cliDefault;
  return out as GenerationOptionValues;
}

/**
 * The flags of `keys` only, each checked on its own (no rules between options: for commands whose flags are
 * defaults that requests may override, such as `serve`).
 */
export function checkedGenerationFlags(args: ParsedArgs, command: string, keys: readonly OptionName[]): GenerationOptionValues {
  const out: Record<string, unknown> = {};
  for (const [key, d] of pick(keys)) {
    if (!args.options.has(d.cli!.flag)) continue;
    const v = d.cli!.form === 'set' ? d.cli!.value : parseValue(command, key, d, optionValue(args, d.cli!.flag) ?? '');
    try {
      out[key] = checkOption(key, v, 'cli');
    } catch (e) {
      if (isArgumentError(e)) throw new UsageError(`${command}: ${e.message}`);
      throw e;
    }
  }
  return out as GenerationOptionValues;
}

/**
 * Parses and checks the generation flags, before any model is loaded: a bad value or a contradiction is a
 * UsageError naming the flag (`--alpha expects a number in [0, 1], got 7`).
 */
export function generationFlags(args: ParsedArgs, command: string): { options: GenerationOptionValues; resolved: ResolvedGeneration } {
  const options = generationOptionsFromArgs(args, command);
  try {
    return { options, resolved: resolveGeneration(options, 'cli') };
  } catch (e) {
    if (isArgumentError(e)) throw new UsageError(`${command}: ${e.message}`);
    throw e;
  }
}
