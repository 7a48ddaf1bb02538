/**
 * `autocontrast inspect DIR|NAME`: what a model folder holds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateModelFolder } from '../../model/manifest/validate-model-folder';
import { resolveModel } from '../../model/pull/resolve-model';
import { parseArgs } from '../args';
import { UsageError } from '../usage-error';

/** Help text of `inspect`. */
export const INSPECT_HELP = `Usage: autocontrast inspect <model-folder | pulled-model-name> [--json]

Prints a model folder's architecture, layers, exits, vocabulary and size on disk.

Options:
  --json       print the manifest and sizes as JSON
  -h, --help   this help`;

function folderSize(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? folderSize(p) : fs.statSync(p).size;
  }
  return n;
}

/** Runs `inspect`. */
export async function runInspect(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, { json: 'flag', help: 'flag' }, 'inspect');
  if (args.options.has('help')) return void console.log(INSPECT_HELP);
  if (args.positional.length !== 1) throw new UsageError('inspect: expected one model folder or pulled model name');
  const dir = resolveModel(args.positional[0]);
  const { manifest: m } = await validateModelFolder(dir);
  const size = folderSize(dir);
  if (args.options.has('json')) return void console.log(JSON.stringify({ dir, sizeBytes: size, manifest: m }, null, 2));
  const exits = m.exits.map((e) => `${e.layer}${e.kind === 'lens' ? '' : ` (${e.kind})`}`).join(', ');
  const st = m.specialTokens;
  const lines = [
    `model folder  ${dir}`,
    `architecture  ${m.architecture}`,
    `layers        ${m.numLayers} (hidden ${m.hiddenSize}, ${m.numHeads} heads, ${m.numKvHeads} kv heads of ${m.headDim})`,
    `exits         ${exits || 'none'} (${m.exits.length}; kind: ${[...new Set(m.exits.map((e) => e.kind))].join(', ') || '-'})`,
    `vocabulary    ${m.vocabSize} tokens${m.tokenizer.file ? ` (tokenizer: ${m.tokenizer.file})` : ' (no tokenizer)'}`,
    `special       bos ${st.bos ?? '-'}, eos ${st.eos?.join('/') ?? '-'}, pad ${st.pad ?? '-'}`,
    `context       ${m.contextLength}`,
    `logits        ${m.graph.logitPositions}`,
    `weights       ${m.weights ? `${m.weights.form}: ${m.weights.description}` : 'not recorded (folder written before weight forms had names)'}`,
    `graph         ${m.graph.form ?? 'reference'}`,
    `size on disk  ${(size / 1048576).toFixed(1)} MB`,
  ];
  console.log(lines.join('\n'));
}
