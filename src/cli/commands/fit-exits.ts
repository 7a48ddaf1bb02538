/**
 * `autocontrast fit-exits --model M --layers 8,15,20 --method head|lens|linear [--data FILE...]`: fits amateur exits
 * and writes them into the model folder (or `--out DIR`).
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';

import { cacheDir } from '../../model/pull/cache-dir';
import { fitExits, type FitProgress } from '../../train';
import type { FitMethod } from '../../train/exit-nodes';
import { optionValue, parseArgs } from '../args';
import { UsageError } from '../usage-error';

/** Help text of `fit-exits`. */
export const FIT_EXITS_HELP = `Usage: autocontrast fit-exits --model M --layers L1,L2 --method head|lens|linear [options]

Fits amateur exits of a frozen model on the CPU and records them in its model folder; generate, score and the
server then use them through --amateur-layer like imported exit heads.

Methods:
  head     a new linear head per layer on the final-normed hidden state, initialised from the model's head,
           next-token cross-entropy, AdamW lr 2e-4 with linear decay (Gera et al. 2023, Appendix A)
  lens     tuned lens (Belrose et al. 2023): an affine d x d translator before the final norm and the model's own
           head, identity-initialised, trained to minimise KL to the final layer
  linear   least-squares translator from layer L to the last layer's residual (Din et al. 2023), closed form

Options:
  --model M            model folder or pulled model name (required)
  --layers L1,L2       exit layers to fit (required; 1..numLayers, below numLayers for lens/linear)
  --method M           head, lens or linear (required)
  --data FILE          text or JSONL file (repeat for more); none: the model samples its own text
  --sample-tokens N    tokens to sample without --data (default 200000)
  --max-tokens N       use at most N tokens of the data
  --out DIR            write a new model folder instead of updating M
  --seq-len N          tokens per chunk (default 512)
  --batch-tokens N     tokens per optimiser step (default 32768: 64 sequences of 512)
  --lr X               peak learning rate (default 2e-4)
  --weight-decay X     AdamW weight decay (default 0)
  --bias               head: give each head a bias
  --expert-head        head: also fit a new head on the last layer (the paper's new final head)
  --validation X       share of chunks held out (default 0.05)
  --seed N             data shuffle and sampling seed (default 0)
  --threads N          ONNX Runtime threads (default: one per core)
  --checkpoint-dir D   save a checkpoint there every --checkpoint-every steps (default 20) and resume from it
                       (head, lens; default: a folder for this model, method and layers under the cache folder).
                       Ctrl-C saves everything done so far there and stops; the same command resumes.
  --checkpoint-every N
  -h, --help           this help`;

function intOption(args: ReturnType<typeof parseArgs>, name: string, min: number): number | undefined {
  const v = optionValue(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`fit-exits: --${name} must be an integer >= ${min} (got "${v}")`);
  return Number(v);
}

function numberOption(args: ReturnType<typeof parseArgs>, name: string, ok: (x: number) => boolean, what: string): number | undefined {
  const v = optionValue(args, name);
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || !ok(x)) throw new UsageError(`fit-exits: --${name} must be ${what} (got "${v}")`);
  return x;
}

/** The `--data` values (the option may repeat). */
function dataFiles(argv: readonly string[]): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (a === '--data' && argv[i + 1] !== undefined) out.push(argv[i + 1]);
    else if (a.startsWith('--data=')) out.push(a.slice(7));
  });
  return out;
}

function progressLine(p: FitProgress): string {
  const eta = p.etaSeconds >= 60 ? `${Math.floor(p.etaSeconds / 60)}m${String(Math.round(p.etaSeconds % 60)).padStart(2, '0')}s` : `${Math.round(p.etaSeconds)}s`;
  const width = 24;
  const filled = p.total > 0 ? Math.min(width, Math.round((width * p.done) / p.total)) : 0;
  const loss = p.loss !== undefined ? ` loss ${p.loss.toFixed(4)}` : '';
  return `${p.phase.padEnd(8)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${p.done}/${p.total}${loss} ${p.tokensPerSecond.toFixed(0)} tok/s ETA ${eta}`;
}

