#!/usr/bin/env python3
"""Test fixtures for `hamrun convert`, made with PyTorch so the Swift reader is checked against
what torch.save really writes and what torch itself reads back.

    python3 Tools/convert/make_fixtures.py

Writes:
  Tests/Fixtures/tiny-hamburger-ref/converted-tensors.json
      what converting the reference checkpoint must produce, tensor by tensor.
  Tests/Fixtures/convert-other-shapes/
      a second HAMburger checkpoint with other sizes, untied embeddings, max_steps 3, an f16
      tensor, strided and offset views, an OrderedDict state_dict, and Lightning/DeepSpeed-like
      top-level entries full of objects hamrun must skip; its base config and expectations.
  Tests/Fixtures/convert-bad/
      the smallest valid HAMburger layout (16 layers of width 64) and variants of it that a
      converter must reject: a missing tensor, a wrong shape, an int64 tensor, an object built by
      os.system in place of a tensor, a tensor the layout does not have, a compositional-embedder
      embedding that differs from the base embedding, and a checkpoint without state_dict.

Expectations are computed from torch.load(weights_only=True) of the written file (or, for files
torch refuses, from the tensors that were saved), never from hamrun.
"""

import collections
import hashlib
import json
import os
import pathlib
import sys

import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures"

DTYPE_NAMES = {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32"}


def converted_name(key, tied):
    """The hamrun name of a checkpoint key, or None when the converter drops it."""
    if key.endswith("rotary_emb.inv_freq"):
        return None
    if key.startswith("model.model."):
        return "model." + key[len("model.model."):]
    if key == "model.lm_head.weight":
        return None if tied else "lm_head.weight"
    if key == "comp_embedder.embedding.weight":
        return None
    if key.startswith(("comp_embedder.", "micro_step_decoder.")):
        return key
    return None


def tensor_digest(t):
    t = t.detach().contiguous()
    # numpy has no bfloat16: hash its bits as int16, which are the same bytes.
    raw = t.view(torch.int16) if t.dtype == torch.bfloat16 else t
    data = raw.numpy().tobytes()
    assert sys.byteorder == "little"
    return hashlib.sha256(data).hexdigest()


def expectations(state_dict, tied, hamburger):
    tensors = {}
    for key, value in state_dict.items():
        name = converted_name(key, tied)
        if name is None:
            continue
        tensors[name] = {
            "dtype": DTYPE_NAMES[value.dtype],
            "shape": list(value.shape),
            "sha256": tensor_digest(value),
        }
    return {"hamburger": hamburger, "tensors": dict(sorted(tensors.items()))}


def write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def llama_config(hidden, intermediate, heads, kv_heads, head_dim, vocab, tied, layers=16):
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": vocab - 5,
        "eos_token_id": [vocab - 1, vocab - 2],
        "head_dim": head_dim,
        "hidden_act": "silu",
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": intermediate,
        "max_position_embeddings": 131072,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads,
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
        "tie_word_embeddings": tied,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.51.3",
        "use_cache": True,
        "vocab_size": vocab,
    }


