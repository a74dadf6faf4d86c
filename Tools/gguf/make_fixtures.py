#!/usr/bin/env python3
"""Writes the GGUF test fixtures in Tests/Fixtures/gguf/ with the `gguf` package (PyPI), the
writer llama.cpp's own conversion scripts use:

- tiny-llama3.gguf: the tiny reference base model (Tests/Fixtures/tiny-hamburger-ref/base, a
  Hugging Face Llama with Llama 3 RoPE scaling and tied embeddings, bfloat16) converted the way
  llama.cpp's convert_hf_to_gguf.py converts a Llama: tensors renamed (token_embd, blk.N.attn_q,
  ...), the rows of q_proj and k_proj permuted for llama.cpp's RoPE on adjacent pairs, the Llama 3
  scaling stored as per-frequency factors in rope_freqs.weight, no output.weight (tied), the
  tokenizer as gpt2-type metadata (pre-tokenizer llama-bpe). Weights keep their bfloat16 bits,
  so hamrun on this file must reproduce the reference's base cases (expected.json) exactly as it
  does on the safetensors directory.
- all-types.gguf: one metadata entry of every GGUF type, arrays of every element type, a
  nested array, and small tensors in F32, F16, BF16, Q8_0, Q5_0 and Q2_K with known values; the
  reader tests check every value.

    python3 Tools/gguf/make_fixtures.py            # rewrites both files
"""
import json
import math
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "Tests/Fixtures/tiny-hamburger-ref/base"
OUT = ROOT / "Tests/Fixtures/gguf"

HF_TO_GGUF = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def gguf_name(name: str) -> str:
    stem, suffix = name.rsplit(".", 1)
    if stem == "model.embed_tokens":
        return "token_embd." + suffix
    if stem == "model.norm":
        return "output_norm." + suffix
    if stem == "lm_head":
        return "output." + suffix
    parts = stem.split(".", 3)  # model, layers, N, rest
    return f"blk.{parts[2]}.{HF_TO_GGUF[parts[3]]}.{suffix}"


def permute(w: torch.Tensor, heads: int) -> torch.Tensor:
    """llama.cpp's LlamaModel.permute: inside every head, rows [first half | second half] become
    interleaved (row 2j = row j, row 2j+1 = row j + half), so rotating adjacent pairs rotates
    the pairs Hugging Face rotates."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_factors(config: dict) -> np.ndarray:
    """The factors llama.cpp's converter stores in rope_freqs.weight for Llama 3 scaling: the
    Hugging Face scaled frequency is the plain frequency divided by its factor."""
    s = config["rope_scaling"]
    dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    freqs = 1.0 / (config["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    low, high, factor = s["low_freq_factor"], s["high_freq_factor"], s["factor"]
    old = s["original_max_position_embeddings"]
    factors = []
    for f in freqs.tolist():
        wavelength = 2 * math.pi / f
        if wavelength < old / high:
            factors.append(1.0)
        elif wavelength > old / low:
            factors.append(factor)
        else:
            smooth = (old / wavelength - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def bf16_bytes(t: torch.Tensor) -> np.ndarray:
    """A bfloat16 tensor's bits as the uint8 rows GGUFWriter takes for raw types."""
    bits = t.contiguous().view(torch.int16).numpy().view(np.uint8)
    return bits.reshape(*t.shape[:-1], t.shape[-1] * 2)


def add_tokenizer(writer: gguf.GGUFWriter, tokenizer: dict, bos: int, eos: int) -> None:
    vocab = dict(tokenizer["model"]["vocab"])
    special = set()
    for added in tokenizer["added_tokens"]:
        vocab[added["content"]] = added["id"]
        if added["special"]:
            special.add(added["id"])
    tokens = [None] * len(vocab)
    for text, i in vocab.items():
        tokens[i] = text
    assert all(t is not None for t in tokens)
    merges = [m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("llama-bpe")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL for i in range(len(tokens))])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(bos)
    writer.add_eos_token_id(eos)
    writer.add_add_bos_token(True)


