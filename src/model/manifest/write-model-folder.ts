/**
 * Writes a complete model folder (graph, external data, tokenizer files, manifest) atomically:
 * everything goes into a temporary sibling folder that is renamed into place at the end, so a
 * failure never leaves a half-written model behind.
 */
import { randomBytes } from 'node:crypto';
import * as fsSync from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { buildDecoderGraph } from '../graph/build-decoder';
import type { DecoderBuildOptions, DecoderConfig, ExitSpec, GraphForm, LogitPositions } from '../graph/decoder-config';
import type { BuiltDecoderGraph } from '../graph/decoder-graph';
import { sourceByteLength, type WeightMap } from '../graph/onnx/tensor-source';
import { writeOnnxModel } from '../graph/onnx/write-onnx-model';
import { trackScratch } from '../scratch/scratch-paths';
import { manifestFromGraph } from './manifest-from-graph';
import { MANIFEST_FILE, type ModelManifest, type SpecialTokens } from './manifest-types';

/** What to write. */
export interface WriteModelFolderOptions {
  /** Architecture configuration. */
  readonly config: DecoderConfig;
  /** Weights by name (see the architecture builders for names and shapes). */
  readonly weights: WeightMap;
  /** Exits to add. */
  readonly exits?: readonly ExitSpec[];
  /** Positions of logits/exit outputs (default `all`). */
  readonly logitPositions?: LogitPositions;
  /** Default-domain opset (default 17). */
  readonly opset?: 17 | 18;
  /** Graph form (default `reference`; see {@link DecoderBuildOptions.graphForm}). */
  readonly graphForm?: GraphForm;
  /** Hugging Face `tokenizer.json` contents (string or parsed object), written as `tokenizer.json`. */
  readonly tokenizerJson?: string | object;
  /** `tokenizer_config.json` contents, written as `tokenizer_config.json`. */
  readonly tokenizerConfigJson?: string | object;
  /** Special token ids for the manifest. */
  readonly specialTokens?: SpecialTokens;
  /** Replace `dir` when it already exists (default false: an existing folder is an error). */
  readonly overwrite?: boolean;
  /** Progress of the weight data written (bytes done, bytes total). */
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** What {@link writeModelFolder} wrote. */
export interface WrittenModelFolder {
  /** Absolute folder path. */
  readonly dir: string;
  /** The manifest written. */
  readonly manifest: ModelManifest;
  /** The graph as built (interface description; its weights were written). */
  readonly built: BuiltDecoderGraph;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

function jsonText(v: string | object): string {
  return typeof v === 'string' ? v : `${JSON.stringify(v, null, 2)}\n`;
}

/** What to write besides an already built graph. */
export interface BuiltFolderOptions {
  /** tokenizer.json contents. */
  readonly tokenizerJson?: string | object;
  /** tokenizer_config.json contents. */
  readonly tokenizerConfigJson?: string | object;
  /** Special token ids. */
  readonly specialTokens?: SpecialTokens;
  /** Replaces the manifest's informational `config` (e.g. the full GPT-Neo configuration). */
  readonly manifestConfig?: object;
  /** Replace an existing model folder (never a folder without `autocontrast.json`, unless it is empty). */
  readonly overwrite?: boolean;
  /** Progress of the weight data written. */
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/**
 * May `target` be replaced? Only a model folder (it holds the manifest) or an empty folder: a mistyped path
 * must never delete someone's other files.
 */
async function checkReplaceable(target: string): Promise<void> {
  const st = await fs.lstat(target);
  if (!st.isDirectory()) throw new Error(`refusing to replace ${target}: it is not a folder`);
  const names = await fs.readdir(target);
  if (names.length > 0 && !names.includes(MANIFEST_FILE)) {
    throw new Error(`refusing to replace ${target}: it is not a model folder (no ${MANIFEST_FILE}) and it is not empty`);
  }
}

/** ENOSPC gets a message that says what was being written and roughly how much space it needs. */
function diskError(e: unknown, target: string, bytes: number): unknown {
  if ((e as NodeJS.ErrnoException)?.code !== 'ENOSPC') return e;
  const mb = Math.ceil(bytes / 2 ** 20);
  const err = new Error(`not enough disk space to write the model folder ${target} (it needs about ${mb} MB): ${(e as Error).message}`);
  (err as NodeJS.ErrnoException).code = 'ENOSPC';
  return err;
}

/**
 * Writes `built` (graph, external data) plus tokenizer files and the manifest as the model folder `dir`,
 * atomically: everything goes into a temporary sibling folder renamed into place at the end, so a failure
 * (a full disk included) leaves nothing behind.
 */
export async function writeBuiltFolder(dir: string, built: BuiltDecoderGraph, o: BuiltFolderOptions = {}): Promise<{ dir: string; manifest: ModelManifest }> {
  const target = path.resolve(dir);
  const existed = await exists(target);
  if (existed && !o.overwrite) throw new Error(`${target} already exists (pass overwrite: true to replace it)`);
  if (existed) await checkReplaceable(target);
  const parent = path.dirname(target);
  await fs.mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(parent, `.${path.basename(target)}.tmp-${tag}`);
  await fs.mkdir(tmp);
  // Removed on failure, and on exit or SIGINT/SIGTERM before the rename below; a later pull sweeps what SIGKILL leaves.
  const releaseTmp = trackScratch(tmp);
  try {
    const written = await writeOnnxModel(built.graph, { dir: tmp, modelFile: 'model.onnx', dataFile: 'model.onnx.data', onProgress: o.onProgress });
    if (o.tokenizerJson !== undefined) await fs.writeFile(path.join(tmp, 'tokenizer.json'), jsonText(o.tokenizerJson));
    if (o.tokenizerConfigJson !== undefined) await fs.writeFile(path.join(tmp, 'tokenizer_config.json'), jsonText(o.tokenizerConfigJson));
    const base = manifestFromGraph(built, {
      graphFile: 'model.onnx',
      externalData: written.dataPath ? 'model.onnx.data' : null,
      tokenizerFile: o.tokenizerJson !== undefined ? 'tokenizer.json' : null,
      tokenizerConfigFile: o.tokenizerConfigJson !== undefined ? 'tokenizer_config.json' : null,
      specialTokens: o.specialTokens,
    });
    const manifest = (o.manifestConfig ? { ...base, config: o.manifestConfig } : base) as ModelManifest;
    await fs.writeFile(path.join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    if (existed) {
      const old = path.join(parent, `.${path.basename(target)}.old-${tag}`);
      // Synchronous: no signal handler runs between the two renames, so an interrupt never finds the model missing.
      fsSync.renameSync(target, old);
      fsSync.renameSync(tmp, target);
      releaseTmp();
      const releaseOld = trackScratch(old);
      await fs.rm(old, { recursive: true, force: true });
      releaseOld();
    } else {
      fsSync.renameSync(tmp, target);
      releaseTmp();
    }
    return { dir: target, manifest };
  } catch (e) {
    releaseTmp(true);
    throw diskError(e, target, built.graph.initializers.reduce((n, i) => n + sourceByteLength(i.source), 0));
  }
}

/**
 * Builds the decoder graph and writes the model folder `dir` (`model.onnx`, `model.onnx.data`,
 * optional tokenizer files, `autocontrast.json`). The folder appears complete or not at all.
 */
export async function writeModelFolder(dir: string, options: WriteModelFolderOptions): Promise<WrittenModelFolder> {
  const target = path.resolve(dir);
  if ((await exists(target)) && !options.overwrite) {
    throw new Error(`${target} already exists (pass overwrite: true to replace it)`);
  }
  const built = buildDecoderGraph(options.config, options.weights, {
    exits: options.exits,
    logitPositions: options.logitPositions,
    opset: options.opset,
    graphForm: options.graphForm,
  });
  const { manifest } = await writeBuiltFolder(target, built, options);
  return { dir: target, manifest, built };
}
