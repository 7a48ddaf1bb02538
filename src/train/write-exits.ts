/**
 * Writing fitted exits into a model folder (or a copy of it), atomically: the folder's graph gets a graph
 * extension appended (the exits' nodes, initializers and outputs; protobuf merges it into the graph), the fitted
 * weights go into a new external-data file, and the manifest records each exit with its fit. Everything is
 * written into a temporary sibling folder (the unchanged files hard-linked, or copied across file systems),
 * loaded once by ONNX Runtime, then renamed into place; a failure (a full disk included) leaves the original
 * folder as it was and nothing else behind.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { encodeGraphExtension } from '../model/graph/onnx/onnx-proto-encoder';
import { OnnxDataType, type NodeDef, type TensorDef, type ValueInfo } from '../model/graph/onnx/onnx-types';
import { MANIFEST_FILE, type FitRecord, type ManifestExit, type ModelManifest } from '../model/manifest/manifest-types';
import { exitHidden, type FitMethod } from './exit-nodes';
import { FitError } from './fit-error';
import type { GraphTaps } from './graph-taps';
import { newGraph } from './ort-graph';

/** The parameters of one fitted exit. */
export interface FittedExit {
  /** Exit layer. */
  readonly layer: number;
  /** Method. */
  readonly method: FitMethod;
  /** `head`: the head `[V x d]` and optional bias `[V]`. */
  readonly head?: { readonly W: Float32Array; readonly b?: Float32Array };
  /** `lens` / `linear`: the translator, `At` = A^T `[d x d]` and `b` `[d]`. */
  readonly translator?: { readonly At: Float32Array; readonly b: Float32Array };
  /** What the manifest records. */
  readonly record: FitRecord;
}

/** Options of {@link writeFittedExits}. */
export interface WriteExitsOptions {
  /** Write a new folder here instead of updating the model folder in place. */
  readonly out?: string;
}

const ALIGN = 4096;