def tiny_llama3() -> None:
    config = json.loads((BASE / "config.json").read_text())
    tensors = load_file(BASE / "model.safetensors")
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // heads

    writer = gguf.GGUFWriter(OUT / "tiny-llama3.gguf", "llama")
    writer.add_name("tiny-hamburger-ref base")
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(config["rope_theta"])
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(config["vocab_size"])
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_BF16)
    add_tokenizer(writer, json.loads((BASE / "tokenizer.json").read_text()), config["bos_token_id"], config["eos_token_id"])

    writer.add_tensor("rope_freqs.weight", llama3_rope_factors(config))
    for name, t in tensors.items():
        if name == "lm_head.weight" and config["tie_word_embeddings"]:
            continue
        if name.endswith("q_proj.weight"):
            t = permute(t, heads)
        elif name.endswith("k_proj.weight"):
            t = permute(t, kv_heads)
        if t.dtype == torch.bfloat16:
            writer.add_tensor(gguf_name(name), bf16_bytes(t), raw_dtype=Q.BF16)
        else:
            writer.add_tensor(gguf_name(name), t.float().numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def all_types() -> None:
    writer = gguf.GGUFWriter(OUT / "all-types.gguf", "test")
    writer.add_uint8("t.uint8", 200)
    writer.add_int8("t.int8", -100)
    writer.add_uint16("t.uint16", 60000)
    writer.add_int16("t.int16", -30000)
    writer.add_uint32("t.uint32", 4_000_000_000)
    writer.add_int32("t.int32", -2_000_000_000)
    writer.add_uint64("t.uint64", 18_000_000_000_000_000_000)
    writer.add_int64("t.int64", -9_000_000_000_000_000_000)
    writer.add_float32("t.float32", 0.15625)
    writer.add_float64("t.float64", -2.5e-300)
    writer.add_bool("t.bool", True)
    writer.add_string("t.string", "héllo, 世界 🌍")
    writer.add_string("t.empty", "")
    for kind, values in [(V.UINT8, [0, 255]), (V.INT8, [-128, 127]), (V.UINT16, [1, 65535]), (V.INT16, [-32768, 7]),
                         (V.UINT32, [3, 4294967295]), (V.INT32, [-5, 6]), (V.UINT64, [2**64 - 1]), (V.INT64, [-(2**63)]),
                         (V.FLOAT32, [1.5, -0.25]), (V.FLOAT64, [1e300]), (V.BOOL, [True, False, True]),
                         (V.STRING, ["a", "", "Ġb"])]:
        writer.add_key_value(f"a.{kind.name.lower()}", values, V.ARRAY, sub_type=kind)
    writer.add_key_value("a.nested", [[1, 2], [3]], V.ARRAY, sub_type=V.ARRAY)

    arange = np.arange(64, dtype=np.float32).reshape(2, 32) - 32   # [-32, 31], 2 rows of one block
    writer.add_tensor("f32", arange)
    writer.add_tensor("f16", arange.astype(np.float16))
    writer.add_tensor("bf16", bf16_bytes(torch.from_numpy(arange).to(torch.bfloat16)), raw_dtype=Q.BF16)
    q8 = gguf.quants.quantize(arange, Q.Q8_0)
    writer.add_tensor("q8_0", q8, raw_shape=q8.shape, raw_dtype=Q.Q8_0)
    writer.add_tensor("vector", np.array([1, 2, 3], dtype=np.float32))
    q5 = np.arange(22, dtype=np.uint8).reshape(1, 22)              # one Q5_0 block of 32
    writer.add_tensor("q5_0", q5, raw_shape=q5.shape, raw_dtype=Q.Q5_0)
    q2 = np.arange(84, dtype=np.uint8).reshape(1, 84)              # one Q2_K block of 256: a type hamrun lacks
    writer.add_tensor("q2_k", q2, raw_shape=q2.shape, raw_dtype=Q.Q2_K)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    tiny_llama3()
    all_types()
    for f in sorted(OUT.glob("*.gguf")):
        print(f"{f.relative_to(ROOT)}: {f.stat().st_size} bytes")
