#!/usr/bin/env python3
"""A checksum of every tensor of a GGUF file as `gguf.quants.dequantize` decodes it: the
reference for hamrun's decoding of a real model, small enough to commit. The checksum of the
float32 values v_i (in the file's element order) is sum over i of bits(v_i) * (2i + 1) mod 2^64:
any changed bit changes it (the weights are odd, so invertible mod 2^64), and a test computes
it in a second where a cryptographic hash of 135 M values would take minutes unoptimized.

    python3 Tools/quantize/hash_real_model.py ~/.cache/hamrun/models/SmolLM2-135M-Instruct.Q4_1.gguf \
        > Tests/Fixtures/quant/smollm2-q4_1-dequantized.json
"""
import hashlib
import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

path = Path(sys.argv[1])
reader = GGUFReader(path)
sha = hashlib.sha256(path.read_bytes()).hexdigest()
tensors = {}
for t in reader.tensors:
    values = dequantize(t.data, t.tensor_type).astype("<f4")
    assert values.size == int(np.prod(t.shape)), t.name
    bits = values.reshape(-1).view("<u4").astype(np.uint64)
    weights = np.arange(values.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    with np.errstate(over="ignore"):
        checksum = int(np.sum(bits * weights, dtype=np.uint64))
    tensors[t.name] = {"type": t.tensor_type.name, "elements": int(values.size), "checksum": f"{checksum:016x}"}
print(json.dumps({"file": path.name, "file_sha256": sha,
                  "generator": f"gguf.quants.dequantize (gguf {version('gguf')}, numpy {np.__version__})",
                  "tensors": tensors}, indent=1, sort_keys=True))
