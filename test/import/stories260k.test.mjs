import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GgmlType, loadTokenizer, readGguf, tokenizerJsonFromGguf } from 'autocontrast/gguf';
import { sharedData } from './helpers.mjs';

const dir = sharedData('stories260K end-to-end import');

test('stories260K.gguf: metadata, 48 tensors with the Llama shapes, all readable', () => {
  if (!dir) return;
  const g = readGguf(path.join(dir, 'gguf', 'models', 'stories260K.gguf'));
  try {
    const m = g.metadata;
    assert.is(g.version, 3);
    assert.is(g.alignment, 32);
    assert.is(g.dataOffset, 14176);
    assert.is(g.architecture, 'llama');
    const dim = m.getInteger('llama.embedding_length');
    const layers = m.getInteger('llama.block_count');
    const heads = m.getInteger('llama.attention.head_count');
    const kvHeads = m.getInteger('llama.attention.head_count_kv');
    const ff = m.getInteger('llama.feed_forward_length');
    const vocab = m.getStringArray('tokenizer.ggml.tokens').length;
    assert.equal([dim, layers, heads, kvHeads, vocab], [64, 5, 8, 4, 512]);
    assert.is(g.tensors.length, 48);
    const kvDim = (dim / heads) * kvHeads;
    const expected = new Map([
      ['token_embd.weight', [vocab, dim]],
      ['output.weight', [vocab, dim]],
      ['output_norm.weight', [dim]],
    ]);
    for (let l = 0; l < layers; l++) {
      const p = `blk.${l}.`;
      expected.set(p + 'attn_q.weight', [dim, dim]);
      expected.set(p + 'attn_k.weight', [kvDim, dim]);
      expected.set(p + 'attn_v.weight', [kvDim, dim]);
      expected.set(p + 'attn_output.weight', [dim, dim]);
      expected.set(p + 'attn_norm.weight', [dim]);
      expected.set(p + 'ffn_norm.weight', [dim]);
      expected.set(p + 'ffn_gate.weight', [ff, dim]);
      expected.set(p + 'ffn_up.weight', [ff, dim]);
      expected.set(p + 'ffn_down.weight', [dim, ff]);
    }
    assert.is(expected.size, 48);
    let params = 0;
    for (const t of g.tensors) {
      assert.equal(t.shape, expected.get(t.name), t.name);
      assert.is(t.type, GgmlType.F32);
      const data = g.readTensorFloat32(t);
      assert.is(data.length, t.elementCount);
      assert.ok(data.every(Number.isFinite), `${t.name} finite`);
      params += data.length;
    }
    assert.is(params, 292800);
    // trained RMSNorm weights are not all equal (random init would be ones)
    const norm = g.readTensorFloat32('blk.0.attn_norm.weight');
    assert.ok(Math.max(...norm) - Math.min(...norm) > 0.01);
    // a row read equals the corresponding slice of the full tensor
    const emb = g.readTensorFloat32('token_embd.weight');
    assert.equal(g.readRowsFloat32('token_embd.weight', 100, 2), emb.subarray(100 * dim, 102 * dim));
  } finally {
    g.close();
  }
});

test('stories260K.gguf: SPM tokenizer from metadata encodes and decodes "Once upon a time"', () => {
  if (!dir) return;
  const g = readGguf(path.join(dir, 'gguf', 'models', 'stories260K.gguf'));
  const tok = loadTokenizer(tokenizerJsonFromGguf(g));
  g.close();
  const text = 'Once upon a time';
  const ids = tok.encode(text);
  console.log(`  "${text}" -> [${ids}] = ${JSON.stringify(ids.map((i) => tok.idToToken(i)))}`);
  assert.is(ids[0], 1, 'BOS first (add_bos default for SPM)');
  assert.equal(tok.encode(text, { addSpecialTokens: false }), ids.slice(1));
  // each word is one "▁word" piece of this 512-token vocabulary, or else spelled in vocabulary pieces
  assert.is(ids.slice(1).map((i) => tok.idToToken(i)).join('').replaceAll('▁', ' '), ' ' + text);
  assert.is(tok.decode(ids, { skipSpecialTokens: true }), text);
  assert.is(tok.decode(ids), '<s> ' + text);
  // bytes outside the vocabulary fall back to <0xNN> tokens and decode back
  const odd = 'Lily 🦙!';
  const oddIds = tok.encode(odd, { addSpecialTokens: false });
  assert.ok(oddIds.some((i) => /^<0x[0-9A-F]{2}>$/.test(tok.idToToken(i))));
  assert.is(tok.decode(oddIds), odd);
  assert.is(tok.vocabSize, 512);
});

test.run();
