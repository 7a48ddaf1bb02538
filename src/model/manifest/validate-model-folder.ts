/**
 * Validates a model folder: the manifest, the files it names, and the ONNX graph's inputs and
 * outputs (names and declared shapes, read with onnxruntime-node).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { checkManifest } from './check-manifest';
import { blockName, MANIFEST_FILE, type ModelManifest } from './manifest-types';
import { ModelFolderError } from './model-folder-error';

/** Options of {@link validateModelFolder}. */
export interface ValidateOptions {
  /**
   * Load the graph with onnxruntime-node to check its inputs and outputs (default true). This
   * reads all weights; pass false for a quick check of the manifest and files only.
   */
  readonly loadGraph?: boolean;
}

/** A folder that passed validation. */
export interface ValidModelFolder {
  /** Absolute folder path. */
  readonly dir: string;
  /** The manifest. */
  readonly manifest: ModelManifest;
  /** Absolute path of the ONNX graph. */
  readonly graphPath: string;
  /** Absolute path of the tokenizer file, or null. */
  readonly tokenizerPath: string | null;
}

type Meta = readonly ort.InferenceSession.ValueMetadata[];

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isFile();
  } catch {
    return false;
  }
}

function shapeText(s: readonly (number | string)[]): string {
  return `[${s.map((d) => (typeof d === 'number' ? d : JSON.stringify(d))).join(', ')}]`;
}

/**
 * Checks a declared shape: its rank, and each fixed dimension where `expected` has a number
 * (symbolic dimensions and `null` expectations accept anything).
 */
function checkShape(problems: string[], what: string, meta: Meta, name: string, expected: readonly (number | null)[]): void {
  const m = meta.find((x) => x.name === name);
  if (!m || !m.isTensor || m.shape.length === 0) return;
  const bad =
    m.shape.length !== expected.length ||
    expected.some((e, i) => e !== null && typeof m.shape[i] === 'number' && m.shape[i] !== e);
  if (bad) {
    const exp = `[${expected.map((e) => (e === null ? '?' : e)).join(', ')}]`;
    problems.push(`${what} "${name}" has shape ${shapeText(m.shape)}, the manifest implies ${exp}`);
  }
}

function checkGraphInterface(m: ModelManifest, inputs: Meta, outputs: Meta): string[] {
  const p: string[] = [];
  const io = m.graph.io;
  const inNames = new Set(inputs.map((x) => x.name));
  const outNames = new Set(outputs.map((x) => x.name));
  const needIn = [io.inputIds, io.attentionMask, io.positionIds];
  for (let i = 0; i < m.numLayers; i++) needIn.push(blockName(io.pastKey, i), blockName(io.pastValue, i));
  if (m.graph.logitPositions === 'input' && io.numLogitsToKeep) needIn.push(io.numLogitsToKeep);
  const missingIn = needIn.filter((n) => !inNames.has(n));
  if (missingIn.length > 0) {
    p.push(`graph ${m.graph.file} lacks input(s) ${missingIn.map((n) => `"${n}"`).join(', ')}; its inputs are ${[...inNames].map((n) => `"${n}"`).join(', ')}`);
  }
  const extraIn = [...inNames].filter((n) => !needIn.includes(n));
  if (extraIn.length > 0) p.push(`graph ${m.graph.file} has unexpected input(s) ${extraIn.map((n) => `"${n}"`).join(', ')}`);
  const needOut = [io.logits];
  for (let i = 0; i < m.numLayers; i++) needOut.push(blockName(io.presentKey, i), blockName(io.presentValue, i));
  for (const e of m.exits) {
    if (e.hiddenOutput) needOut.push(e.hiddenOutput);
    if (e.logitsOutput) needOut.push(e.logitsOutput);
  }
  const missingOut = needOut.filter((n) => !outNames.has(n));
  if (missingOut.length > 0) p.push(`graph ${m.graph.file} lacks output(s) ${missingOut.map((n) => `"${n}"`).join(', ')}`);

  const { numKvHeads: kv, headDim: hd, vocabSize: V, hiddenSize: d } = m;
  for (let i = 0; i < m.numLayers; i++) {
    for (const t of [io.pastKey, io.pastValue]) checkShape(p, 'input', inputs, blockName(t, i), [null, kv, null, hd]);
    for (const t of [io.presentKey, io.presentValue]) checkShape(p, 'output', outputs, blockName(t, i), [null, kv, null, hd]);
  }
  checkShape(p, 'input', inputs, io.inputIds, [null, null]);
  checkShape(p, 'input', inputs, io.attentionMask, [null, null]);
  checkShape(p, 'output', outputs, io.logits, [null, null, V]);
  for (const e of m.exits) {
    if (e.hiddenOutput) checkShape(p, 'output', outputs, e.hiddenOutput, [null, null, d]);
    if (e.logitsOutput) checkShape(p, 'output', outputs, e.logitsOutput, [null, null, V]);
  }
  for (const [name, meta] of [[io.inputIds, inputs], [io.attentionMask, inputs], [io.positionIds, inputs]] as const) {
    const x = meta.find((v) => v.name === name);
    if (x && x.isTensor && x.type !== 'int64') p.push(`input "${name}" must be int64 (is ${x.type})`);
  }
  return p;
}

