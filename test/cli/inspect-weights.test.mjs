// `inspect` reports the weights' formats (4-bit MatMulNBits with block size and accuracy level, or float) and the
// weights each exit's output is computed from. Checked against the graph the folder was written from (in memory,
// not re-read from the file) and against the structure: every layer has the same matrices, so exit L's 4-bit
// bytes are L times one layer's.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
// Internal modules under test (not public): the folder writer and tensor sources, to build folders of each weight form.
import convertPkg from '../../dist/model/convert/write-built-folder.js';
import tensorSource from '../../dist/model/graph/onnx/tensor-source.js';
import { graph, tempDir } from '../graph/helpers.mjs';
import { randomQ4 } from '../convert/random-q4.mjs';

const CFG = {
  architecture: 'llama', numLayers: 3, hiddenSize: 64, numHeads: 4, numKvHeads: 2, vocabSize: 50,
  contextLength: 64, intermediateSize: 96, normEpsilon: 1e-5, tieWordEmbeddings: true, ropeTheta: 10000, rotary: 'half',
};
const cli = (args) => spawnSync(process.execPath, [path.join(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../../dist/cli/main.js'), ...args], { encoding: 'utf8' });

async function folder(opts, q4) {
  const base = graph.tinyDecoderWeights(CFG, 5, { std: 0.2, vectorStd: 0.1 });
  const weights = new Map(base);
  let seed = 100;
  if (q4) for (const [name, w] of base) if (/_proj\.weight$/.test(name)) weights.set(name, randomQ4(/mlp/.test(name) ? 'q4_1' : 'q4_0', w.dims[0], w.dims[1], seed++));
  const exits = [1, 2].map((layer) => ({ layer, kind: 'lens' }));
  const built = graph.buildDecoderGraph(CFG, weights, { logitPositions: 'all', exits, ...opts });
  const dir = path.join(tempDir('ac-inspect-'), 'model');
  await convertPkg.writeBuiltFolder(dir, built, {});
  const r = cli(['inspect', dir, '--json']);
  assert.is(r.status, 0, r.stderr);
  return { built, info: JSON.parse(r.stdout).weights, text: cli(['inspect', dir]).stdout };
}

const bytesOf = (f, re) => f.formats.filter((t) => re.test(t.format)).reduce((s, t) => s + t.bytes, 0);

test('4-bit folder: formats with block size and accuracy level; sizes equal the written graph\'s', async () => {
  const { built, info, text } = await folder({ matMulNBits: { accuracyLevel: 4 } }, true);
  const nbits = built.graph.nodes.filter((n) => n.opType === 'MatMulNBits');
  assert.ok(nbits.length > 0 && nbits.length % 3 === 0, `${nbits.length} MatMulNBits nodes: the same in each of 3 layers`);
  const quantInputs = new Set(nbits.flatMap((n) => n.inputs.slice(1, 4).filter(Boolean)));
  const size = (i) => tensorSource.sourceByteLength(i.source);
  const want4 = built.graph.initializers.filter((i) => quantInputs.has(i.name)).reduce((s, i) => s + size(i), 0);
  const wantAll = built.graph.initializers.reduce((s, i) => s + size(i), 0);
  const fourBit = info.formats.filter((t) => t.format.startsWith('4-bit'));
  assert.equal(fourBit.map((t) => t.format), ['4-bit (block 32, accuracy level 4)']);
  assert.is(fourBit[0].bytes, want4);
  assert.is(info.formats.reduce((s, t) => s + t.bytes, 0), wantAll);
  assert.is(info.final.formats.reduce((s, t) => s + t.bytes, 0), info.final.bytes);
  // Per exit: the trunk up to the exit. Same matrices in every layer: 4-bit bytes grow by one layer's share.
  const per = [info.exits[0].hidden, info.exits[1].hidden, info.final].map((o) => bytesOf(o, /^4-bit/));
  assert.is(per[0] * 2, per[1]);
  assert.is(per[0] * 3, per[2]);
  assert.is(per[2], want4);
  assert.ok(info.exits[0].logits.bytes > info.exits[0].hidden.bytes, 'the lens logits add the final norm and the head');
  assert.match(text, /tensors\s+.*4-bit \(block 32, accuracy level 4\): \d+, [\d.]+ MB/);
  assert.match(text, /exit 1 hidden \(lens\)\s+[\d.]+ MB  .*4-bit \(block 32, accuracy level 4\) [\d.]+ MB/);
  assert.match(text, /final logits \(layer 3\)/);
});

test('float folder: float32 only, no 4-bit', async () => {
  const { built, info } = await folder({}, false);
  assert.is(built.graph.nodes.filter((n) => n.opType === 'MatMulNBits').length, 0);
  assert.not.ok(info.formats.some((t) => t.format.startsWith('4-bit')));
  const floats = built.graph.initializers.filter((i) => i.source.dataType === 1).reduce((s, i) => s + tensorSource.sourceByteLength(i.source), 0);
  assert.is(bytesOf(info, /^float32$/), floats);
});

test.run();
