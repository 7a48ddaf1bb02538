"""Tiny random GPT-2, GPT-Neo, Llama and multi-exit GPT-2 checkpoints (seeded), saved as
safetensors, plus PyTorch reference outputs for parity check (a).

usage: python tiny_models.py WORK_DIR

For each model NAME it writes WORK_DIR/NAME/hf/ (the checkpoint) and WORK_DIR/NAME/ref/:
  ids.npy          int64 [T]       the token ids of the logits comparison
  logits.npy       float32 [T, V]  final logits
  exit_{L}.npy     float32 [T, V]  exit L logits (1 <= L <= n): logit lens = final norm + LM head on
                                   hidden_states[L]; trained head on ln_f(hidden_states[L]) for
                                   multi-exit checkpoints (as the reference package's MultiHeadGPT2)
  greedy.json      prompt, 32-token greedy continuations plain and contrasted (reference
                   calculate_contrasted_logits on (final, exit L) logits, then argmax), and the
                   smallest top-1/top-2 margins along each path (how close a tie came)
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(__file__))
from refcontrast import calculate_contrasted_logits  # noqa: E402

import transformers  # noqa: E402
from transformers import (GPT2Config, GPT2LMHeadModel, GPTNeoConfig, GPTNeoForCausalLM,  # noqa: E402
                          LlamaConfig, LlamaForCausalLM)

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
V = 512
N_LAYERS = 4
T_LOGITS = 24
PROMPT = 8
NEW = 32
ALPHA = 0.1
MIN_CAND = 1


def make_models():
    models = []
    torch.manual_seed(1234)
    # GPT-2: initializer_range larger than the default so that greedy choices are not near-ties
    c = GPT2Config(vocab_size=V, n_positions=128, n_embd=64, n_layer=N_LAYERS, n_head=4,
                   initializer_range=0.2, bos_token_id=0, eos_token_id=V - 1)
    models.append(('gpt2', GPT2LMHeadModel(c), None))
    torch.manual_seed(2345)
    c = GPTNeoConfig(vocab_size=V, max_position_embeddings=128, hidden_size=64, num_layers=N_LAYERS,
                     num_heads=4, attention_types=[[['global', 'local'], N_LAYERS // 2]], window_size=5,
                     intermediate_size=128, initializer_range=0.2, bos_token_id=0, eos_token_id=V - 1)
    models.append(('gpt-neo', GPTNeoForCausalLM(c), None))
    torch.manual_seed(3456)
    c = LlamaConfig(vocab_size=V, hidden_size=64, intermediate_size=128, num_hidden_layers=N_LAYERS,
                    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                    rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
                    initializer_range=0.2, bos_token_id=1, eos_token_id=2)
    models.append(('llama', LlamaForCausalLM(c), None))
    torch.manual_seed(4567)
    c = GPT2Config(vocab_size=V, n_positions=128, n_embd=64, n_layer=N_LAYERS, n_head=4,
                   initializer_range=0.2, bos_token_id=0, eos_token_id=V - 1)
    m = GPT2LMHeadModel(c)
    # the reference package's layout: config lm_head_layer_indices, heads
    # name_to_lm_exit_head.lm_head_{L}.weight ([V, d], no bias), applied to ln_f(hidden_states[L])
    # for L < n and to hidden_states[n] (already normalised) for the top layer
    heads = {L: (torch.randn(V, 64) * 0.5) for L in (1, 2, N_LAYERS)}
    models.append(('gpt2-multi-exit', m, heads))
    for _, m, _ in models:
        m.eval()
    return models


def norm_and_head(name, model):
    if name.startswith('gpt'):
        return model.transformer.ln_f, model.lm_head
    return model.model.norm, model.lm_head


@torch.no_grad()
def forward_all(name, model, heads, ids):
    """Final logits and every exit's logits, [T, V] each, for one sequence of ids."""
    with torch.no_grad():
        out = model(torch.tensor([ids]), output_hidden_states=True)
    hs = out.hidden_states
    n = model.config.num_hidden_layers
    final = out.logits[0]
    norm, head = norm_and_head(name, model)
    exits = {}
    for L in range(1, n + 1):
        h = hs[L][0]
        if L == n:
            top_normed = torch.allclose(head(h), final, atol=1e-5)
            hn = h if top_normed else norm(h)
        else:
            hn = norm(h)
        if heads is not None:
            if L in heads:
                exits[L] = hn @ heads[L].T
        else:
            exits[L] = final if L == n else head(hn)
    return final, exits


