#!/usr/bin/env python3
"""PyTorch baseline for the CUDA kernels, run by scripts/device-check.sh on the device machine.

Times a PyTorch implementation of the reference package's `calculate_contrasted_logits` (autocontrastive-gen:
softmax of both exits, plausibility threshold alpha * max p_e widened to minimum_candidates via a sort,
log-ratio, softmax over the head masked with -inf, times the head's expert mass, tokens outside the head keep
p_e, log) on GPU tensors of the same shapes as ac_cuda_bench, checks our library against it through the
device-pointer C ABI on PyTorch's current stream (ctypes), times our call in the same process, and writes JSON
with the speedups (torch time / our time, same GPU, same run).

Usage: torch_reference.py --lib path/to/libautocontrast_cuda.so --out torch.json [--bench ac_cuda_bench.json]
"""
import argparse
import ctypes
import json
import math
import statistics
import sys
import time

import torch


def calculate_contrasted_logits(expert_logits, amateur_logits, minimum_candidates=1, alpha=0.1):
    """The reference formula, restated (float32 math as in the reference)."""
    p_e = expert_logits.float().softmax(dim=-1)
    p_a = amateur_logits.float().softmax(dim=-1)
    kth = p_e.sort(dim=-1, descending=True).values[..., minimum_candidates - 1]
    thr = torch.minimum(p_e.max(dim=-1).values * alpha, kth).unsqueeze(-1)
    outside = p_e < thr
    score = (p_e.log() - p_a.log()).masked_fill(outside, float("-inf"))
    mass = p_e.masked_fill(outside, 0.0).sum(dim=-1, keepdim=True)
    contrasted = score.softmax(dim=-1) * mass
    return torch.where(outside, p_e, contrasted).log()


class Params(ctypes.Structure):
    _fields_ = [("mode", ctypes.c_int32), ("alpha", ctypes.c_float), ("min_candidates", ctypes.c_int32),
                ("has_beta", ctypes.c_int32), ("beta", ctypes.c_float), ("flags", ctypes.c_uint32)]


class ErrorInfo(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int32), ("row", ctypes.c_int64), ("index", ctypes.c_int64)]


DTYPES = {"f32": (torch.float32, 0), "f16": (torch.float16, 1), "bf16": (torch.bfloat16, 2)}


def cuda_time_us(fn, warm=10, iters=50):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1000.0)
    return statistics.median(times)