def layer_tensors(prefix, c, dtype, gen):
    d, f, hd = c["hidden_size"], c["intermediate_size"], c["head_dim"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd

    def rand(*shape):
        return (torch.randn(*shape, generator=gen) * 0.05).to(dtype)

    return {
        prefix + "self_attn.q_proj.weight": rand(q, d),
        prefix + "self_attn.k_proj.weight": rand(kv, d),
        prefix + "self_attn.v_proj.weight": rand(kv, d),
        prefix + "self_attn.o_proj.weight": rand(d, q),
        prefix + "mlp.gate_proj.weight": rand(f, d),
        prefix + "mlp.up_proj.weight": rand(f, d),
        prefix + "mlp.down_proj.weight": rand(d, f),
        prefix + "input_layernorm.weight": (1 + rand(d).float()).to(dtype),
        prefix + "post_attention_layernorm.weight": (1 + rand(d).float()).to(dtype),
    }


def hamburger_state_dict(c, max_steps, gen, micro_dtype=torch.float32):
    """The authors' Lightning state_dict layout: base model, compositional embedder, micro decoder."""
    bf = torch.bfloat16
    d, v = c["hidden_size"], c["vocab_size"]

    def rand(*shape, dtype=bf):
        return (torch.randn(*shape, generator=gen) * 0.05).to(dtype)

    sd = collections.OrderedDict()
    embedding = rand(v, d)
    sd["model.model.embed_tokens.weight"] = embedding
    for layer in range(c["num_hidden_layers"]):
        sd.update(layer_tensors(f"model.model.layers.{layer}.", c, bf, gen))
    sd["model.model.norm.weight"] = (1 + rand(d).float()).to(bf)
    # Hugging Face ties lm_head to the embedding object itself, so both names share one storage.
    sd["model.lm_head.weight"] = embedding if c["tie_word_embeddings"] else rand(v, d)
    sd["comp_embedder.embedding.weight"] = embedding
    sd["comp_embedder.merger.pos"] = rand(max_steps, d // 2)
    sd["comp_embedder.merger.q_proj.weight"] = rand(d, d)
    sd["comp_embedder.merger.q_proj.bias"] = rand(d)
    sd["comp_embedder.merger.k_proj.weight"] = rand(d, d + d // 2)
    sd["comp_embedder.merger.k_proj.bias"] = rand(d)
    sd["comp_embedder.merger.v_proj.weight"] = rand(d, d + d // 2)
    sd["comp_embedder.merger.v_proj.bias"] = rand(d)
    sd["comp_embedder.out_proj.weight"] = rand(d, d)
    sd["comp_embedder.out_proj.bias"] = rand(d)
    for layer in range(4):
        sd.update(layer_tensors(f"micro_step_decoder.decoders.{layer}.", c, micro_dtype, gen))
    sd["micro_step_decoder.stop_head.0.weight"] = rand(d, d)
    sd["micro_step_decoder.stop_head.0.bias"] = rand(d)
    sd["micro_step_decoder.stop_head.2.weight"] = rand(d, d)
    sd["micro_step_decoder.stop_head.2.bias"] = rand(d)
    sd["micro_step_decoder.stop_head.4.weight"] = rand(1, d)
    sd["micro_step_decoder.stop_head.4.bias"] = rand(1)
    return sd


class CallbackState:
    """Stands for the callback and loop objects Lightning and DeepSpeed pickle into checkpoints:
    a class hamrun has never heard of, pickled with NEWOBJ and BUILD."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


class RunsACommand:
    """An object whose unpickling would run a shell command: what a reader must never execute."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/hamrun-pickle-was-executed",))


def make_other_shapes():
    out = FIXTURES / "convert-other-shapes"
    gen = torch.Generator().manual_seed(1234)
    c = llama_config(hidden=64, intermediate=96, heads=8, kv_heads=2, head_dim=8, vocab=777, tied=False)
    max_steps = 3
    sd = hamburger_state_dict(c, max_steps, gen)
    d, f = c["hidden_size"], c["intermediate_size"]

    # Views, as a DeepSpeed fp32 consolidation leaves them: narrow()s of one flat buffer.
    flat = (torch.randn(d * d + d + d * d + d + d + 1, generator=gen) * 0.05).to(torch.bfloat16)
    offset = 0
    for name, shape in [("0.weight", (d, d)), ("0.bias", (d,)), ("2.weight", (d, d)),
                        ("2.bias", (d,)), ("4.weight", (1, d)), ("4.bias", (1,))]:
        count = 1
        for s in shape:
            count *= s
        sd["micro_step_decoder.stop_head." + name] = flat.narrow(0, offset, count).view(shape)
        offset += count
    # Non-contiguous tensors: a transpose, and every other column of a wider matrix.
    sd["micro_step_decoder.decoders.2.mlp.down_proj.weight"] = torch.randn(f, d, generator=gen).t()
    sd["model.model.layers.3.self_attn.o_proj.weight"] = (
        torch.randn(d, d, generator=gen) * 0.05).to(torch.bfloat16).t()
    wide = (torch.randn(d, 2 * (d + d // 2), generator=gen) * 0.05).to(torch.bfloat16)
    sd["comp_embedder.merger.k_proj.weight"] = wide[:, ::2]
    assert not sd["comp_embedder.merger.k_proj.weight"].is_contiguous()
    # float16 is a storage type the reader must know as well.
    sd["comp_embedder.merger.pos"] = sd["comp_embedder.merger.pos"].to(torch.float16)
    # Buffers and modules the converter leaves out.
    sd["model.model.layers.0.self_attn.rotary_emb.inv_freq"] = torch.arange(4, dtype=torch.float32)
    sd["teacher.model.embed_tokens.weight"] = torch.zeros(3, 2, dtype=torch.bfloat16)
    # nn.Module.state_dict() returns an OrderedDict carrying _metadata (pickled with BUILD).
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("model", {"version": 1})])

    recursive = [1, 2]
    recursive.append(recursive)
    checkpoint = {
        "epoch": 2,
        "global_step": 2 ** 40,
        "pytorch-lightning_version": "2.5.0",
        "state_dict": sd,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 3}}}},
        "callbacks": {
            "ModelCheckpoint{'monitor': None, 'mode': 'min'}": {
                "best_model_score": torch.tensor(float("inf")),
                "dirpath": pathlib.PosixPath("/ckpts/run"),
                "state": CallbackState(step=torch.tensor([7], dtype=torch.int64), label="ünïcode"),
            }
        },
        "optimizer_states": [{
            "state": {0: {"step": torch.tensor(12.0), "exp_avg": torch.zeros(4, 2, dtype=torch.float64)}},
            "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.95), "params": [0, 1], "fused": None}],
        }],
        "lr_schedulers": [{"base_lrs": [1e-4], "last_epoch": 12, "_step_count": 13, "lr_lambdas": [None]}],
        "hparams_name": "kwargs",
        "hyper_parameters": {
            "base_model_name": "fixture/other-shapes",
            "max_steps": max_steps,
            "distill_kl": 0.5,
            "dtype": torch.bfloat16,
            "device": torch.device("cpu"),
        },
        "ds_version": "0.16.4",
        "ds_config": {"zero_optimization": {"stage": 2}, "bf16": {"enabled": True}},
        "param_shapes": [collections.OrderedDict(
            (k, v.shape) for k, v in sd.items() if not k.startswith("teacher."))],
        "shared_params": [["comp_embedder.embedding.weight", "model.model.embed_tokens.weight"]],
        "frozen_param_shapes": None,
        "misc": {
            "set": {3, 1, 2},
            "bytes": b"\x00\x01binary",
            "huge": 2 ** 70,
            "negative": -(2 ** 33),
            "float": 2.5,
            "nested": ((1, (2, 3)), [None, True, False]),
            "recursive": recursive,
        },
    }

    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "hamburger.ckpt"
    torch.save(checkpoint, ckpt)
    (out / "base").mkdir(exist_ok=True)
    write_json(out / "base" / "config.json", c)
    write_json(out / "base" / "generation_config.json",
               {"bos_token_id": c["bos_token_id"], "eos_token_id": c["eos_token_id"]})

    # Read back the way torch reads it; the objects it refuses are outside the state_dict.
    loaded = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    for key, value in sd.items():
        assert torch.equal(loaded[key], value), key
    hamburger = {"feature_layers": [3, 7, 11, 15], "max_steps": max_steps, "merger_heads": 64,
                 "num_micro_layers": 4}
    write_json(out / "converted-tensors.json", expectations(loaded, False, hamburger))


