#!/usr/bin/env python3
"""Make the benchmark model: random weights with exactly Llama-3.2-1B-Instruct's shapes, plus
HAMburger modules of the authors' shapes.

    python3 Tools/bench/make_bench_model.py [--out DIR] [--seed N] [--force]

Writes (default DIR: ~/.cache/hamrun/bench-1b; never commit it, it is ~6.8 GB):

    DIR/hamburger-bf16/            hamrun model directory (docs/MODEL_FORMAT.md)
        config.json                Llama-3.2-1B-Instruct's LlamaConfig + a "hamburger" object
        generation_config.json
        model.safetensors          every tensor bfloat16 (base + HAMburger modules), ~3.0 GB
        tokenizer.json             the Llama 3 tokenizer (repo fixture, else /work/shared fixture)
    DIR/llama-1b-f16.gguf          the SAME base weights for llama.cpp, F16 (norms F32), ~2.5 GB
    DIR/llama-1b-q8_0.gguf         the same, Q8_0 (norms F32), ~1.3 GB
    DIR/MANIFEST.json              what was written, with the seed and byte counts

Weights: normal(0, 0.02) from torch's CPU generator seeded per tensor (seed, crc32(name)),
rounded to bfloat16; norm weights are 1. The GGUF files hold exactly those bfloat16 values
(converted to F16, or quantized to Q8_0 from them), with Q and K rows permuted the way
llama.cpp's convert_hf_to_gguf.py does for Llama, llama3 RoPE scaling as the `rope_freqs.weight`
factors that convert_hf_to_gguf.py writes, and the Llama 3 BPE tokenizer metadata
(gpt2 / llama-bpe) from tokenizer.json. Tied embeddings: no output.weight (llama.cpp reuses
token_embd). Tensors are generated and written one at a time (big ones in row chunks), so the
script needs ~2 GB of memory, not the model's size.

Needs: numpy, torch (CPU), gguf (PyPI). Takes a few minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import torch

import gguf
from gguf.quants import quantize as gguf_quantize

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = Path.home() / ".cache" / "hamrun" / "bench-1b"
TOKENIZER_CANDIDATES = [
    REPO / "Tests" / "Fixtures" / "llama3-tokenizer" / "tokenizer.json",
    Path("/work/shared/fixtures/llama3-tokenizer/tokenizer.json"),
]

# Llama-3.2-1B-Instruct (config.json of meta-llama/Llama-3.2-1B-Instruct).
CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": [128001, 128008, 128009],
    "head_dim": 64,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 8192,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 16,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 32.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "vocab_size": 128256,
    # The authors' HAMburger modules (arXiv 2505.20438): 4 micro-step layers, merger with 64 heads.
    "hamburger": {
        "max_steps": 4,
        "num_micro_layers": 4,
        "feature_layers": [3, 7, 11, 15],
        "merger_heads": 64,
        "confidence": 0.9,
    },
}
STD = 0.02
CHUNK_ELEMENTS = 16 * 1024 * 1024  # generate / convert big tensors in row chunks of at most this


def layer_tensors(prefix: str, c: dict) -> list[tuple[str, tuple[int, ...]]]:
    d, f = c["hidden_size"], c["intermediate_size"]
    q = c["num_attention_heads"] * c["head_dim"]
    kv = c["num_key_value_heads"] * c["head_dim"]
    return [
        (prefix + "input_layernorm.weight", (d,)),
        (prefix + "self_attn.q_proj.weight", (q, d)),
        (prefix + "self_attn.k_proj.weight", (kv, d)),
        (prefix + "self_attn.v_proj.weight", (kv, d)),
        (prefix + "self_attn.o_proj.weight", (d, q)),
        (prefix + "post_attention_layernorm.weight", (d,)),
        (prefix + "mlp.gate_proj.weight", (f, d)),
        (prefix + "mlp.up_proj.weight", (f, d)),
        (prefix + "mlp.down_proj.weight", (d, f)),
    ]


def base_tensors(c: dict) -> list[tuple[str, tuple[int, ...]]]:
    out = [("model.embed_tokens.weight", (c["vocab_size"], c["hidden_size"]))]
    for l in range(c["num_hidden_layers"]):
        out += layer_tensors(f"model.layers.{l}.", c)
    out.append(("model.norm.weight", (c["hidden_size"],)))
    return out


def hamburger_tensors(c: dict) -> list[tuple[str, tuple[int, ...]]]:
    d, h = c["hidden_size"], c["hamburger"]
    wp = d + d // 2
    out = [
        ("comp_embedder.merger.pos", (h["max_steps"], d // 2)),
        ("comp_embedder.merger.q_proj.weight", (d, d)),
        ("comp_embedder.merger.q_proj.bias", (d,)),
        ("comp_embedder.merger.k_proj.weight", (d, wp)),
        ("comp_embedder.merger.k_proj.bias", (d,)),
        ("comp_embedder.merger.v_proj.weight", (d, wp)),
        ("comp_embedder.merger.v_proj.bias", (d,)),
        ("comp_embedder.out_proj.weight", (d, d)),
        ("comp_embedder.out_proj.bias", (d,)),
    ]
    for j in range(h["num_micro_layers"]):
        out += layer_tensors(f"micro_step_decoder.decoders.{j}.", c)
    out += [
        ("micro_step_decoder.stop_head.0.weight", (d, d)),
        ("micro_step_decoder.stop_head.0.bias", (d,)),
        ("micro_step_decoder.stop_head.2.weight", (d, d)),
        ("micro_step_decoder.stop_head.2.bias", (d,)),
        ("micro_step_decoder.stop_head.4.weight", (1, d)),
        ("micro_step_decoder.stop_head.4.bias", (1,)),
    ]
    return out


def is_norm(name: str) -> bool:
    return name.endswith("layernorm.weight") or name == "model.norm.weight"


def chunks(name: str, shape: tuple[int, ...], seed: int):
    """The tensor's values as float32 row chunks (rounded to bfloat16 values), deterministic."""
    rows = shape[0]
    cols = math.prod(shape[1:]) if len(shape) > 1 else 1
    if is_norm(name):
        yield torch.ones(shape, dtype=torch.float32)
        return
    g = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
    step = max(1, CHUNK_ELEMENTS // cols)
    for r in range(0, rows, step):
        n = min(step, rows - r)
        part = torch.randn((n,) + tuple(shape[1:]), generator=g, dtype=torch.float32) * STD
        yield part.to(torch.bfloat16).to(torch.float32)  # the stored values


# ---- GGUF -------------------------------------------------------------------------------------

def gguf_name(hf: str) -> str | None:
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    parts = hf.split(".")
    if parts[:2] == ["model", "layers"]:
        l = int(parts[2])
        rest = ".".join(parts[3:])
        table = {
            "input_layernorm.weight": "attn_norm.weight",
            "self_attn.q_proj.weight": "attn_q.weight",
            "self_attn.k_proj.weight": "attn_k.weight",
            "self_attn.v_proj.weight": "attn_v.weight",
            "self_attn.o_proj.weight": "attn_output.weight",
            "post_attention_layernorm.weight": "ffn_norm.weight",
            "mlp.gate_proj.weight": "ffn_gate.weight",
            "mlp.up_proj.weight": "ffn_up.weight",
            "mlp.down_proj.weight": "ffn_down.weight",
        }
        return f"blk.{l}.{table[rest]}"
    return None


def permute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py LlamaModel.permute: HF's rotate-half layout → GGML's interleaved pairs."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2)
            .reshape(w.shape))


