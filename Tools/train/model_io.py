"""Read and write hamrun model directories (docs/MODEL_FORMAT.md)."""

from __future__ import annotations

import json
import os
from typing import Optional

import torch
from safetensors.torch import load_file, save_file

from hamburger_model import HamburgerLM, ModelConfig


def hamburger_json(cfg: ModelConfig, confidence: Optional[float]) -> dict:
    """config.json's `hamburger` object."""
    ham = {
        "max_steps": cfg.max_steps,
        "num_micro_layers": cfg.num_micro_layers,
        "feature_layers": list(cfg.feature_layers),
        "merger_heads": cfg.merger_heads,
        # the only semantics (docs/MODEL_FORMAT.md), written explicitly
        "micro_attention": "causal",
    }
    if confidence is not None:
        ham["confidence"] = confidence
    return ham


def hf_config(cfg: ModelConfig, confidence: Optional[float]) -> dict:
    ham = hamburger_json(cfg, confidence)
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": cfg.bos_token_id,
        "eos_token_id": cfg.eos_token_id,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "hidden_size": cfg.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": cfg.intermediate_size,
        "max_position_embeddings": cfg.max_position_embeddings,
        "mlp_bias": False,
        "num_attention_heads": cfg.num_attention_heads,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_key_value_heads": cfg.num_key_value_heads,
        "pretraining_tp": 1,
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope_scaling": cfg.rope_scaling,
        "rope_theta": cfg.rope_theta,
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "vocab_size": cfg.vocab_size,
        "hamburger": ham,
    }


def export_model_dir(m: HamburgerLM, out: str, tokenizer_json: str, confidence: Optional[float]):
    os.makedirs(out, exist_ok=True)
    sd = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in m.state_dict().items()}
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    write_config(m.cfg, out, confidence)
    with open(tokenizer_json, encoding="utf-8") as f:
        tok = f.read()
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(tok)
    tok_j = json.loads(tok)
    names = {t["id"]: t["content"] for t in tok_j["added_tokens"]}
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": names[m.cfg.bos_token_id], "eos_token": names[m.cfg.eos_token_id],
                   "add_bos_token": True, "model_max_length": m.cfg.max_position_embeddings,
                   "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": m.cfg.bos_token_id, "eos_token_id": m.cfg.eos_token_id,
                   "do_sample": False}, f, indent=2)
        f.write("\n")


def write_config(cfg: ModelConfig, out: str, confidence: Optional[float]):
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(hf_config(cfg, confidence), f, indent=2)
        f.write("\n")


def load_model_dir(path: str, dtype=torch.float32) -> HamburgerLM:
    """Loads a model directory; the stored (bfloat16) tensors are cast to
    `dtype`, so float32 inference runs on exactly the stored weights."""
    cfg_json = json.load(open(os.path.join(path, "config.json")))
    cfg = ModelConfig.from_hf(cfg_json)
    sd = load_file(os.path.join(path, "model.safetensors"))
    has_ham = any(k.startswith("micro_step_decoder.") for k in sd)
    m = HamburgerLM(cfg, with_hamburger=has_ham)
    m.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=True)
    return m.to(dtype).eval()


def recommended_confidence(path: str) -> float:
    return json.load(open(os.path.join(path, "config.json")))["hamburger"].get("confidence", 0.9)


def find_up(work: str, name: str) -> str:
    """train_all.py's work layout: base-*/ (data.pt, base.pt) / seg-*/
    (segments.pt) / ham-*/ -- look in `work` and its parents."""
    d = os.path.abspath(work)
    for _ in range(4):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
        d = os.path.dirname(d)
    raise FileNotFoundError(f"{name} not found at or above {work}")
