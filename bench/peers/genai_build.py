"""Makes the onnxruntime-genai peer models from the SmolLM2 GGUF, offline: transformers dequantises the GGUF to a
float32 Hugging Face folder, then onnxruntime-genai's own model builder writes fp32 and int4 CPU models.

Usage: python genai_build.py GGUF OUT_DIR   (writes OUT_DIR/hf, OUT_DIR/fp32, OUT_DIR/int4)
"""
import json
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
    # the weights are already dequantised to float32; transformers only refuses to save because the model is
    # marked as loaded through its GGUF "quantizer"
    model.hf_quantizer = None
    # (transformers 4.57 serialises any quantization_config attribute, None included: remove it)
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    model.save_pretrained(hf)
    AutoTokenizer.from_pretrained(d, gguf_file=f).save_pretrained(hf)
    # the builder reads quantization_config with .get(): drop the null entry save_pretrained wrote
    cfg_file = os.path.join(hf, "config.json")
    cfg = json.load(open(cfg_file))
    if cfg.get("quantization_config", 0) is None:
        del cfg["quantization_config"]
        json.dump(cfg, open(cfg_file, "w"), indent=2)
for precision in ("fp32", "int4"):
    target = os.path.join(out, precision)
    if os.path.exists(os.path.join(target, "genai_config.json")):
        continue
    subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", hf, "-o", target, "-p", precision, "-e", "cpu",
                    "-c", os.path.join(out, "cache")], check=True)