def make_logits(rows, vocab, dtype, seed):
    g = torch.Generator(device="cuda").manual_seed(seed)
    e = torch.randn(rows, vocab, device="cuda", generator=g) * 2.5
    spikes = torch.rand(rows, vocab, device="cuda", generator=g) < 2e-4
    e = e + spikes * 14.0
    a = 0.6 * e + 1.5 * torch.randn(rows, vocab, device="cuda", generator=g) - 3.0
    return e.to(dtype).contiguous(), a.to(dtype).contiguous()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=False, default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bench", default=None, help="ac_cuda_bench JSON to compare against")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()

    result = {"torch": torch.__version__, "cuda": torch.version.cuda, "results": [], "checks": []}
    if not torch.cuda.is_available():
        print("SKIP: torch sees no CUDA device")
        result["skipped"] = "torch sees no CUDA device"
        json.dump(result, open(args.out, "w"), indent=2)
        return 0
    result["device"] = torch.cuda.get_device_name(0)
    lib = None
    if args.lib:
        try:
            lib = ctypes.CDLL(args.lib)
            lib.ac_cuda_contrast.restype = ctypes.c_int
            lib.ac_cuda_contrast.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p,
                                             ctypes.c_int64, ctypes.c_int64, ctypes.POINTER(Params), ctypes.c_void_p,
                                             ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                             ctypes.POINTER(ErrorInfo)]
            lib.ac_cuda_last_error_message.restype = ctypes.c_char_p
            lib.ac_cuda_version.restype = ctypes.c_char_p
            result["library"] = lib.ac_cuda_version().decode()
        except OSError as e:
            print(f"cannot load {args.lib}: {e}")
            lib = None

    ours_bench = {}
    if args.bench:
        try:
            b = json.load(open(args.bench))
            for r in b.get("results", []):
                if r.get("bench") == "contrast_throughput" and r.get("variant", "").startswith("full"):
                    ours_bench[(r["dtype"], r["rows"])] = r["us_per_call"]
                if (r.get("bench") == "contrast_argmax_b1" and r.get("blocks_per_row") == 0
                        and r.get("write_logprobs") and r.get("cache") == "hot"):
                    ours_bench[(r["dtype"], "b1_argmax")] = r["median_us"]
        except (OSError, ValueError) as e:
            print(f"cannot read {args.bench}: {e}")

    vocab = 50257
    worst_speedup = math.inf
    for name, (tdt, code) in DTYPES.items():
        for rows in ([1, 256] if args.quick else [1, 8, 64, 256]):
            e, a = make_logits(rows, vocab, tdt, seed=rows * 7 + code)
            ref = calculate_contrasted_logits(e, a, 1, 0.1)
            t_ref = cuda_time_us(lambda: calculate_contrasted_logits(e, a, 1, 0.1))
            t_ref_argmax = cuda_time_us(lambda: calculate_contrasted_logits(e, a, 1, 0.1).argmax(dim=-1))
            rec = {"dtype": name, "rows": rows, "V": vocab, "torch_us": round(t_ref, 3),
                   "torch_argmax_us": round(t_ref_argmax, 3)}
            if lib is not None:
                out = torch.empty(rows, vocab, device="cuda", dtype=torch.float32)
                hs = torch.empty(rows, device="cuda", dtype=torch.int32)
                hm = torch.empty(rows, device="cuda", dtype=torch.float32)
                am = torch.empty(rows, device="cuda", dtype=torch.int32)
                err = ErrorInfo()
                p = Params(0, 0.1, 1, 0, 0.0, 0)
                stream = torch.cuda.current_stream().cuda_stream
                rc = lib.ac_cuda_contrast(stream, code, e.data_ptr(), a.data_ptr(), rows, vocab, ctypes.byref(p),
                                          out.data_ptr(), hs.data_ptr(), hm.data_ptr(), am.data_ptr(),
                                          ctypes.byref(err))
                if rc != 0:
                    msg = lib.ac_cuda_last_error_message().decode()
                    result["checks"].append({"dtype": name, "rows": rows, "ok": False, "error": msg})
                    print(f"{name} rows={rows}: ac_cuda_contrast failed: {msg}")
                else:
                    both = torch.isfinite(ref) & torch.isfinite(out)
                    diff = (out - ref).abs().masked_fill(~both, 0).max().item()
                    same_inf = bool(((~torch.isfinite(ref)) == (~torch.isfinite(out))).all().item())
                    argmax_ok = bool((am.long() == ref.argmax(dim=-1)).float().mean().item() >= 0.99)
                    ok = diff < 2e-3 and argmax_ok
                    result["checks"].append({"dtype": name, "rows": rows, "ok": ok, "max_abs_diff": diff,
                                             "same_nonfinite_pattern": same_inf, "argmax_agrees": argmax_ok})
                    print(f"{name} rows={rows}: max |ours - torch reference| = {diff:.2e}, argmax agrees: "
                          f"{argmax_ok}{'' if ok else '  <-- MISMATCH'}")
                    pa = Params(0, 0.1, 1, 0, 0.0, 1 | 4)  # async, trusted pointers

                    def ours():
                        lib.ac_cuda_contrast(torch.cuda.current_stream().cuda_stream, code, e.data_ptr(),
                                             a.data_ptr(), rows, vocab, ctypes.byref(pa), out.data_ptr(),
                                             hs.data_ptr(), hm.data_ptr(), am.data_ptr(), None)
                    t_ours = cuda_time_us(ours, warm=20, iters=200)
                    rec["ours_python_us"] = round(t_ours, 3)
                    rec["speedup_in_process"] = round(t_ref_argmax / t_ours, 2)
            key_b = ours_bench.get((name, rows))
            if key_b:
                rec["ours_bench_us"] = key_b
                rec["speedup_vs_bench"] = round(t_ref / key_b, 2)
            if rows == 1 and ours_bench.get((name, "b1_argmax")):
                rec["ours_bench_b1_argmax_us"] = ours_bench[(name, "b1_argmax")]
                rec["speedup_b1_argmax_vs_bench"] = round(t_ref_argmax / ours_bench[(name, "b1_argmax")], 2)
            sp = rec.get("speedup_in_process") or rec.get("speedup_vs_bench")
            if sp:
                worst_speedup = min(worst_speedup, sp)
            result["results"].append(rec)
            print(json.dumps(rec))
            del e, a, ref
            torch.cuda.empty_cache()
    result["worst_speedup"] = None if worst_speedup == math.inf else worst_speedup
    result["speedup_target"] = 20
    json.dump(result, open(args.out, "w"), indent=2)
    print(f"worst speedup over the PyTorch reference: {result['worst_speedup']} (target 20x)")
    bad = [c for c in result["checks"] if not c.get("ok")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