/** Runs `fit-exits`. */
export async function runFitExits(argv: readonly string[]): Promise<void> {
  const args = parseArgs(
    argv,
    {
      model: 'value', layers: 'value', method: 'value', data: 'value', out: 'value', 'seq-len': 'value', 'batch-tokens': 'value', lr: 'value',
      'weight-decay': 'value', bias: 'flag', 'expert-head': 'flag', validation: 'value', seed: 'value', threads: 'value', 'checkpoint-dir': 'value',
      'checkpoint-every': 'value', 'sample-tokens': 'value', 'max-tokens': 'value', help: 'flag',
    },
    'fit-exits',
  );
  if (args.options.has('help')) return void console.log(FIT_EXITS_HELP);
  if (args.positional.length > 0) throw new UsageError(`fit-exits: unexpected argument "${args.positional[0]}" (see --help)`);
  const model = optionValue(args, 'model');
  if (!model) throw new UsageError('fit-exits: --model M is required (a model folder or a pulled model name)');
  const method = optionValue(args, 'method');
  if (method !== 'head' && method !== 'lens' && method !== 'linear') throw new UsageError(`fit-exits: --method must be head, lens or linear (got ${method === undefined ? 'nothing' : `"${method}"`})`);
  const layerText = optionValue(args, 'layers');
  if (!layerText) throw new UsageError('fit-exits: --layers L1,L2 is required');
  const layers = layerText.split(',').map((p) => {
    if (!/^\s*\d+\s*$/.test(p)) throw new UsageError(`fit-exits: --layers must be a comma-separated list of layer numbers (got "${layerText}")`);
    return Number(p);
  });
  const tty = !!process.stderr.isTTY;
  let last = 0;
  // Ctrl-C stops after the chunk in progress with everything saved (a second Ctrl-C quits at once).
  const stop = new AbortController();
  const onSigint = () => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write(`${tty ? '\n' : ''}fit-exits: stopping after the current chunk and saving a checkpoint (Ctrl-C again to quit at once)\n`);
    stop.abort();
  };
  process.on('SIGINT', onSigint);
  const checkpointDir = optionValue(args, 'checkpoint-dir') ?? (method === 'linear' ? undefined : defaultCheckpointDir(model, method, layers));
  const r = await fitExits({
    model,
    layers,
    method: method as FitMethod,
    data: dataFiles(argv),
    out: optionValue(args, 'out'),
    seqLen: intOption(args, 'seq-len', 2),
    batchTokens: intOption(args, 'batch-tokens', 1),
    learningRate: numberOption(args, 'lr', (x) => x > 0, 'a number > 0'),
    weightDecay: numberOption(args, 'weight-decay', (x) => x >= 0, 'a number >= 0'),
    bias: args.options.has('bias'),
    expertHead: args.options.has('expert-head'),
    validationFraction: numberOption(args, 'validation', (x) => x > 0 && x < 1, 'a number in (0, 1)'),
    seed: intOption(args, 'seed', 0),
    threads: intOption(args, 'threads', 0),
    checkpointDir,
    signal: stop.signal,
    checkpointEvery: intOption(args, 'checkpoint-every', 1),
    sampleTokens: intOption(args, 'sample-tokens', 2),
    maxTokens: intOption(args, 'max-tokens', 2),
    onProgress: (p) => {
      const now = Date.now();
      if (now - last < (tty ? 200 : 10000) && p.done < p.total) return;
      last = now;
      process.stderr.write(tty ? `\r${progressLine(p)}\x1b[K` : `${progressLine(p)}\n`);
    },
  }).finally(() => process.off('SIGINT', onSigint));
  if (tty) process.stderr.write('\n');
  console.log(`${r.dir}: ${method} exits fitted on ${r.data.trainTokens} tokens (${r.data.source}), ${r.steps} steps, ${r.fitTokensPerSecond.toFixed(0)} tokens/s`);
  console.log('layer  val CE (fitted / logit lens)  top-1 agreement with the final layer (fitted / logit lens)');
  for (const l of r.layers) {
    console.log(
      `${String(l.layer).padStart(5)}  ${l.validationLoss.toFixed(4)} / ${l.logitLensValidationLoss.toFixed(4)}          ${(100 * l.top1Agreement).toFixed(1)}% / ${(100 * l.logitLensTop1Agreement).toFixed(1)}%`,
    );
  }
  console.log(`final layer val CE ${r.finalValidationLoss.toFixed(4)}`);
}

/** Where a gradient fit keeps its checkpoint when no --checkpoint-dir is given: one folder per model, method and layers. */
function defaultCheckpointDir(model: string, method: string, layers: readonly number[]): string {
  const id = createHash('sha256').update(JSON.stringify([resolve(model), method, layers])).digest('hex').slice(0, 16);
  return join(cacheDir(), 'fit-checkpoints', id);
}
