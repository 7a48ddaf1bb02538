"""DoLa greedy continuations from transformers' own implementation (`generate(..., dola_layers=...)`, transformers
4.43-4.5x; the parity suite installs 4.48.3 beside the main venv's transformers, which no longer ships DoLa), for
parity check (l): SmolLM2-135M from its GGUF, dequantised to float32 by transformers.

usage: python dola_ref.py GGUF_FILE PROMPTS_JSON OUT_JSON

PROMPTS_JSON: {"prompts": [[ids...], ...], "maxNewTokens": int, "dolaLayers": "high" | "low" | [ints],
               "repetitionPenalty": float}
OUT_JSON: {"runs": [{"tokens": [...], "scores": [[top5 ids], [top5 scores]] per step}], "candidates": [...],
           "transformers": version, "seconds": float}
The scores are transformers' processed DoLa scores (after the repetition penalty), used to tell near-ties.
"""
import json
import math
import os
import sys
import time

import torch

import transformers
from transformers import AutoModelForCausalLM
from transformers.generation import utils as gen_utils

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def main():
    gguf_file, prompts_json, out_json = sys.argv[1:4]
    with open(prompts_json) as fh:
        spec = json.load(fh)
    d, f = os.path.split(os.path.abspath(gguf_file))
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32)
    model.eval()
    n = model.config.num_hidden_layers
    # The candidate layers transformers used, read back from its own code path: wrap the selection function.
    seen = {}
    original = gen_utils._dola_select_contrast

    def spy(candidate_premature_layers, candidate_premature_logits, final_logits):
        seen['candidates'] = list(candidate_premature_layers)
        return original(candidate_premature_layers, candidate_premature_logits, final_logits)

    gen_utils._dola_select_contrast = spy
    runs = []
    t0 = time.time()
    eos = model.generation_config.eos_token_id
    for ids in spec['prompts']:
        x = torch.tensor([ids])
        with torch.no_grad():
            out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=spec['maxNewTokens'],
                                 do_sample=False, dola_layers=spec['dolaLayers'],
                                 repetition_penalty=spec['repetitionPenalty'], return_dict_in_generate=True,
                                 output_scores=True, pad_token_id=eos if isinstance(eos, int) else eos[0])
        toks = out.sequences[0, len(ids):].tolist()
        steps = []
        for s in out.scores:
            v, i = torch.topk(s[0].float(), 5)
            # -inf (outside DoLa's relative-top head) is not JSON: null, read as -Infinity by parity/run.mjs
            steps.append([i.tolist(), [x if math.isfinite(x) else None for x in v.tolist()]])
        runs.append({'tokens': toks, 'scores': steps})
    with open(out_json, 'w') as fh:
        json.dump({'runs': runs, 'candidates': seen.get('candidates'), 'numLayers': n,
                   'tieWordEmbeddings': model.config.tie_word_embeddings, 'eos': eos,
                   'transformers': transformers.__version__, 'torch': torch.__version__,
                   'seconds': time.time() - t0}, fh)
    print(f"dola: {len(runs)} prompts, candidates {seen.get('candidates')}, {time.time() - t0:.1f}s")


if __name__ == '__main__':
    main()