/** Builds the graph extension and the data file contents for `exits`. */
function buildExtension(m: ModelManifest, taps: GraphTaps, exits: readonly FittedExit[], tag: string, dataFile: string) {
  const { g, ops } = newGraph(tag);
  const d = m.hiddenSize;
  const V = m.vocabSize;
  const names = { weight: taps.norm.weight, bias: taps.norm.bias };
  const params = new Map<string, { data: Float32Array; dims: number[] }>();
  const outputs: ValueInfo[] = [];
  const exitEntries: ManifestExit[] = [];
  const headSpecs: { layer: number; kind: 'head'; weight: string; bias?: string }[] = [];
  for (const e of exits) {
    const h = taps.residuals.get(e.layer);
    if (!h) throw new Error(`no residual tapped for layer ${e.layer}`);
    const out = `exit.${e.layer}.${tag}.hidden`;
    if (e.head) {
      const weight = `${tag}.exit_heads.${e.layer}.weight`;
      params.set(weight, { data: e.head.W, dims: [V, d] });
      let bias: string | undefined;
      if (e.head.b) params.set((bias = `${tag}.exit_heads.${e.layer}.bias`), { data: e.head.b, dims: [V] });
      exitHidden(ops, taps.norm, names, h, undefined, out);
      // ONNX Runtime warns about (and drops) initializers no node reads; the head is read by the sparse amateur
      // from the data file, so a Shape node keeps it referenced.
      for (const [i, t] of (bias ? [weight, bias] : [weight]).entries()) {
        const shapeOut = `exit.${e.layer}.${tag}.head_shape${i}`;
        g.node('Shape', [t], {}, { outputs: [shapeOut] });
        outputs.push({ name: shapeOut, elemType: OnnxDataType.INT64, shape: [i === 0 ? 2 : 1] });
      }
      headSpecs.push({ layer: e.layer, kind: 'head', weight, bias });
      exitEntries.push({ layer: e.layer, kind: 'head', hiddenOutput: out, fit: e.record });
    } else if (e.translator) {
      const At = `${tag}.exit_translators.${e.layer}.At`;
      const b = `${tag}.exit_translators.${e.layer}.b`;
      params.set(At, { data: e.translator.At, dims: [d, d] });
      params.set(b, { data: e.translator.b, dims: [d] });
      exitHidden(ops, taps.norm, names, h, { At, b }, out);
      exitEntries.push({ layer: e.layer, kind: 'conversion', hiddenOutput: out, fit: e.record });
    } else {
      throw new Error(`fitted exit ${e.layer} has no parameters`);
    }
    outputs.push({ name: out, elemType: OnnxDataType.FLOAT, shape: ['batch', 'positions', d] });
  }
  // Names the builder made up (constants, intermediate values, node names) get the tag, so they cannot collide
  // with the graph being extended.
  const rename = new Map<string, string>();
  for (const i of g.initializers) rename.set(i.name, `${tag}/${i.name}`);
  for (const n of g.nodes) for (const o of n.outputs) if (!o.startsWith('exit.')) rename.set(o, `${tag}/${o}`);
  const r = (s: string) => rename.get(s) ?? s;
  const nodes: NodeDef[] = g.nodes.map((n) => ({ ...n, name: `${tag}/${n.name}`, inputs: n.inputs.map(r), outputs: n.outputs.map(r) }));
  return { nodes, consts: g.initializers, params, outputs, exitEntries, headSpecs, dataFile };
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

/** Hard-links `src` to `dst`, or copies it when linking is not possible (another file system). */
async function linkOrCopy(src: string, dst: string): Promise<void> {
  try {
    await fs.link(src, dst);
  } catch {
    await fs.copyFile(src, dst);
  }
}

/**
 * Writes `exits` into the model folder `dir` (in place, or as a new folder `options.out`), replacing the exits
 * at those layers in the manifest. Returns the folder and its new manifest.
 * @throws {FitError} E_FIT_DISK when the disk fills up, E_FIT_OUT when the output folder exists or cannot be
 * written; the model folder is unchanged then and no temporary files remain.
 */
export async function writeFittedExits(
  dir: string,
  m: ModelManifest,
  taps: GraphTaps,
  exits: readonly FittedExit[],
  options: WriteExitsOptions = {},
): Promise<{ dir: string; manifest: ModelManifest }> {
  const src = path.resolve(dir);
  const target = path.resolve(options.out ?? dir);
  if (options.out && (await exists(target))) throw new FitError('E_FIT_OUT', `--out ${options.out}: already exists (give a new folder)`);
  const tag = `fit_${randomBytes(4).toString('hex')}`;
  const dataFile = `${tag}.data`;
  const ext = buildExtension(m, taps, exits, tag, dataFile);
  const parent = path.dirname(target);
  const tmp = path.join(parent, `.${path.basename(target)}.${tag}.tmp`);
  let bytesNeeded = 0;
  for (const p of ext.params.values()) bytesNeeded += p.data.byteLength + ALIGN;
  try {
    await fs.mkdir(parent, { recursive: true });
    await fs.mkdir(tmp);
    for (const f of await fs.readdir(src)) {
      if (f === MANIFEST_FILE || f === m.graph.file || f.startsWith('.')) continue;
      const st = await fs.stat(path.join(src, f));
      if (st.isFile()) await linkOrCopy(path.join(src, f), path.join(tmp, f));
    }
    // The fitted weights, each at an aligned offset of the new data file.
    const tensors: TensorDef[] = [];
    const fh = await fs.open(path.join(tmp, dataFile), 'w');
    try {
      let offset = 0;
      for (const [name, p] of ext.params) {
        offset = Math.ceil(offset / ALIGN) * ALIGN;
        const bytes = new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength);
        let done = 0;
        while (done < bytes.length) done += (await fh.write(bytes, done, bytes.length - done, offset + done)).bytesWritten;
        tensors.push({ name, dataType: OnnxDataType.FLOAT, dims: p.dims, external: { location: dataFile, offset, length: bytes.length } });
        offset += bytes.length;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    for (const c of ext.consts) tensors.push({ name: `${tag}/${c.name}`, dataType: c.source.dataType, dims: c.source.dims, raw: await c.source.bytes() });
    const graphBytes = Buffer.concat([
      await fs.readFile(path.join(src, m.graph.file)),
      encodeGraphExtension({ nodes: ext.nodes, initializers: tensors, outputs: ext.outputs }),
    ]);
    await fs.writeFile(path.join(tmp, m.graph.file), graphBytes);
    const fittedLayers = new Set(exits.map((e) => e.layer));
    const config = m.config as (Record<string, unknown> & { exits?: { layer: number }[] }) | undefined;
    const manifest: ModelManifest = {
      ...m,
      exits: [...m.exits.filter((e) => !fittedLayers.has(e.layer)), ...ext.exitEntries].sort((a, b) => a.layer - b.layer),
      ...(config && ext.headSpecs.length > 0
        ? { config: { ...config, exits: [...(config.exits ?? []).filter((e) => !ext.headSpecs.some((h) => h.layer === e.layer)), ...ext.headSpecs] } as unknown as ModelManifest['config'] }
        : {}),
    };
    await fs.writeFile(path.join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    // The extended graph must load before it replaces anything.
    const s = await ort.InferenceSession.create(path.join(tmp, m.graph.file), { graphOptimizationLevel: 'disabled' });
    const missing = ext.outputs.filter((o) => !s.outputNames.includes(o.name));
    await s.release();
    if (missing.length > 0) throw new Error(`the extended graph lacks outputs ${missing.map((o) => o.name).join(', ')}`);
    if (options.out) {
      await fs.rename(tmp, target);
    } else {
      const old = path.join(parent, `.${path.basename(target)}.${tag}.old`);
      await fs.rename(target, old);
      await fs.rename(tmp, target);
      await fs.rm(old, { recursive: true, force: true });
    }
    return { dir: target, manifest };
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC') {
      throw new FitError('E_FIT_DISK', `not enough disk space to write the fitted exits into ${target} (about ${Math.ceil(bytesNeeded / 2 ** 20)} MB of weights plus the graph); the model folder is unchanged`);
    }
    if (e instanceof FitError) throw e;
    if (['EACCES', 'EPERM', 'EROFS'].includes((e as NodeJS.ErrnoException).code ?? '')) {
      throw new FitError('E_FIT_OUT', `cannot write into ${parent}: ${(e as Error).message}`);
    }
    throw e;
  }
}
