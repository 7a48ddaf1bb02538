"""Makes the onnxruntime-genai peer models from the SmolLM2 GGUF, offline: transformers dequantises the GGUF to a
float32 Hugging Face folder, then onnxruntime-genai's own model builder writes fp32 and int4 CPU models.

Usage: python genai_build.py GGUF OUT_DIR   (writes OUT_DIR/hf, OUT_DIR/fp32, OUT_DIR/int4)
"""
import os
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

gguf, out = sys.argv[1], sys.argv[2]
hf = os.path.join(out, "hf")
if not os.path.exists(os.path.join(hf, "config.json")):
    d, f = os.path.split(gguf)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32)
    model.save_pretrained(hf)
    AutoTokenizer.from_pretrained(d, gguf_file=f).save_pretrained(hf)
for precision in ("fp32", "int4"):
    target = os.path.join(out, precision)
    if os.path.exists(os.path.join(target, "genai_config.json")):
        continue
    subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", hf, "-o", target, "-p", precision, "-e", "cpu",
                    "-c", os.path.join(out, "cache")], check=True)
