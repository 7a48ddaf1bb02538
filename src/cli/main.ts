#!/usr/bin/env node
/**
 * The `autocontrast` command line: subcommand dispatch, help, and one-line errors.
 */
import { EvalError } from '../eval/errors';
import { ConvertError } from '../model/convert/convert-error';
import { GgufError } from '../model/import/gguf/errors';
import { ModelFolderError } from '../model/manifest/model-folder-error';
import { PullError } from '../model/pull/pull-error';
import { SafetensorsError } from '../model/safetensors/safetensors-file';
import { runConvert } from './commands/convert';
import { runFitExits } from './commands/fit-exits';
import { runEval } from './commands/eval';
import { runGenerate } from './commands/generate';
import { runInspect } from './commands/inspect';
import { runPull } from './commands/pull';
import { runServe } from './commands/serve';
import { FitError } from '../train/fit-error';
import { runReport } from './commands/report';
import { UsageError } from './usage-error';

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

Run "autocontrast <command> --help" for a command's options.`;

const COMMANDS: Record<string, (argv: readonly string[]) => Promise<void>> = {
  convert: runConvert,
  'fit-exits': runFitExits,
  generate: runGenerate,
  inspect: runInspect,
  pull: runPull,
  serve: runServe,
  eval: runEval,
  report: runReport,
};

/** Errors reported as one line (anything else is a bug and keeps its stack trace). */
function isUserError(e: unknown): e is Error {
  return (
    e instanceof UsageError || e instanceof ConvertError || e instanceof PullError || e instanceof SafetensorsError ||
    e instanceof GgufError || e instanceof ModelFolderError || e instanceof FitError || e instanceof EvalError ||
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
  const run = COMMANDS[cmd];
  try {
    if (!run) throw new UsageError(`unknown command "${cmd}" (commands: ${Object.keys(COMMANDS).join(', ')}; see autocontrast --help)`);
    await run(rest);
    return 0;
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
