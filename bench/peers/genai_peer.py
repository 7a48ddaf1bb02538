"""Peer for bench/decode-peers.mjs: onnxruntime-genai decoding a model its own builder made from the same
weights (the GGUF dequantised to a Hugging Face folder), greedy, from the same prompt token ids.

Usage: python genai_peer.py MODEL_DIR JOB.json  ->  one JSON line on stdout
JOB: {"prompts": [[ids...], ...], "batches": [1, 8], "maxNew": N, "reps": R}
"""
import json
import sys
import time

import onnxruntime_genai as og


def main():
    model_dir, job_file = sys.argv[1], sys.argv[2]
    job = json.load(open(job_file))
    model = og.Model(model_dir)
    runs = []
    for batch in job["batches"]:
        rates, prefill, first_row = [], [], None
        prompts = [job["prompts"][r % len(job["prompts"])] for r in range(batch)]
        width = max(len(p) for p in prompts)
        if any(len(p) != width for p in prompts):
            raise SystemExit("genai peer: prompts must have equal lengths (no padding here)")
        for rep in range(job["reps"] + 1):
            params = og.GeneratorParams(model)
            params.set_search_options(do_sample=False, max_length=width + job["maxNew"], batch_size=batch)
            gen = og.Generator(model, params)
            t0 = time.perf_counter()
            gen.append_tokens(prompts)
            rows = [[] for _ in range(batch)]
            start = None
            steps = 0
            while steps < job["maxNew"]:
                gen.generate_next_token()
                nxt = gen.get_next_tokens()
                for r in range(batch):
                    rows[r].append(int(nxt[r]))
                steps += 1
                if start is None:
                    start = time.perf_counter()  # decode time only: after the first generated token
                    prefill_ms = (start - t0) * 1000  # the prompts to the first generated token
            secs = time.perf_counter() - start
            if rep > 0 or job["reps"] == 0:
                rates.append((job["maxNew"] - 1) * batch / secs)
                prefill.append(prefill_ms)
            first_row = rows[0]
            del gen
        runs.append({"batch": batch, "tokensPerSecond": rates, "prefillMs": prefill, "firstRow": first_row})
    print(json.dumps({"ok": True, "version": og.__version__ if hasattr(og, "__version__") else "?", "runs": runs}))


main()
