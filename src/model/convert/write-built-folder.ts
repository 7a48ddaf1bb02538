/**
 * Writes a model folder from an already built graph (for architectures assembled here, such as
 * GPT-Neo, that the graph builder's `buildDecoderGraph` does not dispatch). Same layout and
 * atomicity as `writeModelFolder`: a temporary sibling folder renamed into place at the end.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { BuiltDecoderGraph } from '../graph/decoder-graph';
import { writeOnnxModel } from '../graph/onnx/write-onnx-model';
import { manifestFromGraph } from '../manifest/manifest-from-graph';
import { MANIFEST_FILE, type ModelManifest, type SpecialTokens } from '../manifest/manifest-types';

/** What to write besides the graph. */
export interface BuiltFolderOptions {
  /** tokenizer.json contents. */
  readonly tokenizerJson?: string | object;
  /** tokenizer_config.json contents. */
  readonly tokenizerConfigJson?: string | object;
  /** Special token ids. */
  readonly specialTokens?: SpecialTokens;
  /** Replaces the manifest's informational `config` (e.g. the full GPT-Neo configuration). */
  readonly manifestConfig?: object;
  /** Replace an existing folder. */
  readonly overwrite?: boolean;
  /** Progress of the weight data written. */
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void;
}

const text = (v: string | object) => (typeof v === 'string' ? v : `${JSON.stringify(v, null, 2)}\n`);

/** Writes `built` as a model folder at `dir`, atomically; returns the absolute folder and manifest. */
export async function writeBuiltFolder(dir: string, built: BuiltDecoderGraph, o: BuiltFolderOptions): Promise<{ dir: string; manifest: ModelManifest }> {
  const target = path.resolve(dir);
  const exists = await fs.lstat(target).then(() => true, () => false);
  if (exists && !o.overwrite) throw new Error(`${target} already exists (pass overwrite: true to replace it)`);
  const parent = path.dirname(target);
  await fs.mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(parent, `.${path.basename(target)}.tmp-${tag}`);
  await fs.mkdir(tmp);
  try {
    const written = await writeOnnxModel(built.graph, { dir: tmp, modelFile: 'model.onnx', dataFile: 'model.onnx.data', onProgress: o.onProgress });
    if (o.tokenizerJson !== undefined) await fs.writeFile(path.join(tmp, 'tokenizer.json'), text(o.tokenizerJson));
    if (o.tokenizerConfigJson !== undefined) await fs.writeFile(path.join(tmp, 'tokenizer_config.json'), text(o.tokenizerConfigJson));
    const base = manifestFromGraph(built, {
      graphFile: 'model.onnx',
      externalData: written.dataPath ? 'model.onnx.data' : null,
      tokenizerFile: o.tokenizerJson !== undefined ? 'tokenizer.json' : null,
      tokenizerConfigFile: o.tokenizerConfigJson !== undefined ? 'tokenizer_config.json' : null,
      specialTokens: o.specialTokens,
    });
    const manifest = (o.manifestConfig ? { ...base, config: o.manifestConfig } : base) as ModelManifest;
    await fs.writeFile(path.join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    if (exists) {
      const old = path.join(parent, `.${path.basename(target)}.old-${tag}`);
      await fs.rename(target, old);
      await fs.rename(tmp, target);
      await fs.rm(old, { recursive: true, force: true });
    } else {
      await fs.rename(tmp, target);
    }
    return { dir: target, manifest };
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