def make_bad():
    out = FIXTURES / "convert-bad"
    gen = torch.Generator().manual_seed(99)
    c = llama_config(hidden=64, intermediate=8, heads=1, kv_heads=1, head_dim=8, vocab=32, tied=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "base").mkdir(exist_ok=True)
    write_json(out / "base" / "config.json", c)

    def checkpoint(sd):
        return {"state_dict": sd, "epoch": 0, "global_step": 0,
                "hyper_parameters": {"base_model_name": "fixture/bad", "max_steps": 4, "distill_kl": None},
                "optimizer_states": [], "lr_schedulers": []}

    good = hamburger_state_dict(c, 4, gen, micro_dtype=torch.bfloat16)
    torch.save(checkpoint(good), out / "good.ckpt")

    missing = collections.OrderedDict(good)
    del missing["model.model.layers.7.mlp.up_proj.weight"]
    torch.save(checkpoint(missing), out / "missing-tensor.ckpt")

    wrong = collections.OrderedDict(good)
    wrong["micro_step_decoder.decoders.1.self_attn.k_proj.weight"] = torch.zeros(8, 32, dtype=torch.bfloat16)
    torch.save(checkpoint(wrong), out / "wrong-shape.ckpt")

    int64 = collections.OrderedDict(good)
    int64["model.model.norm.weight"] = torch.ones(64, dtype=torch.int64)
    torch.save(checkpoint(int64), out / "int64-tensor.ckpt")

    command = collections.OrderedDict(good)
    command["comp_embedder.out_proj.bias"] = RunsACommand()
    torch.save(checkpoint(command), out / "runs-a-command.ckpt")

    extra = collections.OrderedDict(good)
    extra["micro_step_decoder.stop_head.6.weight"] = torch.zeros(1, 64, dtype=torch.bfloat16)
    torch.save(checkpoint(extra), out / "unexpected-tensor.ckpt")

    # The compositional embedder's embedding is the base model's; here it was trained apart.
    apart = collections.OrderedDict(good)
    apart["comp_embedder.embedding.weight"] = good["model.model.embed_tokens.weight"].clone()
    apart["comp_embedder.embedding.weight"][3, 5] += 1
    torch.save(checkpoint(apart), out / "separate-comp-embedding.ckpt")

    torch.save({"epoch": 0, "hyper_parameters": {"max_steps": 4}}, out / "no-state-dict.ckpt")

    hamburger = {"feature_layers": [3, 7, 11, 15], "max_steps": 4, "merger_heads": 64, "num_micro_layers": 4}
    write_json(out / "converted-tensors.json", expectations(good, True, hamburger))


def make_reference_expectations():
    ref = FIXTURES / "tiny-hamburger-ref"
    config = json.loads((ref / "base" / "config.json").read_text())
    checkpoint = torch.load(ref / "hamburger.ckpt", map_location="cpu", weights_only=True)
    hamburger = {"feature_layers": [3, 7, 11, 15],
                 "max_steps": checkpoint["hyper_parameters"]["max_steps"],
                 "merger_heads": 64, "num_micro_layers": 4}
    write_json(ref / "converted-tensors.json",
               expectations(checkpoint["state_dict"], config["tie_word_embeddings"], hamburger))


if __name__ == "__main__":
    make_reference_expectations()
    make_other_shapes()
    make_bad()
