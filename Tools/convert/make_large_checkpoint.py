#!/usr/bin/env python3
"""A checkpoint shaped like the released HAMburger-1B, for timing `hamrun convert` at full size.

    python3 Tools/convert/make_large_checkpoint.py OUT_DIR [--layers 16]

Writes OUT_DIR/hamburger.ckpt and OUT_DIR/base/config.json (Llama-3.2-1B sizes). The state dict is
laid out the way Lightning's convert_zero_checkpoint_to_fp32_state_dict leaves a DeepSpeed run:
float32 tensors that are narrow().view()s of one flat buffer, the embedding shared by
model.model.embed_tokens, model.lm_head and comp_embedder.embedding. About 6 GB; the values are
random and mean nothing. Nothing in the repository depends on this file.
"""

import argparse
import collections
import json
import pathlib

import torch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--layers", type=int, default=16)
    args = parser.parse_args()

    d, f, heads, kv, hd, vocab = 2048, 8192, 32, 8, 64, 128256
    config = {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "head_dim": hd,
        "hidden_act": "silu", "hidden_size": d, "initializer_range": 0.02, "intermediate_size": f,
        "max_position_embeddings": 131072, "mlp_bias": False, "model_type": "llama",
        "num_attention_heads": heads, "num_hidden_layers": args.layers, "num_key_value_heads": kv,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers_version": "4.45.0", "use_cache": True, "vocab_size": vocab,
    }

    def layer(prefix):
        return [
            (prefix + "self_attn.q_proj.weight", (heads * hd, d)),
            (prefix + "self_attn.k_proj.weight", (kv * hd, d)),
            (prefix + "self_attn.v_proj.weight", (kv * hd, d)),
            (prefix + "self_attn.o_proj.weight", (d, heads * hd)),
            (prefix + "mlp.gate_proj.weight", (f, d)),
            (prefix + "mlp.up_proj.weight", (f, d)),
            (prefix + "mlp.down_proj.weight", (d, f)),
            (prefix + "input_layernorm.weight", (d,)),
            (prefix + "post_attention_layernorm.weight", (d,)),
        ]

    shapes = [("model.model.embed_tokens.weight", (vocab, d))]
    for i in range(args.layers):
        shapes += layer(f"model.model.layers.{i}.")
    shapes.append(("model.model.norm.weight", (d,)))
    shapes += [
        ("comp_embedder.merger.pos", (4, d // 2)),
        ("comp_embedder.merger.q_proj.weight", (d, d)), ("comp_embedder.merger.q_proj.bias", (d,)),
        ("comp_embedder.merger.k_proj.weight", (d, d + d // 2)), ("comp_embedder.merger.k_proj.bias", (d,)),
        ("comp_embedder.merger.v_proj.weight", (d, d + d // 2)), ("comp_embedder.merger.v_proj.bias", (d,)),
        ("comp_embedder.out_proj.weight", (d, d)), ("comp_embedder.out_proj.bias", (d,)),
    ]
    for i in range(4):
        shapes += layer(f"micro_step_decoder.decoders.{i}.")
    shapes += [
        ("micro_step_decoder.stop_head.0.weight", (d, d)), ("micro_step_decoder.stop_head.0.bias", (d,)),
        ("micro_step_decoder.stop_head.2.weight", (d, d)), ("micro_step_decoder.stop_head.2.bias", (d,)),
        ("micro_step_decoder.stop_head.4.weight", (1, d)), ("micro_step_decoder.stop_head.4.bias", (1,)),
    ]

    total = sum(torch.Size(s).numel() for _, s in shapes)
    flat = torch.empty(total, dtype=torch.float32).uniform_(-0.05, 0.05)
    state = collections.OrderedDict()
    offset = 0
    for name, shape in shapes:
        n = torch.Size(shape).numel()
        state[name] = flat.narrow(0, offset, n).view(shape)
        offset += n
    state["model.lm_head.weight"] = state["model.model.embed_tokens.weight"]
    state["comp_embedder.embedding.weight"] = state["model.model.embed_tokens.weight"]

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "base").mkdir(exist_ok=True)
    (args.out / "base" / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    torch.save({
        "state_dict": state, "epoch": 1, "global_step": 1000, "pytorch-lightning_version": "2.4.0",
        "hyper_parameters": {"base_model_name": "meta-llama/Llama-3.2-1B-Instruct", "max_steps": 4, "distill_kl": None},
        "ds_version": "0.15.0", "lr_schedulers": [{"last_epoch": 1000}],
    }, args.out / "hamburger.ckpt")
    print(f"{total} parameters, {total * 4 / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
