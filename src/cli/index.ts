/**
 * The command line as a library: `main(argv)` and the commands' help texts.
 * @module
 */
export { main, MAIN_HELP } from './main';
export { parseArgs, optionValue, type ParsedArgs, type OptionSpec } from './args';
export { ProgressBar } from './progress-bar';
export { UsageError } from './usage-error';
export { CONVERT_HELP } from './commands/convert';
export { DEFAULT_MODEL, GENERATE_HELP } from './commands/generate';
export { INSPECT_HELP } from './commands/inspect';
export { PULL_HELP } from './commands/pull';
