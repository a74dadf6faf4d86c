"""Writes the fuzzers' seed corpora into Tests/Fixtures/fuzz/NAME (small, valid inputs of each
parser; the fuzzer mutates from there). Run from the repository root:

    python3 Tools/fuzz/make_seeds.py

Needs torch and safetensors (pip). Copies a few existing fixtures; the rest is made here.
"""
import io
import json
import os
import pickle
import shutil
import zipfile
from collections import OrderedDict

import torch
from safetensors.torch import save as safetensors_save

ROOT = "Tests/Fixtures/fuzz"
FIX = "Tests/Fixtures"


def put(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def copy(target, name, source):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    shutil.copyfile(source, os.path.join(ROOT, target, name))


TARGETS = ["json", "config", "safetensors", "zip", "pickle", "tokenizer", "gguf"]


def main():
    # The seed folders only; README.md and regressions/ stay.
    for target in TARGETS:
        shutil.rmtree(os.path.join(ROOT, target), ignore_errors=True)

    # JSON of every kind.
    put("json", "kinds.json", json.dumps({"s": "a\u00e9\n\"\\/\U0001F600", "i": -12, "f": 1.5e-3, "t": True,
                                          "n": None, "a": [1, [2, 3], {}], "o": {"k": "v"}}, ensure_ascii=True))
    put("json", "unicode.json", json.dumps(["\u0000\u001f", "\ud7ff\ue000", "plain"], ensure_ascii=False))
    put("json", "numbers.json", "[0, -0, 1e400, -9223372036854775808, 9223372036854775808, 0.5E+2, 12.0]")
    put("json", "nested.json", "[" * 40 + "]" * 40)
    copy("json", "generation_config.json", f"{FIX}/tiny-hamburger-ref/base/generation_config.json")

    # config.json: the fixtures' and a Llama 3.2 1B-shaped one with its RoPE scaling.
    copy("config", "tiny-hamburger.json", f"{FIX}/tiny-hamburger-ref/config.json")
    copy("config", "tiny-base.json", f"{FIX}/tiny-hamburger-ref/base/config.json")
    copy("config", "other-shapes.json", f"{FIX}/convert-other-shapes/base/config.json")
    put("config", "llama-3.2-1b.json", json.dumps({
        "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
        "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256, "rms_norm_eps": 1e-05,
        "rope_theta": 500000.0, "tie_word_embeddings": True, "bos_token_id": 128000,
        "eos_token_id": [128001, 128008, 128009], "max_position_embeddings": 131072,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "hamburger": {"max_steps": 4, "feature_layers": [3, 7, 11, 15], "merger_heads": 64,
                      "num_micro_layers": 4, "confidence": 0.7, "micro_attention": "causal"}}, indent=2))

    # safetensors: every dtype hamrun reads, metadata, a q8_0 file's U8 blocks.
    g = torch.Generator().manual_seed(0)
    put("safetensors", "dtypes.safetensors", safetensors_save({
        "f32": torch.randn(2, 3, generator=g), "f16": torch.randn(4, generator=g).half(),
        "bf16": torch.randn(2, 2, generator=g).bfloat16(), "empty": torch.zeros(0, 3)}, metadata={"format": "pt"}))
    put("safetensors", "q8_0.safetensors", safetensors_save(
        {"w": torch.randint(0, 255, (2, 34), dtype=torch.uint8, generator=g)}, metadata={"format": "pt", "quantization": "q8_0"}))

    # Checkpoints as torch.save writes them, a Lightning-shaped dict around a small state dict.
    state = OrderedDict([("model.embed_tokens.weight", torch.randn(4, 2, generator=g).bfloat16()),
                         ("model.norm.weight", torch.ones(2)),
                         ("tied", None)])
    state["tied"] = state["model.embed_tokens.weight"][1:3]
    buffer = io.BytesIO()
    torch.save({"state_dict": state, "hyper_parameters": {"max_steps": 4, "lr": 1e-4},
                "epoch": 3, "optimizer_states": [{"state": {}, "param_groups": [{"lr": 0.1}]}]}, buffer)
    put("zip", "lightning.ckpt", buffer.getvalue())
    copy("zip", "no-state-dict.ckpt", f"{FIX}/convert-bad/no-state-dict.ckpt")
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        pickled = [n for n in archive.namelist() if n.endswith("data.pkl")][0]
        put("pickle", "lightning.pkl", archive.read(pickled))

    # Pickles of the values checkpoints hold, in protocols 2 and 4.
    value = {"a": [1, 2**70, -5, -(2**33), 2.5, "x\u00e9", b"y", None, True, False, (1,), (1, 2), (1, 2, 3), ()],
             "od": OrderedDict([("k", 1)]), "s": {1}, "fs": frozenset([2]), "nested": [[[{"deep": (((),),)}]]]}
    for protocol in (2, 4):
        put("pickle", f"values-{protocol}.pkl", pickle.dumps(value, protocol))

    # tokenizer.json: the tiny byte-level BPE and its synthetic variants.
    copy("tokenizer", "tiny.json", f"{FIX}/tiny-tokenizer/tokenizer.json")
    for name in ("flags", "ignore-merges", "unk-fused"):
        copy("tokenizer", f"{name}.json", f"{FIX}/tiny-tokenizer/synthetic/{name}.json")

    # GGUF: the GGUF reader's small fixture (every metadata type).
    copy("gguf", "all-types.gguf", f"{FIX}/gguf/all-types.gguf")


if __name__ == "__main__":
    main()
