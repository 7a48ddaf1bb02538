"""Reference outputs of `calculate_contrasted_logits` (autocontrastive-gen) on random and real
logits, for parity check (b).

usage: python contrast_ref.py WORK_DIR
Reads real logits from WORK_DIR/gpt2/ref (tiny GPT-2, final vs exit 2) and, when present,
WORK_DIR/smollm/ref (SmolLM2-135M, final vs exit 15). Writes WORK_DIR/contrast/:
  sets.json                         [{name, rows, vocab, note}], alphas, minimum_candidates
  {set}.expert.npy / .amateur.npy   float32 [rows, V]
  {set}.a{alpha:g}.k{k}.npy           float32 [rows, V] reference log-probabilities
"""
import glob
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from refcontrast import calculate_contrasted_logits  # noqa: E402

ALPHAS = [0.0, 0.05, 0.1, 0.5, 1.0]
KS = [1, 3, 10]


def main():
    work = sys.argv[1]
    out = os.path.join(work, 'contrast')
    os.makedirs(out, exist_ok=True)
    g = np.random.default_rng(7)
    sets = []

    def add(name, e, a, note):
        e = np.ascontiguousarray(e, dtype=np.float32)
        a = np.ascontiguousarray(a, dtype=np.float32)
        np.save(os.path.join(out, f'{name}.expert.npy'), e)
        np.save(os.path.join(out, f'{name}.amateur.npy'), a)
        sets.append({'name': name, 'rows': int(e.shape[0]), 'vocab': int(e.shape[1]), 'note': note})

    add('random-512', g.normal(0, 3, (64, 512)), g.normal(0, 3, (64, 512)), 'N(0, 3^2) logits, V=512')
    add('random-49152', g.normal(0, 2, (8, 49152)), g.normal(0, 2, (8, 49152)), 'N(0, 2^2) logits, V=49152')
    add('random-wide-49152', g.normal(0, 20, (8, 49152)), g.normal(0, 20, (8, 49152)),
        'N(0, 20^2) logits, V=49152: amateur probabilities underflow float32')
    e = np.round(g.normal(0, 2, (32, 512)) * 2) / 2
    add('ties-512', e, np.round(g.normal(0, 2, (32, 512)) * 2) / 2, 'logits on a 0.5 grid: many exact ties')
    tiny = os.path.join(work, 'gpt2', 'ref')
    if os.path.exists(os.path.join(tiny, 'exit_2.npy')):
        add('real-tiny-gpt2', np.load(os.path.join(tiny, 'logits.npy')), np.load(os.path.join(tiny, 'exit_2.npy')),
            'tiny random GPT-2: final vs exit 2 (lens), all positions')
    sm = os.path.join(work, 'smollm', 'ref')
    ex = sorted(glob.glob(os.path.join(sm, 'exit_*.npy')))
    if os.path.exists(os.path.join(sm, 'logits.npy')) and ex:
        e = np.load(os.path.join(sm, 'logits.npy'))
        a = np.load(ex[0])
        idx = np.linspace(0, e.shape[0] - 1, min(24, e.shape[0])).astype(int)
        add('real-smollm2', e[idx], a[idx], f'SmolLM2-135M (transformers, GGUF): final vs {os.path.basename(ex[0])[:-4]}, '
            f'{len(idx)} positions of a real paragraph')
    for s in sets:
        e = torch.from_numpy(np.load(os.path.join(out, f"{s['name']}.expert.npy")))
        a = torch.from_numpy(np.load(os.path.join(out, f"{s['name']}.amateur.npy")))
        for alpha in ALPHAS:
            for k in KS:
                r = calculate_contrasted_logits(e, a, minimum_candidates=k, alpha=alpha)
                np.save(os.path.join(out, f"{s['name']}.a{alpha:g}.k{k}.npy"), r.numpy().astype(np.float32))
    with open(os.path.join(out, 'sets.json'), 'w') as fh:
        json.dump({'sets': sets, 'alphas': ALPHAS, 'minimumCandidates': KS}, fh)
    print(f'contrast: {len(sets)} sets x {len(ALPHAS) * len(KS)} settings')


if __name__ == '__main__':
    main()
