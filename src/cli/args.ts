/**
 * A small argument parser: positional arguments, `--flag`, `--key value` and `--key=value`.
 */
import { UsageError } from './usage-error';

/** Parsed arguments. */
export interface ParsedArgs {
  /** Positional arguments in order. */
  readonly positional: string[];
  /** Option values by name (`true` for flags). */
  readonly options: Map<string, string | true>;
}

/** Declares which options a command accepts: name -> takes a value. */
export type OptionSpec = Readonly<Record<string, 'value' | 'flag'>>;

/**
 * Parses `argv` against `spec`.
 * @throws {UsageError} for unknown options or a missing value.
 */
export function parseArgs(argv: readonly string[], spec: OptionSpec, command: string): ParsedArgs {
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '-') {
      if (a.startsWith('-') && a !== '-' && a !== '-h') throw new UsageError(`${command}: unknown option ${a}`);
      if (a === '-h') options.set('help', true);
      else positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const kind = spec[name];
    if (!kind) throw new UsageError(`${command}: unknown option --${name}`);
    if (kind === 'flag') {
      if (eq >= 0) throw new UsageError(`${command}: --${name} takes no value`);
      options.set(name, true);
    } else if (eq >= 0) {
      options.set(name, a.slice(eq + 1));
    } else {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${command}: --${name} needs a value`);
      options.set(name, v);
      i++;
    }
  }
  return { positional, options };
}

/** The string value of option `name`, or undefined. */
export function optionValue(args: ParsedArgs, name: string): string | undefined {
  const v = args.options.get(name);
  return typeof v === 'string' ? v : undefined;
}
