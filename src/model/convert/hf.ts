/**
 * Hugging Face checkpoint folders (`config.json` + safetensors, sharded or not) -> graph builder
 * configuration and weights, including the reference package's multi-exit checkpoints
 * (`lm_head_layer_indices` in the config, heads `name_to_lm_exit_head.lm_head_{L}.weight` or
 * conversion matrices `name_to_conv_matrix.{L}_to_{n}.weight`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExitSpec } from '../graph/decoder-config';
import type { WeightTensor } from '../graph/onnx/tensor-source';
import type { SpecialTokens } from '../manifest/manifest-types';
import { SafetensorsCheckpoint } from '../safetensors/checkpoint';
import { SafetensorsError, SAFETENSORS_FLOAT_DTYPES } from '../safetensors/safetensors-file';
import { ConvertError } from './convert-error';
import { decoderConfigFromHf, type ImportConfig } from './hf-config';
import type { ImportedModel } from './imported-model';

type Json = Record<string, unknown>;

function readJson(file: string): Json | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Json;
  } catch (e) {
    throw new ConvertError(`${file}: invalid JSON (${(e as Error).message})`);
  }
}

/** Builder weight name of a checkpoint tensor name (undefined: ignore it). */
function builderName(config: ImportConfig, name: string, hasModelPrefix: boolean): string {
  if (config.architecture === 'gpt2' || config.architecture === 'gpt-neo') return name.startsWith('transformer.') ? name.slice('transformer.'.length) : name;
  if (!hasModelPrefix && !name.startsWith('lm_head.') && !name.startsWith('name_to_')) return `model.${name}`;
  return name;
}

/** Exits defined by a multi-exit checkpoint. */
export function checkpointExits(config: { readonly numLayers: number }, raw: Json, weights: ReadonlyMap<string, WeightTensor>): ExitSpec[] {
  const list = raw.lm_head_layer_indices;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new ConvertError('config.json: lm_head_layer_indices is not a list');
  const n = config.numLayers;
  const exits: ExitSpec[] = [];
  for (const l of list) {
    if (l === 'original') continue;
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 0 || l > n) {
      throw new ConvertError(`config.json: lm_head_layer_indices entry ${JSON.stringify(l)} is not a layer in 0..${n}`);
    }
    const head = `name_to_lm_exit_head.lm_head_${l}.weight`;
    const conv = `name_to_conv_matrix.${l}_to_${n}.weight`;
    if (weights.has(head)) exits.push({ layer: l, kind: 'head', weight: head });
    else if (weights.has(conv)) exits.push({ layer: l, kind: 'conversion', weight: conv });
    else exits.push({ layer: l, kind: 'lens' });
  }
  return exits;
}

function specialTokens(...sources: (Json | undefined)[]): SpecialTokens {
  const pick = (key: string): unknown => {
    for (const s of sources) if (s && s[key] !== undefined && s[key] !== null) return s[key];
    return undefined;
  };
  const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
  const eosRaw = pick('eos_token_id');
  const eos = Array.isArray(eosRaw) ? eosRaw.filter((x): x is number => typeof x === 'number') : int(eosRaw) !== undefined ? [eosRaw as number] : undefined;
  return { bos: int(pick('bos_token_id')), eos, pad: int(pick('pad_token_id')) };
}

/**
 * Opens a Hugging Face checkpoint folder for conversion.
 * @throws {ConvertError} for unsupported models, unsupported dtypes and malformed files.
 */
export function importHf(dir: string): ImportedModel {
  const raw = readJson(path.join(dir, 'config.json'));
  if (!raw) throw new ConvertError(`${dir}: no config.json (expected a Hugging Face checkpoint folder)`);
  const config = decoderConfigFromHf(raw);
  let ck: SafetensorsCheckpoint;
  try {
    ck = SafetensorsCheckpoint.open(dir);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ConvertError(e.message);
    throw e;
  }
  try {
    const names = ck.names();
    const hasModelPrefix = names.some((n) => n.startsWith('model.'));
    const weights = new Map<string, WeightTensor>();
    for (const name of names) {
      const info = ck.info(name);
      const as = builderName(config, name, hasModelPrefix);
      if (!SAFETENSORS_FLOAT_DTYPES.includes(info.dtype)) {
        if (/\.(bias|masked_bias|inv_freq)$/.test(name)) continue; // attention-mask buffers
        throw new ConvertError(`tensor ${name} has dtype ${info.dtype} (supported: ${SAFETENSORS_FLOAT_DTYPES.join(', ')})`);
      }
      const c = ck;
      weights.set(as, { dims: [...info.shape], data: () => c.readFloat32(name) });
    }
    const tokPath = path.join(dir, 'tokenizer.json');
    const tokCfgPath = path.join(dir, 'tokenizer_config.json');
    const gen = readJson(path.join(dir, 'generation_config.json'));
    const c = ck;
    return {
      format: 'hf',
      config,
      weights,
      checkpointExits: checkpointExits(config, raw, weights),
      tokenizerJson: fs.existsSync(tokPath) ? fs.readFileSync(tokPath, 'utf8') : undefined,
      tokenizerConfigJson: fs.existsSync(tokCfgPath) ? fs.readFileSync(tokCfgPath, 'utf8') : undefined,
      specialTokens: specialTokens(raw, gen),
      sourceBytes: ck.dataBytes,
      warnings: fs.existsSync(tokPath) ? [] : ['no tokenizer.json in the checkpoint folder: the model folder has no tokenizer'],
      close: () => c.close(),
    };
  } catch (e) {
    ck.close();
    throw e;
  }
}
