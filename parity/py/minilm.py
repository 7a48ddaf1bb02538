"""Parity (e): sentence embeddings of all-MiniLM-L6-v2 with transformers' BertModel on the same weights,
mean pooling over real tokens and L2 normalisation (what sentence-transformers does for this model).

usage: python minilm.py MODEL_DIR TEXTS_JSON OUT_JSON
"""
import json
import sys

import torch
import transformers
from transformers import AutoModel, AutoTokenizer


def main():
    model_dir, texts_file, out_file = sys.argv[1:4]
    with open(texts_file) as fh:
        texts = json.load(fh)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    batch = tok(texts, padding=True, truncation=True, max_length=256, return_tensors='pt')
    with torch.inference_mode():
        h = model(**batch).last_hidden_state
    mask = batch['attention_mask'].unsqueeze(-1).float()
    v = torch.nn.functional.normalize((h * mask).sum(1) / mask.sum(1), dim=1)
    with open(out_file, 'w') as fh:
        json.dump({'transformers': transformers.__version__, 'embeddings': v.tolist(), 'lengths': batch['attention_mask'].sum(1).tolist()}, fh)
    print(f'minilm: {len(texts)} texts, lengths {batch["attention_mask"].sum(1).tolist()}')


if __name__ == '__main__':
    main()