def greedy(name, model, heads, prompt, amateur):
    ids = list(prompt)
    plain, contrasted = [], []
    margin_plain, margin_contrast = float('inf'), float('inf')
    for _ in range(NEW):
        final, _ = forward_all(name, model, None if heads is None else heads, ids)
        row = final[-1]
        top2 = torch.topk(row, 2).values
        margin_plain = min(margin_plain, float(top2[0] - top2[1]))
        t = int(torch.argmax(row))
        plain.append(t)
        ids.append(t)
    ids = list(prompt)
    for _ in range(NEW):
        final, exits = forward_all(name, model, heads, ids)
        scores = calculate_contrasted_logits(final[-1:], exits[amateur][-1:], minimum_candidates=MIN_CAND,
                                             alpha=ALPHA)[0]
        finite = torch.where(torch.isfinite(scores), scores, torch.tensor(-1e30))
        top2 = torch.topk(finite, 2).values
        margin_contrast = min(margin_contrast, float(top2[0] - top2[1]))
        t = int(torch.argmax(finite))
        contrasted.append(t)
        ids.append(t)
    return plain, contrasted, margin_plain, margin_contrast


@torch.no_grad()
def main():
    work = sys.argv[1]
    for name, model, heads in make_models():
        hf = os.path.join(work, name, 'hf')
        ref = os.path.join(work, name, 'ref')
        os.makedirs(ref, exist_ok=True)
        model.save_pretrained(hf, safe_serialization=True)
        if heads is not None:
            f = os.path.join(hf, 'model.safetensors')
            sd = load_file(f)
            for L, w in heads.items():
                sd[f'name_to_lm_exit_head.lm_head_{L}.weight'] = w.contiguous()
            save_file(sd, f, metadata={'format': 'pt'})
            cfg_path = os.path.join(hf, 'config.json')
            with open(cfg_path) as fh:
                cfg = json.load(fh)
            cfg['lm_head_layer_indices'] = sorted(heads)
            with open(cfg_path, 'w') as fh:
                json.dump(cfg, fh, indent=2)
        g = torch.Generator().manual_seed(99)
        ids = torch.randint(3, V - 1, (T_LOGITS,), generator=g).tolist()
        final, exits = forward_all(name, model, heads, ids)
        np.save(os.path.join(ref, 'ids.npy'), np.array(ids, dtype=np.int64))
        np.save(os.path.join(ref, 'logits.npy'), final.numpy().astype(np.float32))
        for L, x in exits.items():
            np.save(os.path.join(ref, f'exit_{L}.npy'), x.numpy().astype(np.float32))
        amateur = 1 if heads is not None else N_LAYERS // 2
        plain, contrasted, mp, mc = greedy(name, model, heads, ids[:PROMPT], amateur)
        with open(os.path.join(ref, 'greedy.json'), 'w') as fh:
            json.dump({'prompt': ids[:PROMPT], 'plain': plain, 'contrasted': contrasted, 'amateurLayer': amateur,
                       'expert': 'final logits (original LM head)', 'alpha': ALPHA, 'minimumCandidates': MIN_CAND,
                       'minMarginPlain': mp, 'minMarginContrasted': mc, 'exits': sorted(exits),
                       'config': {k: v for k, v in model.config.to_dict().items()
                                  if k in ('num_hidden_layers', 'num_layers', 'hidden_size', 'n_embd',
                                           'num_attention_heads', 'num_key_value_heads', 'attention_types',
                                           'window_size', 'vocab_size', 'lm_head_layer_indices')}}, fh)
        print(f'{name}: saved ({len(exits)} exits); amateur {amateur}; greedy margins plain {mp:.3g} '
              f'contrasted {mc:.3g}')
    with open(os.path.join(work, 'versions.json'), 'w') as fh:
        json.dump({'torch': torch.__version__, 'transformers': transformers.__version__,
                   'numpy': np.__version__, 'reference': __import__('refcontrast').HOW,
                   'referencePath': __import__('refcontrast').PATH}, fh)


if __name__ == '__main__':
    main()
