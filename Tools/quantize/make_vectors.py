#!/usr/bin/env python3
"""Test vectors for hamrun's block types, from the `gguf` package (PyPI), the reference
llama.cpp's Python tools use:

- dequantize: random blocks of every block type (random bytes, with finite random f16 scales,
  zeros and subnormals among them) and the float32 values `gguf.quants.dequantize` makes of
  them, so hamrun's decoding is checked bit for bit;
- quantize: input floats and the Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 blocks `gguf.quants.quantize` makes of
  them (gguf has no quantizer for the K-quants).

Byte strings are base64; values are little-endian float32 bytes, base64 too (bit-exact, NaN-safe).

    pip install gguf numpy && python3 Tools/quantize/make_vectors.py Tests/Fixtures/quant
"""
import base64
import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

rng = np.random.default_rng(20261201)


def b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()


def random_halves(count: int) -> np.ndarray:
    """Finite f16 bit patterns: mostly weight-like magnitudes, some zeros, subnormals, extremes."""
    values = rng.standard_normal(count).astype(np.float32) * np.float32(0.01)
    kinds = rng.integers(0, 10, count)
    bits = values.astype(np.float16).view(np.uint16).copy()
    raw = rng.integers(0, 1 << 16, count, dtype=np.uint16)
    raw = np.where((raw & 0x7C00) == 0x7C00, raw & 0x83FF, raw)       # no inf/NaN exponents
    bits = np.where(kinds == 0, np.uint16(0), bits)                    # zero scale
    bits = np.where(kinds == 1, raw & np.uint16(0x83FF), bits)          # subnormal (or zero)
    bits = np.where(kinds == 2, raw, bits)                              # any finite value
    return bits.astype(np.uint16)


# Where each block type keeps its f16 fields (byte offsets).
HALF_FIELDS = {
    T.Q8_0: [0], T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}


def random_blocks(qtype: T, count: int) -> np.ndarray:
    _, size = GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, (count, size), dtype=np.uint8)
    for offset in HALF_FIELDS[qtype]:
        blocks[:, offset:offset + 2] = random_halves(count).view(np.uint8).reshape(count, 2)
    return blocks


dequantize_cases = {}
for qtype, count in [(T.Q8_0, 64), (T.Q4_0, 64), (T.Q4_1, 64), (T.Q4_K, 16), (T.Q5_K, 16), (T.Q6_K, 16), (T.Q5_0, 64), (T.Q5_1, 64)]:
    block_elements, _ = GGML_QUANT_SIZES[qtype]
    blocks = random_blocks(qtype, count)
    values = dequantize(blocks.reshape(1, -1), qtype).astype(np.float32)
    assert values.shape == (1, count * block_elements) and np.isfinite(values).all()
    dequantize_cases[qtype.name.lower()] = {"elements": count * block_elements, "blocks": b64(blocks), "values": b64(values)}

rows = [
    rng.standard_normal(64).astype(np.float32) * 0.02,         # weights of a trained-model scale
    rng.standard_normal(32).astype(np.float32) * 3,
    np.zeros(32, dtype=np.float32),                             # an all-zero block: d = 0
    np.full(32, 0.25, dtype=np.float32),                        # constant: Q4_1's d = 0
    np.array([127.0, -127.0] + [0.5] * 30, dtype=np.float32),   # ties for the largest magnitude
    (np.arange(96, dtype=np.float32) - 48) / 7,                 # exact halves on the grids
    rng.uniform(-1e-6, 1e-6, 32).astype(np.float32),            # tiny: the f16 scale is subnormal
    rng.uniform(-4, 4, 256).astype(np.float32),
]
quantize_cases = []
for x in rows:
    case = {"input": b64(x)}
    for qtype in (T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1):
        case[qtype.name.lower()] = b64(quantize(x.reshape(1, -1), qtype))
    quantize_cases.append(case)

out = Path(sys.argv[1] if len(sys.argv) > 1 else "Tests/Fixtures/quant")
out.mkdir(parents=True, exist_ok=True)
generator = f"gguf {version('gguf')}, numpy {np.__version__}"
(out / "dequantize.json").write_text(json.dumps({"generator": f"gguf.quants.dequantize ({generator})", "types": dequantize_cases}) + "\n")
(out / "quantize.json").write_text(json.dumps({"generator": f"gguf.quants.quantize ({generator})", "cases": quantize_cases}) + "\n")
print(f"wrote {out}/dequantize.json and {out}/quantize.json ({generator})")
