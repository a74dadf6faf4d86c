"""Self-distillation data for HAMburger on SmolLM2-135M-Instruct: the base
model's own greedy answers (made by `hamrun batch` on the GGUF) and the base
model's entropy at every answer token (PyTorch on the dequantized GGUF),
segmented into macro steps with the authors' decreasing_v2 rule.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import List

import torch

def chat_ids(tok, prompt: str) -> List[int]:
    return list(tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                        tokenize=True, return_dict=True)["input_ids"])


def run_batch(hamrun: str, model: str, requests: List[dict], out_path: str, parallel: int, log) -> List[dict]:
    """hamrun batch over `requests`; returns its result lines (in order)."""
    req_path = out_path + ".requests.jsonl"
    with open(req_path, "w") as f:
        for r in requests:
            f.write(json.dumps(r) + "\n")
    t = time.time()
    tmp = out_path + ".partial"
    subprocess.run([hamrun, "batch", "--model", model, "--input", req_path, "--output", tmp,
                    "--parallel", str(parallel)], check=True)
    os.replace(tmp, out_path)
    res = [json.loads(l) for l in open(out_path)]
    bad = [r for r in res if "error" in r]
    if bad:
        raise RuntimeError(f"hamrun batch: {len(bad)} lines failed, first: {bad[0]}")
    n = sum(len(r["tokens"]) for r in res)
    log(f"hamrun batch: {len(res)} answers, {n} tokens in {time.time() - t:.0f} s ({n / (time.time() - t):.0f} tok/s)")
    return res


@torch.no_grad()
def batched_logits(base, samples: List[tuple], batch: int = 8):
    """The base model's logits over prompt + answer of every (prompt ids, answer
    ids), shortest first, `batch` at a time, right-padded (causal attention keeps
    the padding from every real row): yields (indices into samples, logits
    [len(indices), longest, vocabulary])."""
    order = sorted(range(len(samples)), key=lambda i: len(samples[i][0]) + len(samples[i][1]))
    for k in range(0, len(order), batch):
        group = order[k:k + batch]
        L = max(len(samples[i][0]) + len(samples[i][1]) for i in group)
        x = torch.zeros(len(group), L, dtype=torch.long)
        for j, i in enumerate(group):
            p, a = samples[i]
            x[j, :len(p) + len(a)] = torch.tensor(p + a)
        yield group, base.logits(base.base_hidden(x))


@torch.no_grad()
def answer_entropies(base, samples: List[tuple], log, batch: int = 8) -> List[torch.Tensor]:
    """For (prompt ids, answer ids): the entropy (nats) of the base model's
    next-token distribution at each answer token, given everything before it
    (float32 on the GGUF's dequantized weights, the base the modules train on)."""
    out = [None] * len(samples)
    t = time.time()
    for n, (group, lg) in enumerate(batched_logits(base, samples, batch)):
        logp = torch.log_softmax(lg, dim=-1)
        ent = -(logp.exp() * logp).sum(-1)                                  # [B, L]
        for j, i in enumerate(group):
            p, a = samples[i]
            out[i] = ent[j, len(p) - 1:len(p) + len(a) - 1].clone()        # predicts a[0..]
        if (n + 1) % 50 == 0:
            log(f"  entropies {n * batch + len(group)}/{len(samples)} ({time.time() - t:.0f} s)")
    return out
