// The model-folder manifest: writer output, validator errors, atomic folder writes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { graph, manifest, tempDir } from './helpers.mjs';

const test = suite('model folder manifest');
const config = graph.TINY_GPT2_CONFIG;
const exits = [{ layer: 3, kind: 'lens' }, { layer: 1, kind: 'lens', hidden: false }];
let base;

test.before(async () => {
  base = path.join(tempDir(), 'good');
  await manifest.writeModelFolder(base, {
    config,
    weights: graph.tinyGpt2Weights(config, 1),
    exits,
    tokenizerJson: { version: '1.0', model: { type: 'BPE' } },
    specialTokens: { bos: 0, eos: [1] },
  });
});

/** A copy of the good folder, edited by `edit(dir)`. */
function broken(edit) {
  const dir = path.join(tempDir(), 'broken');
  fs.cpSync(base, dir, { recursive: true });
  edit(dir);
  return dir;
}

function editManifest(dir, fn) {
  const p = path.join(dir, 'autocontrast.json');
  const m = JSON.parse(fs.readFileSync(p, 'utf8'));
  fn(m);
  fs.writeFileSync(p, JSON.stringify(m));
}

async function rejects(dir, pattern) {
  try {
    await manifest.validateModelFolder(dir);
  } catch (e) {
    assert.instance(e, manifest.ModelFolderError);
    assert.match(e.message, pattern);
    return e;
  }
  assert.unreachable(`expected ${pattern}`);
}

test('a written folder validates and its manifest describes the model', async () => {
  const v = await manifest.validateModelFolder(base);
  const m = v.manifest;
  assert.equal(fs.readdirSync(base).sort(), ['autocontrast.json', 'model.onnx', 'model.onnx.data', 'tokenizer.json']);
  assert.is(m.architecture, 'gpt2');
  assert.equal([m.numLayers, m.hiddenSize, m.numHeads, m.numKvHeads, m.headDim, m.vocabSize, m.contextLength], [3, 16, 4, 4, 4, 40, 32]);
  assert.equal(m.specialTokens, { bos: 0, eos: [1] });
  assert.equal(m.exits, [
    { layer: 1, kind: 'lens', logitsOutput: 'exit.1.logits' },
    { layer: 3, kind: 'lens', hiddenOutput: 'exit.3.hidden', logitsOutput: 'exit.3.logits' },
  ]);
  assert.is(v.tokenizerPath, path.join(base, 'tokenizer.json'));
  assert.is(m.graph.io.pastKey, 'past_key_values.{i}.key');
  const quick = await manifest.validateModelFolder(base, { loadGraph: false });
  assert.is(quick.manifest.numLayers, 3);
});

test('missing folder, manifest, graph and data file', async () => {
  await rejects(path.join(base, 'nope'), /folder does not exist/);
  await rejects(broken((d) => fs.rmSync(path.join(d, 'autocontrast.json'))), /missing autocontrast\.json/);
  await rejects(broken((d) => fs.rmSync(path.join(d, 'model.onnx'))), /missing graph file model\.onnx/);
  await rejects(broken((d) => fs.rmSync(path.join(d, 'model.onnx.data'))), /missing external data file model\.onnx\.data/);
  await rejects(broken((d) => fs.rmSync(path.join(d, 'tokenizer.json'))), /missing tokenizer file tokenizer\.json/);
});

test('corrupt manifest and corrupt graph', async () => {
  await rejects(broken((d) => fs.writeFileSync(path.join(d, 'autocontrast.json'), '{"format": "autocontrast-mul')), /autocontrast\.json is not valid JSON/);
  await rejects(broken((d) => editManifest(d, (m) => { m.format = 'other'; delete m.numHeads; })), /"format" must be[\s\S]*"numHeads" must be a positive integer/);
  await rejects(broken((d) => editManifest(d, (m) => { m.graph.file = '../model.onnx'; })), /must be a plain file name inside the folder/);
  await rejects(broken((d) => fs.writeFileSync(path.join(d, 'model.onnx'), 'not a protobuf')), /cannot be loaded by ONNX Runtime/);
});

test('exit layer out of range, duplicated, or with an unknown kind', async () => {
  await rejects(broken((d) => editManifest(d, (m) => { m.exits[0].layer = 9; })), /exit layer 9 is out of range: layers are 0\.\.3/);
  await rejects(broken((d) => editManifest(d, (m) => { m.exits[1].layer = 1; })), /exit layer 1 is listed twice/);
  await rejects(broken((d) => editManifest(d, (m) => { m.exits[0].kind = 'magic'; })), /kind must be "lens", "head", "conversion" or "raw"/);
});

