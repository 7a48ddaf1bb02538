/**
 * `autocontrast convert <file.gguf | hf-folder> --out DIR [--exits L1,L2] [--heads FILE] [--force]`.
 */
import { convert } from '../../model/convert/convert';
import { isWeightForm, WEIGHT_FORMS } from '../../model/graph/weight-forms';
import { optionValue, parseArgs } from '../args';
import { ProgressBar } from '../progress-bar';
import { UsageError } from '../usage-error';

/** Help text of `convert`. */
export const CONVERT_HELP = `Usage: autocontrast convert <file.gguf | hf-folder> --out DIR [options]

Converts a GGUF file (llama, SmolLM2, Qwen2, Mistral-style) or a Hugging Face checkpoint folder
(config.json + *.safetensors: GPT-2, Llama family, the reference package's multi-exit checkpoints)
into a multi-exit ONNX model folder.

Options:
  --out DIR         output model folder (required; must not exist unless --force)
  --exits L1,L2     exit layers (default: the checkpoint's trained heads, else every layer; "all")
  --heads FILE      safetensors file with trained heads exit_heads.{L}.weight [vocab, hidden]
  --exit-outputs K  both (default: exit.{L}.hidden and exit.{L}.logits) or hidden (cheaper steps)
  --exit-kind K     lens (default: final norm, then the LM head) or raw (the LM head without the final norm:
                    transformers' DoLa exits)
  --weights W       float32 (default: all weights dequantised); q4: GGUF Q4_0/Q4_1 matrices stay
                    4-bit (ONNX Runtime MatMulNBits) with float activations (faithful); q4-fast: the
                    same with int8 activations (faster, not faithful); q4-sym: the 4-bit matrices
                    re-quantised to symmetric blocks as onnxruntime-genai's builder does, int8
                    activations (fastest, not the model's values); other tensors stay float32
  --accuracy-level N  MatMulNBits accuracy_level with --weights q4 (0 float: default, 4 int8)
  --graph G         fused (default: ONNX Runtime contrib operators where the architecture has them)
                    or reference (standard ONNX operators only)
  --force           replace DIR when it exists
  -h, --help        this help`;

/** Runs `convert`. */
export async function runConvert(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, { out: 'value', exits: 'value', heads: 'value', 'exit-outputs': 'value', 'exit-kind': 'value', weights: 'value', 'accuracy-level': 'value', graph: 'value', force: 'flag', help: 'flag' }, 'convert');
  if (args.options.has('help')) return void console.log(CONVERT_HELP);
  if (args.positional.length !== 1) throw new UsageError('convert: expected one input (a .gguf file or a Hugging Face checkpoint folder)');
  const out = optionValue(args, 'out');
  if (!out) throw new UsageError('convert: --out DIR is required');
  const weights = optionValue(args, 'weights');
  if (weights !== undefined && !isWeightForm(weights)) throw new UsageError(`convert: --weights must be ${WEIGHT_FORMS.join(', ')} (got "${weights}")`);
  const exitKind = optionValue(args, 'exit-kind');
  if (exitKind !== undefined && exitKind !== 'lens' && exitKind !== 'raw') throw new UsageError(`convert: --exit-kind must be lens or raw (got "${exitKind}")`);
  const level = optionValue(args, 'accuracy-level');
  if (level !== undefined && !['0', '1', '2', '3', '4'].includes(level)) throw new UsageError(`convert: --accuracy-level must be 0 to 4 (got "${level}")`);
  if (level !== undefined && weights !== 'q4') throw new UsageError(`convert: --accuracy-level goes with --weights q4 (got --weights ${weights ?? 'float32'})`);
  const graphForm = optionValue(args, 'graph');
  if (graphForm !== undefined && graphForm !== 'fused' && graphForm !== 'reference') throw new UsageError(`convert: --graph must be fused or reference (got "${graphForm}")`);
  const bar = new ProgressBar();
  let res;
  try {
    res = await convert(args.positional[0], {
      out,
      exits: optionValue(args, 'exits'),
      heads: optionValue(args, 'heads'),
      exitOutputs: optionValue(args, 'exit-outputs') as 'both' | 'hidden' | undefined,
      exitKind: exitKind as 'lens' | 'raw' | undefined,
      overwrite: args.options.has('force'),
      ...(level !== undefined
        ? { quantized: 'q4' as const, matMulNBits: { accuracyLevel: Number(level) as 0 | 1 | 2 | 3 | 4 } }
        : weights !== undefined ? { weightForm: weights } : {}),
      ...(graphForm !== undefined ? { graphForm } : {}),
      onProgress: (done, total) => bar.update('writing weights', done, total),
      onWarning: (w) => process.stderr.write(`warning: ${w}\n`),
    });
  } finally {
    bar.done();
  }
  const m = res.manifest;
  console.log(
    `${res.dir}: ${m.architecture}, ${m.numLayers} layers, exits ${m.exits.map((e) => `${e.layer}${e.kind === 'lens' ? '' : `(${e.kind})`}`).join(',')}, ` +
      `${m.weights ? `weights ${m.weights.form}, ` : ''}${m.graph.form ?? 'reference'} graph, ` +
      `${(res.bytesWritten / 1048576).toFixed(1)} MB in ${res.seconds.toFixed(1)} s`,
  );
}
