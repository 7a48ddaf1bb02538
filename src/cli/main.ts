#!/usr/bin/env node
/**
 * The `autocontrast` command line: subcommand dispatch, help, and one-line errors.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { AutocontrastError } from '../errors';
import { UsageError } from './usage-error';

/** The package version (from the package.json beside dist/). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** Help text of the command. */
export const MAIN_HELP = `Usage: autocontrast <command> [options]

Commands:
  convert <file.gguf | hf-folder> --out DIR   convert a checkpoint into a multi-exit model folder
  fit-exits --model M --layers L --method X   fit amateur exits (head, lens, linear) into a model folder
  generate --prompt TEXT [--model DIR|name]   continue a text, contrasted (--compare: plain and contrasted)
  inspect <folder | name>                      show what a model folder holds
  pull <name> | pull --hub ORG/NAME            download, convert and cache a model
  serve --model DIR|name [--port 8080]         OpenAI-compatible HTTP server (continuous batching)
  eval <task> [--model DIR|name]               LAMBADA, WikiText or open-ended generation, plain and contrasted
  report                                       markdown report and SVG plots of eval results

Options:
  --version, -v                                print the version
  --help, -h                                   this help

Run "autocontrast <command> --help" for a command's options.`;

type Command = (argv: readonly string[]) => Promise<void | number>;

// Each command's module is loaded only when it runs, so that a mistake on the command line is reported
// without first loading every command's dependencies (the conversion graph builders, the HTTP client, ...).
/* eslint-disable @typescript-eslint/no-require-imports */
const COMMANDS: Record<string, () => Command> = {
  convert: () => (require('./commands/convert') as typeof import('./commands/convert')).runConvert,
  eval: () => (require('./commands/eval') as typeof import('./commands/eval')).runEval,
  'fit-exits': () => (require('./commands/fit-exits') as typeof import('./commands/fit-exits')).runFitExits,
  generate: () => (require('./commands/generate') as typeof import('./commands/generate')).runGenerate,
  inspect: () => (require('./commands/inspect') as typeof import('./commands/inspect')).runInspect,
  pull: () => (require('./commands/pull') as typeof import('./commands/pull')).runPull,
  report: () => (require('./commands/report') as typeof import('./commands/report')).runReport,
  serve: () => (require('./commands/serve') as typeof import('./commands/serve')).runServe,
};
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * Errors reported as one line, decided by class: the library's own errors (AutocontrastError: usage, model
 * folder, pull, conversion, file formats) and file-system errors. Anything else, a TypeError or RangeError
 * included, is a bug (a command turns the argument errors it expects into UsageErrors itself) and keeps its
 * stack trace.
 */
function isUserError(e: unknown): e is Error {
  return (
    e instanceof AutocontrastError ||
    (e instanceof Error && ['ENOENT', 'EACCES', 'ENOSPC', 'EEXIST', 'ENOTDIR', 'EISDIR'].includes((e as NodeJS.ErrnoException).code ?? ''))
  );
}

/** Runs the command line `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(MAIN_HELP);
    return cmd === undefined ? 1 : 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    console.log(packageVersion());
    return 0;
  }
  const command = COMMANDS[cmd];
  try {
    if (!command) throw new UsageError(`unknown command "${cmd}" (commands: ${Object.keys(COMMANDS).join(', ')}; see autocontrast --help)`);
    return (await command()(rest)) ?? 0;
  } catch (e) {
    if (!isUserError(e)) throw e;
    const msg = e.message.split('\n')[0];
    process.stderr.write(`autocontrast: ${msg}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`autocontrast: internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
