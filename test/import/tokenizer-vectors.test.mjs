import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { adaptTokenizerJsonForJs, loadTokenizer, readGguf, tokenizerJsonFromGguf } from 'autocontrast/gguf';
import { sharedData } from './helpers.mjs';

// llama.cpp's tokenizer test vectors: `.inp` holds the strings separated by "\n__ggml_vocab_test__\n",
// `.out` one line of expected ids per string (HF AutoTokenizer, add_special_tokens=False).
function readVectors(base) {
  const inputs = fs.readFileSync(base + '.inp', 'utf8').split('\n__ggml_vocab_test__\n');
  inputs.pop();
  const lines = fs.readFileSync(base + '.out', 'utf8').split('\n');
  return inputs.map((text, i) => ({ text, ids: lines[i].trim() === '' ? [] : lines[i].trim().split(/\s+/).map(Number) }));
}

function score(tok, vectors) {
  const failures = [];
  for (const v of vectors) {
    const got = tok.encode(v.text, { addSpecialTokens: false });
    if (JSON.stringify(got) !== JSON.stringify(v.ids)) failures.push({ text: v.text, expected: v.ids, got });
  }
  return { matched: vectors.length - failures.length, total: vectors.length, failures };
}

// Vocabularies whose tokenizer model this library does not convert (asserted to fail clearly).
const UNSUPPORTED = { 'ggml-vocab-bert-bge.gguf': /unsupported GGUF tokenizer model "bert"/ };

const dir = sharedData('tokenizer vectors');
const vocabDir = dir && path.join(dir, 'gguf', 'vocab');
const files = vocabDir ? fs.readdirSync(vocabDir).filter((f) => f.endsWith('.gguf') && fs.existsSync(path.join(vocabDir, f + '.out'))).sort() : [];

for (const f of files) {
  test(`GGUF vocabulary ${f}: tokenizer.json from metadata reproduces llama.cpp's vectors`, () => {
    const g = readGguf(path.join(vocabDir, f));
    try {
      if (UNSUPPORTED[f]) {
        assert.throws(() => tokenizerJsonFromGguf(g), UNSUPPORTED[f]);
        console.log(`  ${f}: unsupported tokenizer model (${g.metadata.getString('tokenizer.ggml.model')})`);
        return;
      }
      const json = tokenizerJsonFromGguf(g);
      // the document is plain JSON: check one vocabulary through a serialise/parse round trip
      const tok = loadTokenizer(f === 'ggml-vocab-gpt-2.gguf' ? JSON.parse(JSON.stringify(json)) : json);
      const vectors = readVectors(path.join(vocabDir, f));
      assert.is(vectors.length, 46);
      const r = score(tok, vectors);
      console.log(`  ${f}: ${r.matched}/${r.total}`);
      for (const x of r.failures) console.log(`    mismatch ${JSON.stringify(x.text)}: expected [${x.expected}] got [${x.got}]`);
      assert.is(r.matched, r.total);
      // decoding the ids gives back the text for plain ASCII inputs
      for (const v of vectors.filter((v) => /^[ -~]+$/.test(v.text) && v.text.trim() === v.text)) {
        assert.is(tok.decode(v.ids), v.text, `decode ${JSON.stringify(v.text)}`);
      }
    } finally {
      g.close();
    }
  });
}

test('SmolLM2 tokenizer.json reproduces all SmolLM vectors (Digits fix), and needs the fix', () => {
  if (!dir) return;
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizers', 'smollm2-135m-instruct', 'tokenizer.json'), 'utf8'));
  const vectors = readVectors(path.join(vocabDir, 'ggml-vocab-smollm.gguf'));
  const fixed = score(loadTokenizer(json), vectors);
  const raw = score(loadTokenizer(json, { adaptForJs: false }), vectors);
  console.log(`  smollm2 tokenizer.json: ${fixed.matched}/${fixed.total} (unadapted @huggingface/tokenizers: ${raw.matched}/${raw.total})`);
  assert.is(fixed.matched, vectors.length);
  // the known gap of the unadapted library is exactly the "½" case
  assert.equal(raw.failures.map((x) => x.text), ['ied 4 ½ months']);
  assert.equal(raw.failures[0].got, [885, 216, 36, 3351, 138, 2704]);
});

test('GPT-2 tokenizer.json reproduces the GPT-2 vectors', () => {
  if (!dir) return;
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizers', 'gpt2', 'tokenizer.json'), 'utf8'));
  const r = score(loadTokenizer(json), readVectors(path.join(vocabDir, 'ggml-vocab-gpt-2.gguf')));
  console.log(`  gpt2 tokenizer.json: ${r.matched}/${r.total}`);
  assert.is(r.matched, r.total);
});

test('adaptTokenizerJsonForJs: Digits becomes a \\p{N} split; input untouched', () => {
  const doc = {
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Digits', individual_digits: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
  };
  const copy = JSON.parse(JSON.stringify(doc));
  const out = adaptTokenizerJsonForJs(doc);
  assert.equal(doc, copy);
  const types = out.pre_tokenizer.pretokenizers.map((p) => p.type);
  assert.equal(types, ['Split', 'Split', 'ByteLevel']);
  assert.equal(out.pre_tokenizer.pretokenizers[0].pattern, { Regex: '\\p{N}' });
  assert.is(out.pre_tokenizer.pretokenizers[2].use_regex, false);
  assert.equal(adaptTokenizerJsonForJs({ pre_tokenizer: { type: 'Digits', individual_digits: false } }).pre_tokenizer.pattern, { Regex: '\\p{N}+' });
});

test('adapted Digits splits Unicode numerics like Rust (no shared data needed)', () => {
  // tiny char-level BPE: every character is a token, no merges
  const chars = [...new Set('ab 4½²٣xyz')];
  const vocab = Object.fromEntries(chars.map((c, i) => [c, i]));
  vocab['4½'] = chars.length; // would be produced only if "4½" stayed one pre-token
  const doc = {
    version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null, post_processor: null, decoder: null,
    pre_tokenizer: { type: 'Digits', individual_digits: false },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [['4', '½']] },
  };
  const pieces = (tok, s) => tok.encode(s, { addSpecialTokens: false }).map((i) => tok.idToToken(i));
  // Rust: "4½" is one run of numerics (individual_digits=false) -> merged; JS \d alone would split it
  assert.equal(pieces(loadTokenizer(doc), 'a4½b'), ['a', '4½', 'b']);
  assert.equal(pieces(loadTokenizer(doc, { adaptForJs: false }), 'a4½b'), ['a', '4', '½', 'b']);
});

test.run();
