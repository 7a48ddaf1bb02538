// Incremental decoding across multi-byte characters split over byte-level BPE tokens (SmolLM2's tokenizer).
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadTokenizer } from 'autocontrast/gguf';
import { sharedData } from '../import/helpers.mjs';
import { gen } from './helpers.mjs';

test('continuationText: a token ending inside a character shows as a trailing U+FFFD (what stream holds back)', () => {
  const data = sharedData('SmolLM2 tokenizer for incremental decoding');
  if (!data) return;
  const tok = loadTokenizer(JSON.parse(fs.readFileSync(path.join(data, 'tokenizers', 'smollm2-135m-instruct', 'tokenizer.json'), 'utf8')));
  const model = { tokenizer: tok };
  const text = 'Hi 😀 日本語 café';
  const ids = tok.encode(text, { addSpecialTokens: false });
  let emitted = '';
  const chunks = [];
  let partial = 0;
  for (let i = 2; i <= ids.length; i++) {
    const t = gen.continuationText(model, [ids[0]], ids.slice(1, i));
    if (t.endsWith('\uFFFD')) partial++;
    const safe = t.replace(/\uFFFD+$/, '');
    if (safe.length > emitted.length) {
      assert.ok(safe.startsWith(emitted));
      chunks.push(safe.slice(emitted.length));
      emitted = safe;
    }
  }
  assert.ok(partial >= 2, 'the emoji and the CJK characters span several tokens');
  assert.is(chunks.join(''), text.slice(2));
  assert.ok(chunks.every((c) => !c.includes('\uFFFD')));
});

test.run();
