/**
 * DoLa's form of a decoder graph: the same model with its LM head product removed. In DoLa (and `amateurLayer:
 * 'auto'`) every step projects the candidate layers' hidden states with the model's head; the native kernel can
 * project the final layer's hidden state in the same pass (the head read once per step for all layers) instead of
 * the graph reading it a second time for `logits`. The graph keeps a `logits` output of the same shape (the
 * runtime binds it) filled with zeros by `ConstantOfShape`, which costs a memset, not a product over the head.
 *
 * The edit is made on the ModelProto bytes: the graph's node fields that compute `logits` from the head's input
 * are dropped (everything else is copied byte for byte, external-data references included), and four nodes are
 * appended as a second `graph` field, which protobuf merges into the first (as src/train/write-exits.ts does).
 */
import { encodeGraphExtension } from './onnx-proto-encoder';
import { attr, OnnxDataType, type NodeDef, type ValueInfo } from './onnx-types';
import { protobufFields as fields, type ProtobufField as Field } from './protobuf-reader';
import { ProtobufWriter } from './protobuf-writer';

/** Where a model's head sits: the tensor it multiplies and the output it writes. */
export interface HeadSpan {
  /** The hidden-state tensor (`[batch, positions, d]`) the head multiplies (the final norm's output). */
  readonly input: string;
  /** The graph output the head writes (`logits`, `[batch, positions, V]`). */
  readonly output: string;
  /** Vocabulary size V. */
  readonly vocabSize: number;
  /**
   * When set, `input` also becomes a graph output of this name (`[batch, positions, d]` float32), for graphs
   * without an exit that outputs it.
   */
  readonly exposeInputAs?: string;
  /** Hidden width d (with `exposeInputAs`). */
  readonly hiddenSize?: number;
}

const text = (buf: Uint8Array, f: Field) => Buffer.from(buf.buffer, buf.byteOffset + f.body!.start, f.body!.end - f.body!.start).toString('utf8');

/**
 * The model without the nodes that compute `head.output` from `head.input` (and nothing else), and with
 * `head.output` written as zeros of shape `[batch, positions, V]` (`head.input`'s first two dimensions, then V).
 * @throws RangeError when the graph does not have that shape of head: `head.output` not computed from
 *   `head.input`, more than 32 nodes that only it reads, or a default-domain opset below 15 (Shape's `end`).
 */
