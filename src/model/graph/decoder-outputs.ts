/**
 * The LM head and the exit outputs shared by every decoder builder: `logits` and, per exit,
 * `exit.{L}.hidden` / `exit.{L}.logits`.
 */
import type { DecoderConfigBase, ExitKind, ExitSpec, LogitPositions } from './decoder-config';
import { selectPositions, type DecoderInputs } from './decoder-inputs';
import { DIM, exitHiddenName, exitLogitsName, IO } from './io-names';
import { projectRows } from './layers';
import { OnnxDataType, type Dim } from './onnx/onnx-types';
import type { Ops } from './onnx/ops';
import type { WeightReader } from './weight-reader';

/** One exit as built: which outputs carry it. */
export interface BuiltExit {
  /** Exit layer (0..numLayers; block L's output, 0 = embeddings). */
  readonly layer: number;
  /** Exit kind. */
  readonly kind: ExitKind;
  /** Graph output with the vector the head multiplies (`[B, positions, d]`), when requested. */
  readonly hiddenOutput?: string;
  /** Graph output with the exit's logits (`[B, positions, V]`), when requested. */
  readonly logitsOutput?: string;
}

/** What the architecture builder provides to {@link buildDecoderOutputs}. */
export interface OutputContext {
  /** Operator helpers. */
  readonly ops: Ops;
  /** Weight access. */
  readonly reader: WeightReader;
  /** Declared inputs. */
  readonly inputs: DecoderInputs;
  /** Model hyper-parameters. */
  readonly config: DecoderConfigBase;
  /** Positions covered by the outputs. */
  readonly positions: LogitPositions;
  /** Applies the model's final norm. */
  readonly finalNorm: (x: string, out?: string) => string;
  /** The LM head: `[B, positions, d]` -> `[B, positions, V]` (see {@link WeightReader.headProjection}). */
  readonly lmHead: (x: string, out?: string) => string;
}

/** The declared positions dimension of outputs for a {@link LogitPositions} mode. */
export function positionsDim(mode: LogitPositions): Dim {
  return mode === 'all' ? DIM.sequence : mode === 'last' ? 1 : DIM.logitPositions;
}

/** Checks exit specs against the layer count: integer layers in 0..numLayers, no layer twice. */
export function checkExitSpecs(exits: readonly ExitSpec[], numLayers: number): void {
  const seen = new Set<number>();
  for (const e of exits) {
    if (!Number.isInteger(e.layer) || e.layer < 0 || e.layer > numLayers) {
      throw new RangeError(`exit layer ${e.layer} is out of range: layers are 0..${numLayers} (0 = embeddings, ${numLayers} = last block)`);
    }
    if (seen.has(e.layer)) throw new RangeError(`exit layer ${e.layer} is requested twice`);
    const kind: string = e.kind;
    if (kind !== 'lens' && kind !== 'head' && kind !== 'conversion' && kind !== 'raw') {
      throw new RangeError(`exit layer ${e.layer}: unknown kind "${kind}" (lens, head, conversion or raw)`);
    }
    seen.add(e.layer);
  }
}

/**
 * Adds `logits` and every exit's outputs. `hiddens[L]` is the residual stream after block L
 * (`hiddens[0]` = embeddings).
 */
export function buildDecoderOutputs(ctx: OutputContext, hiddens: readonly string[], exits: readonly ExitSpec[]): BuiltExit[] {
  const { ops, reader, config } = ctx;
  const g = ops.g;
  const n = config.numLayers;
  const d = config.hiddenSize;
  const V = config.vocabSize;
  checkExitSpecs(exits, n);
  const P = positionsDim(ctx.positions);
  const hiddenShape = [DIM.batch, P, d];
  const logitsShape = [DIM.batch, P, V];
  const F = OnnxDataType.FLOAT;
  const selected = (L: number) => selectPositions(ops, hiddens[L], ctx.positions, ctx.inputs);

  const finalNormed = ctx.finalNorm(selected(n));
  const vocab = ctx.lmHead;
  vocab(finalNormed, IO.logits);
  g.output(IO.logits, F, logitsShape);

  const built: BuiltExit[] = [];
  for (const e of exits) {
    const L = e.layer;
    const wantHidden = e.hidden !== false;
    const wantLogits = e.logits !== false;
    const hiddenName = wantHidden ? exitHiddenName(L) : undefined;
    const logitsName = wantLogits ? exitLogitsName(L) : undefined;
    const normed = (out?: string) => (L === n ? finalNormed : ctx.finalNorm(selected(L), out));
    let hidden: string;
    let logits: string | undefined;
    if (e.kind === 'lens') {
      hidden = normed(hiddenName);
      if (wantLogits) logits = L === n ? IO.logits : vocab(hidden, logitsName);
    } else if (e.kind === 'head') {
      const wName = e.weight ?? `exit_heads.${L}.weight`;
      const matrix = reader.initializer(wName, [V, d]);
      const bias = e.bias ? reader.initializer(e.bias, [V]) : undefined;
      hidden = e.applyFinalNorm === false ? selected(L) : normed(hiddenName);
      if (wantLogits) logits = projectRows(ops, hidden, matrix, V, d, bias, logitsName);
    } else if (e.kind === 'raw') {
      hidden = selected(L);
      if (wantLogits) logits = vocab(hidden, logitsName);
    } else {
      const wName = e.weight ?? `exit_conversions.${L}.weight`;
      const conv = reader.fusedLinear(`${wName}.transposed`, [{ name: wName, dims: [d, d] }]);
      hidden = ops.matMul(normed(), conv, hiddenName);
      if (wantLogits) logits = vocab(hidden, logitsName);
    }
    if (hiddenName) g.outputAs(hidden, hiddenName, F, hiddenShape);
    if (logitsName && logits) g.outputAs(logits, logitsName, F, logitsShape);
    built.push({ layer: L, kind: e.kind, hiddenOutput: hiddenName, logitsOutput: logitsName });
  }
  return built;
}
