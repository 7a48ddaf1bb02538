/**
 * Collects the inputs, outputs, initializers and nodes of one ONNX graph. Op helpers live in
 * `ops.ts`; writing to disk lives in `write-onnx-model.ts`.
 */
import type { AttributeValue, Dim, NodeDef, OnnxDataTypeCode, OpsetImport, ValueInfo } from './onnx-types';
import { int64Source, float32Source, type TensorSource } from './tensor-source';

/** Options for {@link GraphBuilder.node}. */
export interface NodeOptions {
  /** Output names (defaults to fresh names). Their count sets the number of outputs. */
  readonly outputs?: readonly string[];
  /** Number of fresh outputs when `outputs` is not given (default 1). */
  readonly outputCount?: number;
  /** Operator domain (default ''). */
  readonly domain?: string;
}

/** A registered initializer. */
export interface InitializerEntry {
  /** Initializer name. */
  readonly name: string;
  /** Its contents. */
  readonly source: TensorSource;
}

/** Builds one ONNX graph in memory (structure only; initializer bytes stay lazy). */
export class GraphBuilder {
  /** Graph nodes in insertion (topological) order. */
  readonly nodes: NodeDef[] = [];
  /** Graph inputs. */
  readonly inputs: ValueInfo[] = [];
  /** Graph outputs. */
  readonly outputs: ValueInfo[] = [];
  /** Initializers in insertion order. */
  readonly initializers: InitializerEntry[] = [];
  /** Operator sets used; the default domain's version is set by the constructor. */
  readonly opsets = new Map<string, number>();
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly constCache = new Map<string, string>();

  /**
   * @param name graph name
   * @param opset default-domain operator set version (17 by default)
   */
  constructor(readonly name: string, opset = 17) {
    this.opsets.set('', opset);
  }

  /** The default-domain operator set version. */
  get opset(): number {
    return this.opsets.get('') ?? 17;
  }

  /** The operator-set imports, for the ModelProto. */
  opsetImports(): OpsetImport[] {
    return [...this.opsets].map(([domain, version]) => ({ domain, version }));
  }

  /** Declares that an operator domain is used (e.g. `com.microsoft`, version 1). */
  useDomain(domain: string, version: number): void {
    this.opsets.set(domain, version);
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`graph ${this.name}: value name "${name}" is already used`);
    this.used.add(name);
    return name;
  }

  /** A fresh, unused value name starting with `prefix`. */
  fresh(prefix: string): string {
    let n = this.counters.get(prefix) ?? 0;
    let name: string;
    do name = `${prefix}_${n++}`;
    while (this.used.has(name));
    this.counters.set(prefix, n);
    return this.claim(name);
  }

  /** Declares a graph input and returns its name. */
  input(name: string, elemType: OnnxDataTypeCode, shape: readonly Dim[]): string {
    this.inputs.push({ name: this.claim(name), elemType, shape });
    return name;
  }

  /**
   * Declares a graph output. The value must be produced by a node (name it with the `name`
   * argument of an op helper, or use {@link GraphBuilder.outputAs}).
   */
  output(name: string, elemType: OnnxDataTypeCode, shape: readonly Dim[]): void {
    this.outputs.push({ name, elemType, shape });
  }

  /**
   * Exposes `value` as graph output `name`, adding an Identity node when the value already has a
   * different name.
   */
  outputAs(value: string, name: string, elemType: OnnxDataTypeCode, shape: readonly Dim[]): void {
    if (value !== name) this.node('Identity', [value], {}, { outputs: [name] });
    this.output(name, elemType, shape);
  }

  /** Registers an initializer and returns its name. */
  initializer(name: string, source: TensorSource): string {
    this.initializers.push({ name: this.claim(name), source });
    return name;
  }

  /** A small int64 constant initializer (shared between identical requests). */
  constInt64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('const_i64');
    this.initializers.push({ name, source: int64Source(values, dims) });
    this.constCache.set(key, name);
    return name;
  }

  /** A small float32 constant initializer (shared between identical requests). */
  constFloat(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `f32:${dims.join('x')}:${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('const_f32');
    this.initializers.push({ name, source: float32Source(values, dims) });
    this.constCache.set(key, name);
    return name;
  }

  /** A float32 scalar constant (shape []). */
  scalar(value: number): string {
    return this.constFloat([value], []);
  }

  /** Adds a node and returns its output names. */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, AttributeValue>> = {},
    options: NodeOptions = {},
  ): string[] {
    const outputs = options.outputs
      ? options.outputs.map((o) => this.claim(o))
      : Array.from({ length: options.outputCount ?? 1 }, () => this.fresh(opType.toLowerCase()));
    const domain = options.domain ?? '';
    if (domain && !this.opsets.has(domain)) throw new Error(`graph ${this.name}: domain ${domain} not declared`);
    this.nodes.push({
      opType,
      domain,
      name: `${opType}_${this.nodes.length}`,
      inputs: [...inputs],
      outputs,
      attributes,
    });
    return outputs;
  }

  /**
   * Checks the graph's wiring: every node input is a graph input, an initializer or the output
   * of an earlier node (topological order), and every graph output is produced. Throws on the
   * first problem.
   */
  validate(): void {
    const known = new Set<string>([...this.inputs.map((i) => i.name), ...this.initializers.map((i) => i.name)]);
    for (const n of this.nodes) {
      for (const i of n.inputs) {
        if (i !== '' && !known.has(i)) throw new Error(`graph ${this.name}: node ${n.name} (${n.opType}) reads "${i}" before it is produced`);
      }
      for (const o of n.outputs) known.add(o);
    }
    const seen = new Set<string>();
    for (const o of this.outputs) {
      if (!known.has(o.name)) throw new Error(`graph ${this.name}: output "${o.name}" is never produced`);
      if (seen.has(o.name)) throw new Error(`graph ${this.name}: output "${o.name}" is declared twice`);
      seen.add(o.name);
    }
  }
}
