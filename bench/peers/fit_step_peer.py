"""Peer: PyTorch doing the same training step as autocontrast's `head` exit fit: logits of a linear head on
final-normed hidden states (RMSNorm), summed next-token cross-entropy, gradient of the head matrix (and nothing
else), on the CPU with the given threads. Random inputs of the given sizes.

usage: python fit_step_peer.py JOB_JSON     JOB: {"rows": T, "vocab": V, "hidden": d, "threads": n, "reps": k}
Prints one JSON line: {ok, torch, threads, rows, secondsPerStep: [...], tokensPerSecond}
"""
import json
import sys
import time


def main():
    job = json.load(open(sys.argv[1]))
    out = {'ok': False}
    try:
        import torch
        torch.manual_seed(0)
        torch.set_num_threads(job['threads'])
        T, V, d = job['rows'], job['vocab'], job['hidden']
        h = torch.randn(T, d) * 3
        g = 1 + 0.1 * torch.randn(d)
        y = torch.randint(V, (T,))
        W = (0.05 * torch.randn(V, d)).requires_grad_(True)
        n = h / torch.sqrt((h * h).mean(-1, keepdim=True) + 1e-5) * g
        times = []
        for i in range(job['reps'] + 1):
            t0 = time.perf_counter()
            W.grad = None
            loss = torch.nn.functional.cross_entropy(n @ W.t(), y, reduction='sum')
            loss.backward()
            _ = W.grad.sum().item()
            if i > 0:
                times.append(time.perf_counter() - t0)
        times.sort()
        out = {'ok': True, 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'rows': T,
               'secondsPerStep': times, 'tokensPerSecond': T / times[len(times) // 2]}
    except Exception as e:  # reported, not raised: the benchmark prints why the peer is missing
        out['error'] = f'{type(e).__name__}: {e}'
    print(json.dumps(out))


main()