test('wrong input or output names', async () => {
  await rejects(broken((d) => editManifest(d, (m) => { m.graph.io.inputIds = 'ids'; })), /lacks input\(s\) "ids"; its inputs are "input_ids"/);
  await rejects(broken((d) => editManifest(d, (m) => { m.graph.io.pastKey = 'past.{i}.k'; })), /lacks input\(s\) "past\.0\.k", "past\.1\.k", "past\.2\.k"[\s\S]*unexpected input/);
  await rejects(broken((d) => editManifest(d, (m) => { m.numLayers = 4; })), /lacks input\(s\) "past_key_values\.3\.key"/);
  await rejects(broken((d) => editManifest(d, (m) => { m.exits[0].logitsOutput = 'exit.1.logit'; })), /lacks output\(s\) "exit\.1\.logit"/);
});

test('shape mismatches between the manifest and the graph', async () => {
  await rejects(broken((d) => editManifest(d, (m) => { m.vocabSize = 41; })), /output "logits" has shape \["batch_size", "sequence_length", 40\], the manifest implies \[\?, \?, 41\]/);
  await rejects(broken((d) => editManifest(d, (m) => { m.headDim = 8; })), /input "past_key_values\.0\.key" has shape \["batch_size", 4, "past_sequence_length", 4\]/);
  await rejects(broken((d) => editManifest(d, (m) => { m.hiddenSize = 32; })), /output "exit\.3\.hidden" has shape/);
  const e = await rejects(broken((d) => editManifest(d, (m) => { m.numKvHeads = 2; m.vocabSize = 7; })), /invalid model folder/);
  assert.ok(e.problems.length > 2, 'every problem is listed');
});

test('the builder rejects bad exits and weights with clear errors', () => {
  const weights = graph.tinyGpt2Weights(config, 1);
  assert.throws(() => graph.buildDecoderGraph(config, weights, { exits: [{ layer: 4, kind: 'lens' }] }), /exit layer 4 is out of range: layers are 0\.\.3/);
  assert.throws(() => graph.buildDecoderGraph(config, weights, { exits: [{ layer: 2, kind: 'head' }] }), /missing weight "exit_heads\.2\.weight" \(expected shape \[40, 16\]\)/);
  const bad = new Map(weights);
  bad.set('h.1.mlp.c_fc.weight', { dims: [16, 63], data: new Float32Array(16 * 63) });
  assert.throws(() => graph.buildDecoderGraph(config, bad), /weight "h\.1\.mlp\.c_fc\.weight" has shape \[16, 63\], expected \[16, 64\]/);
  assert.throws(() => graph.buildDecoderGraph({ ...graph.TINY_LLAMA_CONFIG, numKvHeads: 3 }, weights), /numKvHeads \(3\) must divide numHeads \(4\)/);
});

test('writeModelFolder never leaves a half folder; refuses to replace unless asked', async () => {
  const parent = tempDir();
  const target = path.join(parent, 'model');
  const weights = graph.tinyGpt2Weights(config, 1);
  const failing = new Map(weights);
  failing.set('h.2.mlp.c_proj.weight', { dims: [64, 16], data: () => { throw new Error('disk read failed'); } });
  await manifest.writeModelFolder(target, { config, weights: failing }).then(
    () => assert.unreachable('should fail'),
    (e) => assert.match(e.message, /disk read failed/),
  );
  assert.equal(fs.readdirSync(parent), [], 'no folder and no temporary left behind');
  const short = new Map(weights);
  short.set('ln_f.weight', { dims: [16], data: new Float32Array(15) });
  await manifest.writeModelFolder(target, { config, weights: short }).then(
    () => assert.unreachable('should fail'),
    (e) => assert.match(e.message, /weight ln_f\.weight: 15 values for shape \[16\]/),
  );
  assert.equal(fs.readdirSync(parent), []);
  await manifest.writeModelFolder(target, { config, weights });
  await manifest.writeModelFolder(target, { config, weights }).then(
    () => assert.unreachable('should fail'),
    (e) => assert.match(e.message, /already exists/),
  );
  await manifest.writeModelFolder(target, { config, weights, exits: [{ layer: 2, kind: 'lens' }], overwrite: true });
  assert.equal(fs.readdirSync(parent), ['model']);
  assert.is((await manifest.validateModelFolder(target)).manifest.exits[0].layer, 2);
});

test.run();
