"""The base model as the GGUF file holds it, and model directories that
reference it (docs/MODEL_FORMAT.md, "A HAMburger model over a GGUF base").

transformers loads the GGUF with `gguf_file=`: every tensor dequantized with
the `gguf` package (bit-identical to hamrun's block decoding) and llama.cpp's
q/k row permutation undone, so the float32 base here computes what hamrun's
base computes on the stored blocks, up to float32 rounding.
"""

from __future__ import annotations

import json
import os
from typing import Optional

import torch
from safetensors.torch import load_file, save_file

from hamburger_model import HamburgerLM, ModelConfig
from model_io import hamburger_json

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf() -> str:
    cache = os.environ.get("HAMRUN_CACHE") or os.path.expanduser("~/.cache/hamrun")
    return os.path.join(cache, "models", GGUF_NAME)


def load_tokenizer(gguf: str):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(os.path.dirname(gguf), gguf_file=os.path.basename(gguf))


def load_base(gguf: str, ham: dict) -> HamburgerLM:
    """A float32 HamburgerLM whose base is the GGUF's dequantized weights,
    frozen; its HAMburger modules (shaped by `ham`) are freshly created."""
    from transformers import AutoModelForCausalLM
    hf = AutoModelForCausalLM.from_pretrained(os.path.dirname(gguf), gguf_file=os.path.basename(gguf),
                                              torch_dtype=torch.float32)
    cfg = ModelConfig.from_hf(hf.config.to_dict(), ham)
    m = HamburgerLM(cfg, with_hamburger=True)
    sd = {k: v for k, v in hf.state_dict().items() if not (cfg.tie_word_embeddings and k == "lm_head.weight")}
    missing, unexpected = m.load_state_dict(sd, strict=False)
    if unexpected or any(not k.startswith(("comp_embedder.", "micro_step_decoder.")) for k in missing):
        raise ValueError(f"{gguf}: tensors do not match the model: unexpected {unexpected[:4]}, missing {missing[:4]}")
    for p in m.model.parameters():
        p.requires_grad_(False)
    return m


def module_state(m: HamburgerLM) -> dict:
    return {k: v for k, v in m.state_dict().items() if k.startswith(("comp_embedder.", "micro_step_decoder."))}


def write_model_dir(m: HamburgerLM, out: str, base_reference: str, confidence: Optional[float]):
    """config.json (base_gguf + hamburger) and the modules in bfloat16."""
    os.makedirs(out, exist_ok=True)
    sd = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in module_state(m).items()}
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    set_config(out, base_reference, hamburger_json(m.cfg, confidence))


def set_config(out: str, base_reference: str, ham: dict):
    tmp = os.path.join(out, "config.json.partial")
    with open(tmp, "w") as f:
        json.dump({"base_gguf": base_reference, "hamburger": ham}, f, indent=2)
        f.write("\n")
    os.replace(tmp, os.path.join(out, "config.json"))


def load_model_dir(path: str, gguf: Optional[str] = None) -> HamburgerLM:
    """The model hamrun runs: the GGUF base (float32 of its dequantized
    blocks) and the directory's stored (bfloat16) modules cast to float32."""
    cfg_json = json.load(open(os.path.join(path, "config.json")))
    ref = cfg_json["base_gguf"]
    if gguf is None:
        local = ref if os.path.isabs(ref) else os.path.join(path, ref)
        gguf = local if os.path.exists(local) else os.path.join(os.path.dirname(default_gguf()), ref)
    m = load_base(gguf, cfg_json["hamburger"])
    sd = load_file(os.path.join(path, "model.safetensors"))
    missing, unexpected = m.load_state_dict({k: v.float() for k, v in sd.items()}, strict=False)
    if unexpected or any(k.startswith(("comp_embedder.", "micro_step_decoder.")) for k in missing):
        raise ValueError(f"{path}: modules do not match: unexpected {unexpected[:4]}, missing {missing[:4]}")
    return m.eval()