export function graphWithoutHead(model: Uint8Array, head: HeadSpan): Uint8Array {
  const top = fields(model, 0, model.length);
  const opset = top
    .filter((f) => f.field === 8 && f.body)
    .map((f) => {
      let domain = '';
      let version = 0;
      for (const g of fields(model, f.body!.start, f.body!.end)) {
        if (g.field === 1 && g.body) domain = text(model, g);
        else if (g.field === 2) version = g.value ?? 0;
      }
      return { domain, version };
    })
    .find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!opset || opset.version < 15) throw new RangeError(`the graph's opset ${opset?.version ?? '(none)'} is below 15`);
  const graphs = top.filter((f) => f.field === 7 && f.body);
  if (graphs.length !== 1) throw new RangeError(`expected one graph in the model, found ${graphs.length}`);
  const graph = graphs[0];
  const gfields = fields(model, graph.body!.start, graph.body!.end);

  const initializers = new Set<string>();
  const initializerOf = new Map<Field, string>();
  const nodes: { f: Field; inputs: string[]; outputs: string[] }[] = [];
  const graphOutputs = new Set<string>();
  for (const f of gfields) {
    if (f.field === 1 && f.body) {
      const inputs: string[] = [];
      const outputs: string[] = [];
      for (const g of fields(model, f.body.start, f.body.end)) {
        if (g.field === 1 && g.body) inputs.push(text(model, g));
        else if (g.field === 2 && g.body) outputs.push(text(model, g));
      }
      nodes.push({ f, inputs, outputs });
    } else if (f.field === 5 && f.body) {
      for (const g of fields(model, f.body.start, f.body.end)) {
        if (g.field === 8 && g.body) {
          initializers.add(text(model, g));
          initializerOf.set(f, text(model, g));
        }
      }
    } else if (f.field === 12 && f.body) {
      for (const g of fields(model, f.body.start, f.body.end)) if (g.field === 1 && g.body) graphOutputs.add(text(model, g));
    }
  }
  const producer = new Map<string, (typeof nodes)[number]>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);

  // The head: head.output's producer, then every node whose outputs only dropped nodes read (its shape
  // arithmetic, a flattening Reshape), back to head.input; nodes that the rest of the graph also reads stay.
  const consumers = new Map<string, (typeof nodes)[number][]>();
  for (const n of nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const first = producer.get(head.output);
  if (!first) throw new RangeError(`the graph has no node writing ${head.output}`);
  const drop = new Set([first]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const n of [...drop]) {
      for (const t of n.inputs) {
        const p = t === head.input ? undefined : producer.get(t);
        if (!p || drop.has(p)) continue;
        const exclusive = p.outputs.every((o) => !graphOutputs.has(o) && (consumers.get(o) ?? []).every((c) => drop.has(c)));
        if (exclusive) {
          drop.add(p);
          grew = true;
        }
      }
    }
    if (drop.size > 32) throw new RangeError(`${head.output} would take more than 32 nodes with it: ${head.input} is not its head's input`);
  }
  if (![...drop].some((n) => n.inputs.includes(head.input))) throw new RangeError(`${head.output} is not computed from ${head.input}`);
  const dropped = new Set([...drop].flatMap((n) => n.outputs));
  for (const o of dropped) if (o !== head.output && graphOutputs.has(o)) throw new RangeError(`'${o}' of the head is a graph output`);

  // The head's matrices, when nothing else reads them (ONNX Runtime would load them, then warn that they are unused).
  const stillUsed = new Set(nodes.filter((n) => !drop.has(n)).flatMap((n) => n.inputs));
  const unused = new Set([...drop].flatMap((n) => n.inputs).filter((i) => initializers.has(i) && !stillUsed.has(i) && !graphOutputs.has(i)));

  // The graph's fields without the head's nodes and matrices, then the zero-filled output as an appended graph part.
  const droppedFields = new Set<Field>([...drop].map((n) => n.f));
  const g = new ProtobufWriter(graph.body!.end - graph.body!.start);
  for (const f of gfields) {
    const init = initializerOf.get(f);
    if (droppedFields.has(f) || (init !== undefined && unused.has(init))) continue;
    g.raw(model.subarray(f.start, f.end));
  }
  const name = (s: string) => `without_head.${s}`;
  const node = (opType: string, inputs: string[], outputs: string[], attributes: NodeDef['attributes'] = {}): NodeDef => ({ opType, domain: '', name: name(outputs[0]), inputs, outputs, attributes });
  const vocab = new Uint8Array(new BigInt64Array([BigInt(head.vocabSize)]).buffer);
  const extra: NodeDef[] = [
    node('Shape', [head.input], [name('batch_positions')], { start: attr.int(0), end: attr.int(2) }),
    node('Constant', [], [name('vocab')], { value: attr.tensor({ name: name('vocab_value'), dataType: OnnxDataType.INT64, dims: [1], raw: vocab }) }),
    node('Concat', [name('batch_positions'), name('vocab')], [name('shape')], { axis: attr.int(0) }),
    node('ConstantOfShape', [name('shape')], [head.output], { value: attr.tensor({ name: name('zero'), dataType: OnnxDataType.FLOAT, dims: [1], raw: new Uint8Array(4) }) }),
  ];
  const w = new ProtobufWriter(model.length);
  for (const f of top) {
    if (f === graph) w.message(7, g.finish());
    else w.raw(model.subarray(f.start, f.end));
  }
  const outputs: ValueInfo[] = [];
  if (head.exposeInputAs) {
    if (graphOutputs.has(head.exposeInputAs) || producer.has(head.exposeInputAs)) throw new RangeError(`the graph already has a tensor named '${head.exposeInputAs}'`);
    extra.push(node('Identity', [head.input], [head.exposeInputAs]));
    outputs.push({ name: head.exposeInputAs, elemType: OnnxDataType.FLOAT, shape: ['batch', 'positions', head.hiddenSize ?? 'hidden'] });
  }
  w.raw(encodeGraphExtension({ nodes: extra, initializers: [], outputs }));
  return w.finish();
}
