/**
 * `autocontrast inspect DIR|NAME`: what a model folder holds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatTotals, readOnnxWeights, type FormatTotal, type WeightSummary } from '../../model/manifest/onnx-weights';
import type { ModelManifest } from '../../model/manifest/manifest-types';
import { validateModelFolder } from '../../model/manifest/validate-model-folder';
import { resolveModel } from '../../model/pull/resolve-model';
import { parseArgs } from '../args';
import { UsageError } from '../usage-error';

/** Help text of `inspect`. */
export const INSPECT_HELP = `Usage: autocontrast inspect <model-folder | pulled-model-name> [--json]

Prints a model folder's architecture, layers, exits, vocabulary, size on disk, the weights' formats (4-bit
MatMulNBits with block size and accuracy level, or float) and, per exit, the weights its outputs are computed
from.

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

const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MB`;

/** Integer tensors are shapes, indices and constants: bytes, not weights worth a column. */
const weightsOnly = (f: readonly FormatTotal[]): FormatTotal[] => f.filter((t) => !/^u?int\d+$/.test(t.format));

/** `4-bit (block 32, accuracy level 4) 63.2 MB, float32 121.3 MB` */
function formatsText(f: readonly FormatTotal[]): string {
  return weightsOnly(f).map((t) => `${t.format} ${mb(t.bytes)}`).join(', ');
}

/** Per output (the final logits, each exit's hidden state and logits): bytes and formats of the weights it needs. */
function exitWeights(m: ModelManifest, w: WeightSummary) {
  const byName = new Map(w.weights.map((x) => [x.name, x]));
  const of = (output: string) => {
    const f = formatTotals([...w.weightsOf(output)].map((n) => byName.get(n)!).filter(Boolean));
    return { bytes: f.reduce((s, t) => s + t.bytes, 0), formats: f };
  };
  return {
    final: of(m.graph.io.logits),
    exits: m.exits.map((e) => ({
      layer: e.layer,
      kind: e.kind,
      ...(e.hiddenOutput ? { hidden: of(e.hiddenOutput) } : {}),
      ...(e.logitsOutput ? { logits: of(e.logitsOutput) } : {}),
    })),
  };
}

/** Runs `inspect`. */
export async function runInspect(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, { json: 'flag', help: 'flag' }, 'inspect');
  if (args.options.has('help')) return void console.log(INSPECT_HELP);
  if (args.positional.length !== 1) throw new UsageError('inspect: expected one model folder or pulled model name');
  const dir = resolveModel(args.positional[0]);
  const { manifest: m } = await validateModelFolder(dir);
  const size = folderSize(dir);
  const w = readOnnxWeights(path.join(dir, m.graph.file));
  const perExit = exitWeights(m, w);
  if (args.options.has('json')) {
    return void console.log(JSON.stringify({ dir, sizeBytes: size, weights: { formats: w.formats, ...perExit }, manifest: m }, null, 2));
  }
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
    `tensors       ${weightsOnly(w.formats).map((t) => `${t.format}: ${t.count}, ${mb(t.bytes)}`).join('; ')} (read from ${m.graph.file})`,
    'weights each output is computed from:',
    `  final logits (layer ${m.numLayers})`.padEnd(32) + `${mb(perExit.final.bytes).padStart(10)}  ${formatsText(perExit.final.formats)}`,
    ...perExit.exits.flatMap((e) => [
      ...(e.hidden ? [`  exit ${e.layer} hidden (${e.kind})`.padEnd(32) + `${mb(e.hidden.bytes).padStart(10)}  ${formatsText(e.hidden.formats)}`] : []),
      ...(e.logits ? [`  exit ${e.layer} logits (${e.kind})`.padEnd(32) + `${mb(e.logits.bytes).padStart(10)}  ${formatsText(e.logits.formats)}`] : []),
    ]),
  ];
  console.log(lines.join('\n'));
}
