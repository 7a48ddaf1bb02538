"""SmolLM2-135M-Instruct from its GGUF with `transformers` (which dequantises the GGUF to float32),
for parity check (c).

usage: python smollm.py GGUF_FILE TEXTS_JSON SAVED_TOKENIZER_JSON OUT_DIR AMATEUR_LAYER

TEXTS_JSON: {"paragraph": str, "docs": [{"name": str, "text": str}, ...]}
Writes OUT_DIR/:
  ids.npy             int64 [T]      the paragraph's ids (transformers GGUF tokenizer, no special tokens)
  logits.npy          float32 [T, V] final logits
  exit_{L}.npy        float32 [T, V] logit lens at AMATEUR_LAYER: final norm + LM head on hidden_states[L]
  tok_gguf.json       ids per document from AutoTokenizer.from_pretrained(dir, gguf_file=...)
  tok_saved.json      ids per document from the re-saved tokenizer.json (PreTrainedTokenizerFast), or null
  info.json           timings and the model config
"""
import json
import os
import sys
import time

import numpy as np
import torch

import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def main():
    gguf_file, texts_json, saved_tok, out, amateur = sys.argv[1:6]
    amateur = int(amateur)
    os.makedirs(out, exist_ok=True)
    with open(texts_json) as fh:
        texts = json.load(fh)
    d, f = os.path.split(os.path.abspath(gguf_file))
    t0 = time.time()
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    t1 = time.time()
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32)
    model.eval()
    t2 = time.time()
    ids = tok(texts['paragraph'], add_special_tokens=False)['input_ids']
    with torch.no_grad():
        o = model(torch.tensor([ids]), output_hidden_states=True)
    t3 = time.time()
    np.save(os.path.join(out, 'ids.npy'), np.array(ids, dtype=np.int64))
    np.save(os.path.join(out, 'logits.npy'), o.logits[0].float().numpy())
    with torch.no_grad():
        lens = model.lm_head(model.model.norm(o.hidden_states[amateur][0]))
    np.save(os.path.join(out, f'exit_{amateur}.npy'), lens.float().numpy())

    def enc(t, text):
        return t(text, add_special_tokens=False)['input_ids']

    docs = texts['docs']
    with open(os.path.join(out, 'tok_gguf.json'), 'w') as fh:
        json.dump([enc(tok, x['text']) for x in docs], fh)
    saved = None
    if saved_tok and saved_tok != '-' and os.path.exists(saved_tok):
        st = PreTrainedTokenizerFast(tokenizer_file=saved_tok)
        saved = [enc(st, x['text']) for x in docs]
    with open(os.path.join(out, 'tok_saved.json'), 'w') as fh:
        json.dump(saved, fh)
    with open(os.path.join(out, 'info.json'), 'w') as fh:
        json.dump({'tokenizerLoadS': t1 - t0, 'modelLoadS': t2 - t1, 'forwardS': t3 - t2, 'tokens': len(ids),
                   'tokenizerClass': type(tok).__name__, 'transformers': transformers.__version__,
                   'torch': torch.__version__, 'numLayers': model.config.num_hidden_layers,
                   'vocabSize': model.config.vocab_size, 'tieWordEmbeddings': model.config.tie_word_embeddings},
                  fh)
    print(f'smollm: {len(ids)} tokens, model load {t2 - t1:.1f}s, forward {t3 - t2:.1f}s')


if __name__ == '__main__':
    main()
