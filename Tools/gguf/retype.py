#!/usr/bin/env python3
"""Rewrites a GGUF file with its tensors in other ggml types, metadata unchanged.

    python3 Tools/gguf/retype.py IN.gguf OUT.gguf --type F32 [--keep Q8_0,F32]

Every tensor is dequantized with the `gguf` package (gguf.quants.dequantize) and, unless its
type is in --keep, stored as --type (F32, F16, BF16 or Q8_0, quantized by gguf.quants.quantize).
Used to make versions of a real model in the types hamrun computes with (an F32 SmolLM2 holds
exactly the values transformers computes on) and bad or unusual files for the tests.
"""
import argparse

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q


def copy_metadata(reader: gguf.GGUFReader, writer: gguf.GGUFWriter) -> None:
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        kind = field.types[0]
        value = field.contents()
        if kind == gguf.GGUFValueType.ARRAY:
            sub = field.types[-1]
            writer.add_key_value(key, value, kind, sub_type=sub)
        else:
            writer.add_key_value(key, value, kind)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--type", default="F32", choices=["F32", "F16", "BF16", "Q8_0"])
    parser.add_argument("--keep", default="", help="comma-separated ggml types stored unchanged")
    args = parser.parse_args()

    reader = gguf.GGUFReader(args.input)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(args.output, arch)
    copy_metadata(reader, writer)
    keep = {Q[name] for name in args.keep.split(",") if name}
    target = Q[args.type]
    for t in reader.tensors:
        shape = [int(d) for d in reversed(t.shape)]  # outermost first, as numpy holds it
        if t.tensor_type in keep:
            writer.add_tensor(t.name, np.asarray(t.data), raw_shape=gguf.quant_shape_to_byte_shape(shape, t.tensor_type) if t.tensor_type not in (Q.F32, Q.F16) else shape, raw_dtype=t.tensor_type)
            continue
        values = gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float32)
        kind = target if values.ndim >= 2 and shape[-1] % gguf.GGML_QUANT_SIZES[target][0] == 0 else Q.F32
        if kind == Q.F32:
            writer.add_tensor(t.name, values)
        elif kind == Q.F16:
            writer.add_tensor(t.name, values.astype(np.float16))
        else:
            data = gguf.quants.quantize(values, kind)
            writer.add_tensor(t.name, data, raw_shape=data.shape, raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
