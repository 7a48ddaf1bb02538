"""Peer: PyTorch `transformers` greedy `generate` on SmolLM2-135M from its GGUF (dequantised to float32), CPU,
plain and with the reference auto-contrastive function (`calculate_contrasted_logits` from autocontrastive-gen,
loaded by parity/py/refcontrast.py) applied as a LogitsProcessor. The amateur is the logit lens at exit layer L:
model.model.norm + lm_head on hidden_states[L] (the output of decoder block L, captured by a forward hook on
model.model.layers[L - 1], last position only).

usage: python torch_peer.py GGUF_FILE JOB_JSON
JOB: {"prompts": [[[ids...], ...], ...] (one list of prompts per batch size), "maxNew": int, "reps": int,
      "threads": int, "amateurLayer": int, "alpha": float}
Prints one JSON line: {ok, torch, transformers, threads, runs: [{batch, variant, tokensPerSecond: [...], ...}]}
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'parity', 'py'))


def main():
    gguf, job_file = sys.argv[1:3]
    with open(job_file) as fh:
        job = json.load(fh)
    out = {'ok': False}
    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, LogitsProcessor, LogitsProcessorList
        from refcontrast import calculate_contrasted_logits, HOW

        torch.set_num_threads(int(job['threads']))
        out.update(torch=torch.__version__, transformers=transformers.__version__, threads=torch.get_num_threads(),
                   reference=HOW)
        d, f = os.path.split(os.path.abspath(gguf))
        t0 = time.time()
        model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
        model.eval()
        out['loadS'] = time.time() - t0
        L = int(job['amateurLayer'])
        alpha = float(job['alpha'])
        captured = {}

        def hook(_mod, _inp, output):
            h = output[0] if isinstance(output, (tuple, list)) else output
            captured['h'] = h[:, -1, :]

        model.model.layers[L - 1].register_forward_hook(hook)

        class ReferenceContrast(LogitsProcessor):
            def __call__(self, input_ids, scores):
                lower = model.lm_head(model.model.norm(captured['h'])).float()
                return calculate_contrasted_logits(scores.float(), lower, minimum_candidates=1, alpha=alpha)

        eos = model.config.eos_token_id
        pad = eos[0] if isinstance(eos, list) else eos
        max_new = int(job['maxNew'])

        def gen(ids, n, contrast):
            kw = dict(max_new_tokens=n, min_new_tokens=n, do_sample=False, num_beams=1, pad_token_id=pad)
            if contrast:
                kw['logits_processor'] = LogitsProcessorList([ReferenceContrast()])
            with torch.inference_mode():
                return model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kw)

        out['runs'] = []
        for prompts in job['prompts']:
            ids = torch.tensor(prompts, dtype=torch.long)
            B, T = ids.shape
            res = {v: {'batch': B, 'variant': v, 'tokensPerSecond': [], 'wallMs': [], 'prefillMs': []} for v in ('plain', 'acd')}
            for rep in range(int(job['reps']) + 1):
                for v in ('plain', 'acd'):
                    t = time.perf_counter()
                    gen(ids, 1, v == 'acd')
                    first = time.perf_counter() - t
                    t = time.perf_counter()
                    seq = gen(ids, max_new, v == 'acd')
                    wall = time.perf_counter() - t
                    if rep == 0:
                        res[v]['firstRow'] = seq[0, T:].tolist()
                        continue
                    res[v]['wallMs'].append(wall * 1e3)
                    res[v]['prefillMs'].append(first * 1e3)
                    res[v]['tokensPerSecond'].append((max_new - 1) * B / (wall - first))
            out['runs'].extend(res.values())
        out['ok'] = True
    except Exception as e:  # reported, not raised: the benchmark prints why the peer is missing
        out['error'] = f'{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ""}'
    print(json.dumps(out))


if __name__ == '__main__':
    main()
