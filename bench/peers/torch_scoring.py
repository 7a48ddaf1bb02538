"""Peer for bench/eval-scoring.mjs: the LAMBADA scoring work done with PyTorch + transformers on SmolLM2-135M
from its GGUF (dequantised to float32), CPU, the same threads: one forward per batch of passages (left-padded,
position ids from the mask, the LM head on the scored tail only), then at the scored positions (all exits' rows
through the head in one matrix product) the expert's log-softmax and arg-max, each exit alone
(logit lens: the model's final norm and lm_head on hidden_states[L]) and ACD with each amateur layer
(Gera et al. Eq. 5 written here: head = {v : p_e(v) >= alpha max p_e}; head tokens share the head's expert mass
by softmax(log p_e - log p_a) over the head; other tokens keep log p_e).

usage: python torch_scoring.py GGUF_FILE JOB_JSON
JOB: {"items": [{"ids": [...], "from": int}, ...], "threads": int, "batch": int, "exits": [...], "amateurs": [...],
      "alpha": float}
Prints one JSON line: {ok, torch, transformers, threads, seconds, tokens, items: [{"e": [ll, g], "x": {L: [ll, g]},
      "c": {L: [ll, g]}}]}
"""
import json
import math
import os
import sys
import time


def main():
    gguf, job_file = sys.argv[1:3]
    with open(job_file) as fh:
        job = json.load(fh)
    out = {'ok': False}
    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM

        torch.set_num_threads(int(job['threads']))
        out.update(torch=torch.__version__, transformers=transformers.__version__, threads=torch.get_num_threads())
        d, f = os.path.split(os.path.abspath(gguf))
        model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
        model.eval()
        N = model.config.num_hidden_layers
        exits = [int(x) for x in job['exits']]
        amateurs = [int(x) for x in job['amateurs']]
        alpha = float(job['alpha'])
        log_alpha = math.log(alpha)
        items = job['items']
        B = int(job['batch'])
        results = [None] * len(items)
        tokens = 0

        def read(logp, target):
            # logp [R, V] log-probabilities; per row: value at target, target == first arg-max
            lp = logp.gather(1, target[:, None])[:, 0]
            g = logp.argmax(dim=1) == target
            return lp, g

        def acd(z_e, z_a):
            lp_e = torch.log_softmax(z_e, dim=-1)
            lp_a = torch.log_softmax(z_a, dim=-1)
            head = lp_e >= lp_e.max(dim=-1, keepdim=True).values + log_alpha
            mass = torch.logsumexp(lp_e.masked_fill(~head, -math.inf), dim=-1, keepdim=True)
            ratio = torch.log_softmax((lp_e - lp_a).masked_fill(~head, -math.inf), dim=-1)
            return torch.where(head, ratio + mass, lp_e)

        with torch.inference_mode():  # warm-up outside the timed part (one-time allocations), as the library's
            first = items[:2]
            T = max(len(it['ids']) - 1 for it in first)
            model(input_ids=torch.zeros((len(first), T), dtype=torch.long), output_hidden_states=True)
        # The library's batching rule (src/eval/scoring-run.ts): blocks of 16 batches, longest first inside each.
        order = []
        for k in range(0, len(items), 16 * B):
            order += sorted(range(k, min(k + 16 * B, len(items))), key=lambda i: -len(items[i]['ids']))
        t0 = time.perf_counter()
        with torch.inference_mode():
            for k in range(0, len(items), B):
                chunk = [items[i] for i in order[k:k + B]]
                rows = [it['ids'][:-1] for it in chunk]
                T = max(len(r) for r in rows)
                ids = torch.zeros((len(rows), T), dtype=torch.long)
                mask = torch.zeros((len(rows), T), dtype=torch.long)
                for b, r in enumerate(rows):
                    ids[b, T - len(r):] = torch.tensor(r)
                    mask[b, T - len(r):] = 1
                pos = (mask.cumsum(1) - 1).clamp(min=0)
                # Only the scored tail goes through the LM head (logits_to_keep), as the library's graph does.
                keep = max(len(it['ids']) - it['from'] for it in chunk)
                o = model(input_ids=ids, attention_mask=mask, position_ids=pos, output_hidden_states=True,
                          logits_to_keep=keep)
                tokens += sum(len(r) for r in rows)
                # scored rows: the last n positions of each row
                sel_b, sel_t, targets, owner = [], [], [], []
                for b, it in enumerate(chunk):
                    n = len(it['ids']) - it['from']
                    for j in range(n):
                        sel_b.append(b)
                        sel_t.append(T - n + j)
                        targets.append(it['ids'][it['from'] + j])
                        owner.append(b)
                sb = torch.tensor(sel_b)
                st = torch.tensor(sel_t)
                tg = torch.tensor(targets)
                z_e = o.logits[sb, st - (T - keep)].float()
                acc = [{'e': [0.0, 1], 'x': {str(L): [0.0, 1] for L in exits}, 'c': {str(L): [0.0, 1] for L in amateurs}} for _ in chunk]

                def add(key, L, lp, g):
                    for r in range(len(owner)):
                        slot = acc[owner[r]][key] if L is None else acc[owner[r]][key][str(L)]
                        slot[0] += float(lp[r])
                        if not bool(g[r]):
                            slot[1] = 0

                add('e', None, *read(torch.log_softmax(z_e, dim=-1), tg))
                # Every exit's scored rows through the final norm and the head in one matrix product.
                layers = [L for L in sorted(set(exits) | set(amateurs)) if L != N]
                R = len(owner)
                lens = {N: z_e}
                if layers:
                    h = torch.cat([o.hidden_states[L][sb, st] for L in layers])
                    z = model.lm_head(model.model.norm(h)).float()
                    for j, L in enumerate(layers):
                        lens[L] = z[j * R:(j + 1) * R]
                for L in exits:
                    add('x', L, *read(torch.log_softmax(lens[L], dim=-1), tg))
                for L in amateurs:
                    add('c', L, *read(acd(z_e, lens[L]), tg))
                for b in range(len(chunk)):
                    results[order[k + b]] = acc[b]
        out['seconds'] = time.perf_counter() - t0
        out['tokens'] = tokens
        out['items'] = results
        out['ok'] = True
    except Exception as e:  # reported to the caller, which prints why the peer is missing
        out['error'] = f'{type(e).__name__}: {e}'
    print(json.dumps(out))


if __name__ == '__main__':
    main()
