#!/usr/bin/env python3
"""Quantizes a GGUF with llama.cpp's own quantizer (llama-cpp-python's llama_model_quantize, what
llama.cpp's `llama-quantize` tool runs), for the real-model rows of compare.py.

    python llama_quantize.py IN.gguf OUT.gguf Q4_K_M|Q4_K_S|Q6_K|Q8_0|Q4_0|Q4_1 [--threads 2]

Prints one JSON line: the output and how many tensors of each ggml type it holds (llama.cpp
stores a matrix whose rows are not whole 256-element super-blocks in a fallback type: Q5_0 for
Q4_K, Q8_0 for Q6_K).
"""
import argparse
import ctypes
import json
from collections import Counter

from llama_run import silence_llama_cpp  # this folder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("type")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import llama_cpp as L
    import gguf

    silence_llama_cpp(L)
    params = L.llama_model_quantize_default_params()
    params.ftype = getattr(L, f"LLAMA_FTYPE_MOSTLY_{args.type.upper()}")
    params.nthread = args.threads
    rc = L.llama_model_quantize(args.input.encode(), args.output.encode(), ctypes.byref(params))
    if rc != 0:
        raise SystemExit(f"llama_model_quantize returned {rc}")
    types = Counter(t.tensor_type.name for t in gguf.GGUFReader(args.output).tensors)
    print(json.dumps({"output": args.output, "type": args.type, "tensor_types": dict(types)}))


if __name__ == "__main__":
    main()