def llama3_rope_factors(c: dict) -> np.ndarray:
    """convert_hf_to_gguf.py LlamaModel.generate_extra_tensors for rope_type llama3."""
    rs = c["rope_scaling"]
    base, dim = c["rope_theta"], c["head_dim"]
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    out = []
    for freq in freqs.tolist():
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.asarray(out, dtype=np.float32)


def tokenizer_metadata(tokenizer_path: Path, vocab_size: int):
    """tokens, token types and merges as convert_hf_to_gguf.py's get_vocab_base does it."""
    t = json.loads(tokenizer_path.read_text(encoding="utf-8"))
    reverse = {i: tok for tok, i in t["model"]["vocab"].items()}
    added = {a["id"]: a for a in t.get("added_tokens", [])}
    dropped = [i for i in added if i >= vocab_size]
    for i, a in added.items():
        if i < vocab_size:
            reverse[i] = a["content"]
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            tokens.append(reverse[i])
            types.append(gguf.TokenType.CONTROL if added[i].get("special") else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(reverse[i])
            types.append(gguf.TokenType.NORMAL)
    merges = t["model"]["merges"]
    if merges and not isinstance(merges[0], str):  # newer tokenizers.json: [["a", "b"], ...]
        merges = [" ".join(m) for m in merges]
    return tokens, types, merges, dropped


class GGUFOut:
    """A GGUF file written tensor by tensor (row chunks), with the tensor infos declared first."""

    def __init__(self, path: Path, c: dict, ftype: int, qtype: gguf.GGMLQuantizationType,
                 tokens, types, merges, name: str):
        self.path, self.qtype = path, qtype
        w = gguf.GGUFWriter(str(path), "llama")
        w.add_type("model")
        w.add_name(name)
        w.add_file_type(ftype)
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
        w.add_block_count(c["num_hidden_layers"])
        w.add_context_length(c["max_position_embeddings"])
        w.add_embedding_length(c["hidden_size"])
        w.add_feed_forward_length(c["intermediate_size"])
        w.add_head_count(c["num_attention_heads"])
        w.add_head_count_kv(c["num_key_value_heads"])
        w.add_rope_freq_base(c["rope_theta"])
        w.add_layer_norm_rms_eps(c["rms_norm_eps"])
        w.add_key_length(c["head_dim"])
        w.add_value_length(c["head_dim"])
        w.add_vocab_size(c["vocab_size"])
        w.add_rope_dimension_count(c["head_dim"])
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("llama-bpe")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        w.add_bos_token_id(c["bos_token_id"])
        w.add_eos_token_id(128009)  # <|eot_id|>, what Llama-3.2-*-Instruct GGUFs carry
        w.add_eot_token_id(128009)
        w.add_eom_token_id(128008)
        w.add_add_bos_token(True)
        w.add_add_eos_token(False)
        self.writer = w
        self.tensor_bytes = 0

    def declare(self, name: str, shape: tuple[int, ...], kind: str):
        """kind: 'f32' (norms, rope factors) or 'w' (the file's weight type)."""
        if kind == "f32":
            nbytes = math.prod(shape) * 4
            self.writer.add_tensor_info(name, shape, np.dtype(np.float32), nbytes)
        elif self.qtype == gguf.GGMLQuantizationType.F16:
            nbytes = math.prod(shape) * 2
            self.writer.add_tensor_info(name, shape, np.dtype(np.float16), nbytes)
        else:
            block, tbytes = gguf.GGML_QUANT_SIZES[self.qtype]
            byte_shape = (*shape[:-1], shape[-1] // block * tbytes)
            nbytes = math.prod(byte_shape)
            self.writer.add_tensor_info(name, byte_shape, np.dtype(np.uint8), nbytes, raw_dtype=self.qtype)
        self.tensor_bytes += nbytes

    def start(self):
        self.writer.write_header_to_file()
        self.writer.write_kv_data_to_file()
        self.writer.write_ti_data_to_file()
        self.fout = self.writer.fout[0]
        self.align = self.writer.data_alignment

    def begin_tensor(self):
        pad = -self.fout.tell() % self.align
        self.fout.write(b"\0" * pad)
        self.written = 0

    def write_chunk(self, values: np.ndarray, kind: str):
        if kind == "f32":
            data = values.astype(np.float32)
        elif self.qtype == gguf.GGMLQuantizationType.F16:
            data = values.astype(np.float16)
        else:
            data = gguf_quantize(values, self.qtype)
        data.tofile(self.fout)
        self.written += data.nbytes

    def end_tensor(self):
        pad = -self.written % self.align
        self.fout.write(b"\0" * pad)

    def close(self):
        self.writer.close()


# ---- safetensors ------------------------------------------------------------------------------

class SafetensorsOut:
    """model.safetensors written tensor by tensor: the header is known from the shapes."""

    def __init__(self, path: Path, tensors: list[tuple[str, tuple[int, ...]]]):
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for name, shape in tensors:
            n = math.prod(shape) * 2
            header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
            offset += n
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)
        self.f = open(path, "wb")
        self.f.write(struct.pack("<Q", len(raw)))
        self.f.write(raw)
        self.total = offset

    def write_chunk(self, values: torch.Tensor):
        self.f.write(values.to(torch.bfloat16).view(torch.int16).numpy().tobytes())

    def close(self):
        self.f.close()


# ---- main -------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    ap.add_argument("--seed", type=int, default=20250526)
    ap.add_argument("--force", action="store_true", help="rewrite even if DIR/MANIFEST.json exists")
    ap.add_argument("--no-gguf", action="store_true", help="only the hamrun model directory")
    args = ap.parse_args()

    out: Path = args.out.expanduser()
    if (out / "MANIFEST.json").exists() and not args.force:
        print(f"{out} is complete (MANIFEST.json); --force to rewrite")
        return 0
    tokenizer = next((p for p in TOKENIZER_CANDIDATES if p.exists()), None)
    if tokenizer is None:
        sys.exit("no Llama 3 tokenizer.json in " + ", ".join(map(str, TOKENIZER_CANDIDATES)))
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    c = CONFIG
    model_dir = out / "hamburger-bf16"
    model_dir.mkdir(parents=True, exist_ok=True)
    (out / "MANIFEST.json").unlink(missing_ok=True)

    base = base_tensors(c)
    ham = hamburger_tensors(c)
    tmp_st = model_dir / "model.safetensors.partial"
    st = SafetensorsOut(tmp_st, base + ham)

    ggufs: list[GGUFOut] = []
    if not args.no_gguf:
        tokens, types, merges, dropped = tokenizer_metadata(tokenizer, c["vocab_size"])
        if dropped:
            print(f"note: tokenizer.json has added tokens with ids {dropped} >= vocab_size {c['vocab_size']};"
                  " left out of the GGUF vocabulary (Llama-3.2-1B has ids 0..128255)")
        for fname, ftype, qtype in [("llama-1b-f16.gguf", gguf.LlamaFileType.MOSTLY_F16, gguf.GGMLQuantizationType.F16),
                                    ("llama-1b-q8_0.gguf", gguf.LlamaFileType.MOSTLY_Q8_0, gguf.GGMLQuantizationType.Q8_0)]:
            g = GGUFOut(out / (fname + ".partial"), c, int(ftype), qtype, tokens, types, merges,
                        "hamrun bench: random weights, Llama-3.2-1B-Instruct shapes")
            for name, shape in base:
                g.declare(gguf_name(name), shape, "f32" if len(shape) == 1 else "w")
            g.declare("rope_freqs.weight", (c["head_dim"] // 2,), "f32")
            g.start()
            ggufs.append(g)

    t0 = time.time()
    n_params = {"base": 0, "hamburger": 0}
    for group, tensors in [("base", base), ("hamburger", ham)]:
        for name, shape in tensors:
            n_params[group] += math.prod(shape)
            gname = gguf_name(name) if group == "base" else None
            kind = "f32" if len(shape) == 1 else "w"
            perm = None
            if gname and gname.endswith("attn_q.weight"):
                perm = c["num_attention_heads"]
            elif gname and gname.endswith("attn_k.weight"):
                perm = c["num_key_value_heads"]
            for g in ggufs if gname else []:
                g.begin_tensor()
            for part in chunks(name, shape, args.seed):
                st.write_chunk(part)
                if gname and ggufs:
                    values = part.numpy()
                    if perm is not None:
                        assert part.shape[0] == shape[0], "Q/K must come in one chunk to be permuted"
                        values = permute_qk(values, perm)
                    for g in ggufs:
                        g.write_chunk(values, kind)
            for g in ggufs if gname else []:
                g.end_tensor()
            print(f"\r{time.time() - t0:6.1f}s {name:60s}", end="", flush=True)
    print()
    rope = llama3_rope_factors(c)
    for g in ggufs:
        g.begin_tensor()
        g.write_chunk(rope, "f32")
        g.end_tensor()
        g.close()
        g.path.rename(out / g.path.name.removesuffix(".partial"))
    st.close()
    tmp_st.rename(model_dir / "model.safetensors")

    (model_dir / "config.json").write_text(json.dumps(c, indent=2) + "\n")
    (model_dir / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": c["bos_token_id"], "eos_token_id": c["eos_token_id"], "do_sample": False}, indent=2) + "\n")
    shutil.copyfile(tokenizer, model_dir / "tokenizer.json")

    manifest = {
        "what": "hamrun benchmark model: random weights (normal std 0.02, norms 1) with "
                "Llama-3.2-1B-Instruct shapes + HAMburger modules; never commit",
        "seed": args.seed,
        "tokenizer": str(tokenizer),
        "params": n_params,
        "safetensors_bytes": st.total,
        "gguf_tensor_bytes": {g.path.name.removesuffix(".partial"): g.tensor_bytes for g in ggufs},
        "seconds": round(time.time() - t0, 1),
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
