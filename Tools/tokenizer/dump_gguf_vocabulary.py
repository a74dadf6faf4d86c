#!/usr/bin/env python3
"""Writes a GGUF file's tokenizer metadata as JSON, with the `gguf` package.

    python3 Tools/tokenizer/dump_gguf_vocabulary.py MODEL.gguf OUT.json

One JSON object, keyed by the GGUF keys (`tokenizer.ggml.tokens`, ...), holding what
`TokenizerVocabulary` holds: a second reading of the metadata, independent of hamrun's GGUF
reader, for comparing the two.
"""
import json
import sys

from gguf import GGUFReader
from gguf.constants import GGUFValueType

KEYS = [
    "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id", "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.fim_pre_token_id",
    "tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.fim_pad_token_id",
    "tokenizer.ggml.fim_rep_token_id", "tokenizer.ggml.fim_sep_token_id", "tokenizer.ggml.add_bos_token",
    "tokenizer.ggml.add_eos_token", "tokenizer.chat_template",
]


def value(field):
    def scalar(part, kind):
        if kind == GGUFValueType.STRING:
            return bytes(part).decode("utf-8")
        if kind == GGUFValueType.BOOL:
            return bool(part[0])
        return part[0].item()

    kind = field.types[0]
    if kind == GGUFValueType.ARRAY:
        return [scalar(field.parts[i], field.types[1]) for i in field.data]
    return scalar(field.parts[field.data[0]], kind)


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    reader = GGUFReader(sys.argv[1])
    out = {k: value(reader.fields[k]) for k in KEYS if k in reader.fields}
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