/**
 * Validates the model folder `dir` and returns its manifest. Throws a {@link ModelFolderError}
 * listing every problem found: missing folder, manifest or files; a manifest that is not valid
 * JSON or breaks the format; exits out of range; graph inputs/outputs missing or misnamed; declared
 * shapes that disagree with the manifest.
 */
export async function validateModelFolder(dir: string, options: ValidateOptions = {}): Promise<ValidModelFolder> {
  const abs = path.resolve(dir);
  let st;
  try {
    st = await fs.stat(abs);
  } catch {
    throw new ModelFolderError(abs, ['folder does not exist']);
  }
  if (!st.isDirectory()) throw new ModelFolderError(abs, ['not a folder']);
  const manifestPath = path.join(abs, MANIFEST_FILE);
  let text: string;
  try {
    text = await fs.readFile(manifestPath, 'utf8');
  } catch {
    throw new ModelFolderError(abs, [`missing ${MANIFEST_FILE}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelFolderError(abs, [`${MANIFEST_FILE} is not valid JSON (${(e as Error).message})`]);
  }
  const problems = checkManifest(json);
  if (problems.length > 0) throw new ModelFolderError(abs, problems);
  const m = json as ModelManifest;

  const files: [string, string][] = [['graph', m.graph.file]];
  if (m.graph.externalData) files.push(['external data', m.graph.externalData]);
  if (m.tokenizer.file) files.push(['tokenizer', m.tokenizer.file]);
  if (m.tokenizer.configFile) files.push(['tokenizer config', m.tokenizer.configFile]);
  for (const [what, name] of files) {
    if (path.basename(name) !== name) problems.push(`${what} file "${name}" must be a plain file name inside the folder`);
    else if (!(await isFile(path.join(abs, name)))) problems.push(`missing ${what} file ${name}`);
  }
  if (problems.length > 0) throw new ModelFolderError(abs, problems);

  const graphPath = path.join(abs, m.graph.file);
  if (options.loadGraph !== false) {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(graphPath, { graphOptimizationLevel: 'disabled' });
    } catch (e) {
      throw new ModelFolderError(abs, [`graph ${m.graph.file} cannot be loaded by ONNX Runtime: ${(e as Error).message}`]);
    }
    try {
      problems.push(...checkGraphInterface(m, session.inputMetadata, session.outputMetadata));
    } finally {
      await session.release();
    }
    if (problems.length > 0) throw new ModelFolderError(abs, problems);
  }
  return { dir: abs, manifest: m, graphPath, tokenizerPath: m.tokenizer.file ? path.join(abs, m.tokenizer.file) : null };
}
