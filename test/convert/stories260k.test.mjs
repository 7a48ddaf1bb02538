import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { convert } from 'autocontrast/convert';
import { loadTokenizer } from 'autocontrast/gguf';
import { validateModelFolder } from 'autocontrast/manifest';
import { greedy, ort, sharedData, tempDir } from './helpers.mjs';

const data = sharedData('stories260K GGUF -> model folder end-to-end');

test('stories260K.gguf converts (interleaved rotary, lens exits at every layer) and writes a TinyStories sentence', async () => {
  if (!data) return;
  const out = path.join(tempDir(), 'stories');
  const t0 = Date.now();
  const res = await convert(path.join(data, 'gguf', 'models', 'stories260K.gguf'), { out });
  console.log(`  converted in ${Date.now() - t0} ms, ${res.bytesWritten} bytes`);
  const m = res.manifest;
  assert.is(m.architecture, 'llama');
  assert.is(m.numLayers, 5);
  assert.equal(m.exits.map((e) => e.layer), [1, 2, 3, 4, 5]);
  assert.is(m.config.rotary, 'interleaved');
  assert.is(m.specialTokens.bos, 1);
  await validateModelFolder(out);
  const session = await ort.InferenceSession.create(path.join(out, 'model.onnx'));
  const tok = loadTokenizer(JSON.parse(fs.readFileSync(path.join(out, 'tokenizer.json'), 'utf8')));
  const ids = await greedy(session, m, [1], 40);
  const text = tok.decode(ids);
  console.log(`  greedy: ${JSON.stringify(text)}`);
  assert.ok(text.trim().startsWith('Once upon a time, there was a little girl named Lily'), text);
});

test('stories260K with --exits 2,5: lens exit 5 equals logits', async () => {
  if (!data) return;
  const out = path.join(tempDir(), 'stories-exits');
  const res = await convert(path.join(data, 'gguf', 'models', 'stories260K.gguf'), { out, exits: '2,5' });
  assert.equal(res.manifest.exits.map((e) => e.layer), [2, 5]);
  const session = await ort.InferenceSession.create(path.join(out, 'model.onnx'));
  const { runStep } = await import('./helpers.mjs');
  const r = await runStep(session, res.manifest, [1, 403, 407]);
  assert.equal(Array.from(r['exit.5.logits'].data), Array.from(r.logits.data));
});

test.run();
