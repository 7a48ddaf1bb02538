import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { convert, ConvertError } from 'autocontrast/convert';
import { SafetensorsCheckpoint, SafetensorsError } from 'autocontrast/safetensors';
import { buildGguf, T } from '../import/helpers.mjs';
import { graph, writeHfCheckpoint } from './hf-checkpoints.mjs';
import { sharedData, tempDir } from './helpers.mjs';

const data = sharedData('conversion of a truncated stories260K');

/** Expects convert to reject with a ConvertError matching `re` and leave nothing in the parent folder. */
async function expectFailure(input, re, options = {}) {
  const parent = tempDir();
  const out = path.join(parent, 'model');
  try {
    await convert(input, { out, ...options });
    assert.unreachable('convert should fail');
  } catch (e) {
    if (e.name === 'Assertion') throw e;
    assert.instance(e, ConvertError, `${e.name}: ${e.message}`);
    assert.match(e.message, re);
    assert.not.match(e.message, /\n/);
  }
  assert.equal(fs.readdirSync(parent), [], 'no output and no temporary folder left behind');
}

test('truncated GGUF: clear error, no output', async () => {
  if (!data) return;
  const bytes = fs.readFileSync(path.join(data, 'gguf', 'models', 'stories260K.gguf'));
  const file = path.join(tempDir(), 'cut.gguf');
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 1000));
  await expectFailure(file, /truncated|past the end|end of/i);
  fs.writeFileSync(file, bytes.subarray(0, 5000));
  await expectFailure(file, /\S/);
});

test('corrupt GGUF magic and random bytes: clear error', async () => {
  const file = path.join(tempDir(), 'x.gguf');
  fs.writeFileSync(file, Buffer.from('not a model at all'));
  await expectFailure(file, /not a GGUF file/);
});

test('unsupported GGUF architecture: clear error', async () => {
  const { bytes } = buildGguf({ kvs: [['general.architecture', T.STR, 'mamba']] });
  const file = path.join(tempDir(), 'mamba.gguf');
  fs.writeFileSync(file, bytes);
  await expectFailure(file, /unsupported GGUF architecture "mamba"/);
});

test('unsupported GGUF tensor type: clear error naming the type', async () => {
  const f32 = (n) => Buffer.alloc(4 * n);
  const kvs = [
    ['general.architecture', T.STR, 'llama'], ['llama.embedding_length', T.U32, 8], ['llama.attention.head_count', T.U32, 2],
    ['llama.block_count', T.U32, 1], ['llama.feed_forward_length', T.U32, 8], ['llama.attention.layer_norm_rms_epsilon', T.F32, 1e-5],
  ];
  const tensors = [
    { name: 'token_embd.weight', dims: [8, 4], type: 0, data: f32(32) },
    { name: 'blk.0.attn_k.weight', dims: [256, 1], type: 16 /* IQ2_XXS: one 66-byte block */, data: Buffer.alloc(66) },
  ];
  const { bytes } = buildGguf({ kvs, tensors });
  const file = path.join(tempDir(), 'iq.gguf');
  fs.writeFileSync(file, bytes);
  await expectFailure(file, /unsupported tensor type IQ2_XXS/);
});

test('truncated safetensors: SafetensorsError and a clear conversion error', async () => {
  const dir = path.join(tempDir(), 'ckpt');
  writeHfCheckpoint(dir, graph.TINY_GPT2_CONFIG);
  const f = path.join(dir, 'model.safetensors');
  const b = fs.readFileSync(f);
  fs.writeFileSync(f, b.subarray(0, b.length - 100));
  assert.throws(() => SafetensorsCheckpoint.open(dir), (e) => e instanceof SafetensorsError && /truncated/.test(e.message));
  await expectFailure(dir, /truncated/);
  fs.writeFileSync(f, Buffer.concat([Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0]), Buffer.alloc(10)]));
  await expectFailure(dir, /header length/);
  const hdr = Buffer.from('{"a": nope}');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hdr.length));
  fs.writeFileSync(f, Buffer.concat([len, hdr]));
  await expectFailure(dir, /not valid JSON/);
});

test('unsupported model_type; a GPT-2 config.json relabelled gpt_neo lacks GPT-Neo fields', async () => {
  const dir = path.join(tempDir(), 'ckpt');
  writeHfCheckpoint(dir, graph.TINY_GPT2_CONFIG, { configExtra: { model_type: 'bert' } });
  await expectFailure(dir, /unsupported model_type "bert"/);
  writeHfCheckpoint(dir, graph.TINY_GPT2_CONFIG, { configExtra: { model_type: 'gpt_neo' } });
  await expectFailure(dir, /config\.json: "hidden_size" is missing/);
});

test('config and weights disagree (layer count, width): clear error, no output', async () => {
  const dir = path.join(tempDir(), 'ckpt');
  writeHfCheckpoint(dir, graph.TINY_LLAMA_CONFIG, { configExtra: { num_hidden_layers: 4 } });
  await expectFailure(dir, /do not match.*missing weight "model\.layers\.3/);
  writeHfCheckpoint(dir, graph.TINY_GPT2_CONFIG, { configExtra: { n_embd: 32 } });
  await expectFailure(dir, /do not match.*shape/);
});

test('exit layer out of range, bad exit list', async () => {
  const dir = path.join(tempDir(), 'ckpt');
  writeHfCheckpoint(dir, graph.TINY_LLAMA_CONFIG);
  await expectFailure(dir, /exit layer 9 is out of range/, { exits: [9] });
  await expectFailure(dir, /invalid exit layer "x"/, { exits: '1,x' });
  await expectFailure(dir, /exit kind must be "lens" or "raw" \(got "final"\)/, { exitKind: 'final' });
});

test('missing input: clear error', async () => {
  await expectFailure(path.join(tempDir(), 'nothing-here'), /no such file or folder/);
});

test.run();
