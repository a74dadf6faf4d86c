#!/usr/bin/env python3
"""Check that the bench GGUFs are the same model as the hamrun directory.

    ~/.cache/hamrun/venv/bin/python Tools/bench/verify_gguf.py [--dir ~/.cache/hamrun/bench-1b]

(Needs llama-cpp-python, torch, safetensors; the venv compare.py makes has them.)

1. llama-cpp-python loads llama-1b-f16.gguf and llama-1b-q8_0.gguf and greedily generates 8 tokens
   after the bench prompt (llama.cpp refuses a file with a tensor it does not use, so loading also
   shows that `rope_freqs.weight` is taken as the llama3 RoPE factors).
2. The last-position logits of a 64-token prompt from llama.cpp are compared with a float32
   PyTorch forward of Hugging Face's Llama (rotate-half RoPE with llama3 scaling, GQA, tied
   lm_head) over hamburger-bf16/model.safetensors. As controls the reference is also computed
   with interleaved (GPT-J) RoPE, i.e. what llama.cpp would compute had Q/K not been permuted,
   and without the llama3 scaling. F16 must match within 1% (relative L2) and be 4x nearer the
   correct reference than either control; Q8_0 (quantization noise ~8% on random weights) within
   15%, with the same top token, and 4x nearer than the wrong-RoPE control.
Exit status 0 when every check passes.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

sys.path.insert(0, str(Path(__file__).resolve().parent))
from llama_run import bench_prompt, silence_llama_cpp  # noqa: E402


def llama_cpp_logits(path: Path, prompt: list[int], threads: int) -> tuple[np.ndarray, list[int]]:
    import llama_cpp as L

    silence_llama_cpp(L)
    L.llama_backend_init()
    model = L.llama_model_load_from_file(str(path).encode(), L.llama_model_default_params())
    if not model:
        raise SystemExit(f"llama.cpp cannot load {path}")
    n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    cp = L.llama_context_default_params()
    cp.n_ctx, cp.n_batch, cp.n_ubatch = 128, 64, 64
    cp.n_threads = cp.n_threads_batch = threads
    ctx = L.llama_init_from_model(model, cp)

    def decode(ids):
        arr = (L.llama_token * len(ids))(*ids)
        if L.llama_decode(ctx, L.llama_batch_get_one(arr, len(ids))) != 0:
            raise RuntimeError("llama_decode failed")
        return np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, -1), shape=(n_vocab,)).copy()

    logits = decode(prompt)
    tokens = [int(np.argmax(logits))]
    for _ in range(7):
        tokens.append(int(np.argmax(decode([tokens[-1]]))))
    L.llama_free(ctx)
    L.llama_model_free(model)
    return logits, tokens


def reference_logits(model_dir: Path, prompt: list[int], rope: str, llama3: bool) -> np.ndarray:
    c = json.loads((model_dir / "config.json").read_text())
    d, hd = c["hidden_size"], c["head_dim"]
    H, KV, eps = c["num_attention_heads"], c["num_key_value_heads"], c["rms_norm_eps"]
    T = len(prompt)
    inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    rs = c.get("rope_scaling")
    if llama3 and rs and rs.get("rope_type") == "llama3":
        f, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        wl = 2 * math.pi / inv
        smooth = (old / wl - lo) / (hi - lo)
        scaled = torch.where(wl > old / lo, inv / f, inv)
        medium = (wl >= old / hi) & (wl <= old / lo)
        inv = torch.where(medium, (1 - smooth) * scaled / f + smooth * scaled, scaled)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]  # T × hd/2
    cos, sin = ang.cos().float(), ang.sin().float()

    def apply_rope(x):  # x: T × heads × hd
        if rope == "neox":  # Hugging Face rotate_half: pairs (i, i + hd/2)
            a, b = x[..., : hd // 2], x[..., hd // 2:]
            cc, ss = cos[:, None, :], sin[:, None, :]
            return torch.cat([a * cc - b * ss, b * cc + a * ss], dim=-1)
        a, b = x[..., 0::2], x[..., 1::2]  # GPT-J: pairs (2i, 2i + 1)
        cc, ss = cos[:, None, :], sin[:, None, :]
        return torch.stack([a * cc - b * ss, b * cc + a * ss], dim=-1).flatten(-2)

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    with safe_open(str(model_dir / "model.safetensors"), "pt") as f:
        W = lambda n: f.get_tensor(n).float()  # noqa: E731
        emb = W("model.embed_tokens.weight")
        x = emb[torch.tensor(prompt)]
        mask = torch.full((T, T), float("-inf")).triu(1)
        for l in range(c["num_hidden_layers"]):
            p = f"model.layers.{l}."
            h = rms(x, W(p + "input_layernorm.weight"))
            q = apply_rope((h @ W(p + "self_attn.q_proj.weight").T).view(T, H, hd))
            k = apply_rope((h @ W(p + "self_attn.k_proj.weight").T).view(T, KV, hd))
            v = (h @ W(p + "self_attn.v_proj.weight").T).view(T, KV, hd)
            k = k.repeat_interleave(H // KV, dim=1)
            v = v.repeat_interleave(H // KV, dim=1)
            s = torch.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask
            a = torch.einsum("hts,shd->thd", s.softmax(-1), v).reshape(T, H * hd)
            x = x + a @ W(p + "self_attn.o_proj.weight").T
            h = rms(x, W(p + "post_attention_layernorm.weight"))
            g = torch.nn.functional.silu(h @ W(p + "mlp.gate_proj.weight").T) * (h @ W(p + "mlp.up_proj.weight").T)
            x = x + g @ W(p + "mlp.down_proj.weight").T
        x = rms(x, W("model.norm.weight"))
        return (x[-1] @ emb.T).numpy()


def compare(a: np.ndarray, b: np.ndarray) -> dict:
    rel = float(np.linalg.norm(a - b) / np.linalg.norm(b))
    cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    top_a, top_b = np.argsort(-a)[:10], np.argsort(-b)[:10]
    return {"rel_l2": rel, "cosine": cos, "top1_same": bool(top_a[0] == top_b[0]),
            "top10_overlap": len(set(top_a) & set(top_b))}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, default=Path.home() / ".cache/hamrun/bench-1b")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=64)
    args = ap.parse_args()
    d: Path = args.dir.expanduser()
    model_dir = d / "hamburger-bf16"
    vocab = json.loads((model_dir / "config.json").read_text())["vocab_size"]
    prompt = bench_prompt(args.prompt_tokens, vocab)
    torch.set_num_threads(args.threads)

    got = {}
    for name in ["llama-1b-f16.gguf", "llama-1b-q8_0.gguf"]:
        logits, tokens = llama_cpp_logits(d / name, prompt, args.threads)
        got[name] = logits
        print(f"{name}: loads; greedy tokens after the bench prompt: {tokens}")

    ref = reference_logits(model_dir, prompt, "neox", True)
    wrong_rope = reference_logits(model_dir, prompt, "gptj", True)
    no_scaling = reference_logits(model_dir, prompt, "neox", False)
    ok = True
    for name, logits in got.items():
        r, w, n = compare(logits, ref), compare(logits, wrong_rope), compare(logits, no_scaling)
        print(f"{name} vs PyTorch reference (HF Llama on the bf16 safetensors): {r}")
        print(f"{name} vs control, interleaved RoPE (unpermuted Q/K): {w}")
        print(f"{name} vs control, no llama3 RoPE scaling: {n}")
        # F16 holds the bf16 weights (almost) exactly: it must match closely, and be clearly
        # nearer the llama3-scaled reference than the unscaled one. Q8_0 adds ~8% of logit noise
        # on these random weights, so it only has to beat the wrong-RoPE control by far.
        if "f16" in name:
            good = r["rel_l2"] < 0.01 and r["rel_l2"] * 4 < n["rel_l2"] and r["rel_l2"] * 4 < w["rel_l2"]
        else:
            good = r["rel_l2"] < 0.15 and r["rel_l2"] * 4 < w["rel_l2"] and r["top1_same"]
        print(f"{name}: {'OK' if good else 'MISMATCH'}")
        ok &= good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
