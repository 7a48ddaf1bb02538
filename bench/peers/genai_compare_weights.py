"""Compares the 4-bit weights of our `q4-sym` model folder with the int4 model onnxruntime-genai's builder made from
the same GGUF (bench/peers/genai_build.py): codes and scales of every layer's projections and of the head.
q/k/v rows are compared as sets per layer (the GGUF keeps q and k rows in llama.cpp's rotary order).

Usage: python genai_compare_weights.py OUR_Q4_SYM_DIR GENAI_INT4_DIR   (needs onnx and numpy)
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def initializers(path):
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer if "layers." in i.name or "head" in i.name}


ours_dir, genai_dir = sys.argv[1], sys.argv[2]
o = initializers(f"{ours_dir}/model.onnx")
g = initializers(f"{genai_dir}/model.onnx")
layers = sum(1 for k in o if k.endswith("self_attn.o_proj.q4_b"))
report = {}
for ours, theirs in [("self_attn.o_proj", ["attn.o_proj"]), ("mlp.down_proj", ["mlp.down_proj"]), ("mlp.gate_up", ["mlp.gate_proj", "mlp.up_proj"])]:
    diff = total = 0
    for layer in range(layers):
        for suffix, theirs_suffix in [("q4_b", "weight_Q4"), ("q4_scales", "weight_scales")]:
            a = o[f"model.layers.{layer}.{ours}.{suffix}"].reshape(-1)
            b = np.concatenate([g[f"model.layers.{layer}.{t}.MatMul.{theirs_suffix}"].reshape(-1) for t in theirs])
            diff += int((a != b).sum())
            total += a.size
    report[ours] = f"{diff} of {total} bytes/scales differ"
permuted = 0
for layer in range(layers):
    a = o[f"model.layers.{layer}.self_attn.qkv.q4_b"]
    b = g[f"model.layers.{layer}.attn.qkv_proj.MatMul.weight_Q4"]
    rows = lambda x: sorted(map(bytes, x.reshape(x.shape[0], -1)))
    permuted += rows(a) == rows(b)
report["self_attn.qkv"] = f"{permuted} of {layers} layers hold the same code rows (in another order)"
head_b = (o["model.embed_tokens.head.q4s_b"].reshape(-1) != g["lm_head.MatMul.weight_Q4"].reshape(-1)).sum()
head_s = (o["model.embed_tokens.head.q4s_scales"].reshape(-1) != g["lm_head.MatMul.weight_scales"].reshape(-1)).sum()
report["head"] = f"{int(head_b)} code bytes and {int(head_s)} scales differ"
for k, v in report.items():
    print(f"{k}: {v}")
