#!/usr/bin/env python3
"""Q8_0 test vectors from the `gguf` package (PyPI), the quantizer llama.cpp's Python tools use:
input floats and the blocks gguf.quants.quantize makes of them, so hamrun's quantizer is checked
against the reference implementation byte for byte.

    pip install gguf numpy && python3 Tools/quantize/make_q8_0_vectors.py > Tests/Fixtures/q8_0/vectors.json
"""
import json

import numpy as np
from gguf import GGMLQuantizationType
from gguf.quants import quantize

rng = np.random.default_rng(1234)
rows = [
    rng.standard_normal(64).astype(np.float32) * 0.02,        # weights of a trained-model scale
    rng.standard_normal(32).astype(np.float32) * 3,
    np.zeros(32, dtype=np.float32),                            # an all-zero block: d = 0
    np.array([127.0, -127.0] + [0.5] * 30, dtype=np.float32),  # exact halves round away from zero
    (np.arange(96, dtype=np.float32) - 48) / 7,
    rng.uniform(-1e-6, 1e-6, 32).astype(np.float32),           # tiny: the f16 scale is subnormal
]
vectors = []
for x in rows:
    blocks = quantize(x.reshape(1, -1), GGMLQuantizationType.Q8_0)
    vectors.append({"input": [float(v) for v in x], "q8_0": blocks.tobytes().hex()})
print(json.dumps({"generator": "gguf.quants.quantize(..., Q8_0)", "vectors": vectors}))
