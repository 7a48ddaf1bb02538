// The protobuf encoder's wire format, and the ONNX writer's inline/external storage.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
// Internal module under test (not public): the protobuf writer, checked byte for byte.
import pbPkg from '../../dist/model/graph/onnx/protobuf-writer.js';
import { graph, ort, tempDir } from './helpers.mjs';

const { ProtobufWriter } = pbPkg;
const test = suite('protobuf + onnx writer');

const bytes = (fn) => {
  const w = new ProtobufWriter(1);
  fn(w);
  return Array.from(w.finish());
};

test('varints: 0, 1, 150, 300, 2^32, -1 (ten bytes), bigint', () => {
  assert.equal(bytes((w) => w.varint(0)), [0]);
  assert.equal(bytes((w) => w.varint(1)), [1]);
  assert.equal(bytes((w) => w.varint(150)), [0x96, 0x01]);
  assert.equal(bytes((w) => w.varint(300)), [0xac, 0x02]);
  assert.equal(bytes((w) => w.varint(2 ** 32)), [0x80, 0x80, 0x80, 0x80, 0x10]);
  assert.equal(bytes((w) => w.varint(-1)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  assert.equal(bytes((w) => w.varint(2n ** 63n - 1n)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
  assert.throws(() => bytes((w) => w.varint(0.5)));
});

test('fields: tag + varint, string, packed varints, float', () => {
  assert.equal(bytes((w) => w.int64Field(1, 150)), [0x08, 0x96, 0x01]);
  assert.equal(bytes((w) => w.stringField(2, 'testing')), [0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]);
  assert.equal(bytes((w) => w.packedVarints(4, [3, 270, 86942])), [0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05]);
  assert.equal(bytes((w) => w.packedVarints(4, [])), []);
  assert.equal(bytes((w) => w.floatField(2, 1)), [0x15, 0x00, 0x00, 0x80, 0x3f]);
});

test('a graph with every initializer inline needs no data file; external offsets are aligned', async () => {
  const g = new graph.GraphBuilder('t');
  const ops = new graph.Ops(g);
  const x = g.input('x', 1, ['n', 3]);
  const w = g.initializer('w', { dataType: 1, dims: [3, 2], bytes: async () => new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer) });
  ops.matMul(x, w, 'y');
  g.output('y', 1, ['n', 2]);
  const dir = tempDir();
  const inline = await graph.writeOnnxModel(g, { dir, modelFile: 'inline.onnx' });
  assert.is(inline.dataPath, null);
  assert.not.ok(fs.existsSync(path.join(dir, 'inline.onnx.data')));
  const ext = await graph.writeOnnxModel(g, { dir, modelFile: 'ext.onnx', inlineThreshold: 0, alignment: 64 });
  assert.is(ext.dataBytes, 24);
  for (const file of ['inline.onnx', 'ext.onnx']) {
    const s = await ort.InferenceSession.create(path.join(dir, file));
    const r = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 1, 1]), [1, 3]) });
    assert.equal(Array.from(r.y.data), [9, 12], file);
    await s.release();
  }
});

test('the writer rejects a graph whose output is never produced or whose node reads an unknown value', async () => {
  const g = new graph.GraphBuilder('bad');
  const x = g.input('x', 1, [2]);
  g.output('y', 1, [2]);
  await graph.writeOnnxModel(g, { dir: tempDir() }).then(() => assert.unreachable(), (e) => assert.match(e.message, /output "y" is never produced/));
  new graph.Ops(g).add(x, 'nowhere', 'y');
  assert.throws(() => g.validate(), /reads "nowhere" before it is produced/);
});

test('seeded random weights are reproducible and differ by seed and name', () => {
  const a = graph.tinyGpt2Weights(graph.TINY_GPT2_CONFIG, 1).get('h.0.attn.c_attn.weight').data();
  const b = graph.tinyGpt2Weights(graph.TINY_GPT2_CONFIG, 1).get('h.0.attn.c_attn.weight').data();
  const c = graph.tinyGpt2Weights(graph.TINY_GPT2_CONFIG, 2).get('h.0.attn.c_attn.weight').data();
  const d = graph.tinyGpt2Weights(graph.TINY_GPT2_CONFIG, 1).get('h.1.attn.c_attn.weight').data();
  assert.equal(Array.from(a), Array.from(b));
  assert.ok(a[0] !== c[0] && a[0] !== d[0]);
  const g = graph.gaussian(20000, 5, 2, 1);
  const mean = g.reduce((s, v) => s + v, 0) / g.length;
  const sd = Math.sqrt(g.reduce((s, v) => s + (v - mean) ** 2, 0) / g.length);
  assert.ok(Math.abs(mean - 1) < 0.05 && Math.abs(sd - 2) < 0.05, `mean ${mean} sd ${sd}`);
});

test.run();
