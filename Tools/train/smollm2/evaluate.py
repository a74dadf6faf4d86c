"""Evaluate the SmolLM2 HAMburger model directory on the held-out prompts.

    python3 Tools/train/smollm2/evaluate.py --model Models/smollm2-hamburger \
        --answers ~/.cache/hamrun/train-smollm2/data-*/answers.json [--write-confidence]

The held-out prompts (prompts.py; none is a training prompt) go through the
file's chat template. Generation is hamrun's own (`hamrun batch`), greedy,
MAX_NEW new tokens; the base model's greedy answers are stage 1's (`hamrun
batch --mode base`, the same limit).

- tokens per macro step = generated tokens / macro steps (all prompts);
  KV slots per token = macro steps / generated tokens (each macro step's
  tokens occupy one slot when they are fed back merged).
- quality against the base, at each confidence:
  * agreement: the fraction of the base's greedy answer tokens that the
    HAMburger answer reproduces before it first differs (1 = identical), and
    the fraction of answers identical to the base's;
  * judge NLL: the base model's mean negative log-likelihood of the generated
    tokens (PyTorch, float32 on the GGUF's dequantized weights); the base's
    own greedy answers give the reference value.
- the recommendation (RULE): among the confidences whose judge NLL is at
  most (1 + NLL_MARGIN) x the base's greedy answers' judge NLL, the one with
  the most tokens per macro step; if none qualifies, the highest confidence.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
import distill  # noqa: E402
from base_gguf import default_gguf, load_base, load_tokenizer, set_config  # noqa: E402

MAX_NEW = 96  # train.py's --answer-tokens
CONFIDENCES = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
NLL_MARGIN = 0.10
RULE = (f"most tokens per macro step among the confidences whose judge NLL is at most (1 + {NLL_MARGIN}) x "
        "the base's greedy answers' judge NLL")


@torch.no_grad()
def judge_nll(base, pairs, batch=8):
    """Mean -log p_base(token | prompt, earlier tokens) over all answer tokens."""
    tot, cnt = 0.0, 0
    for group, lg in distill.batched_logits(base, pairs, batch):
        for j, i in enumerate(group):
            p, a = pairs[i]
            if not a:
                continue
            rows = lg[j, len(p) - 1:len(p) + len(a) - 1]
            tot += float(F.cross_entropy(rows, torch.tensor(a), reduction="sum"))
            cnt += len(a)
    return tot / cnt


def agreement(gen, ref):
    n = 0
    while n < min(len(gen), len(ref)) and gen[n] == ref[n]:
        n += 1
    return n / max(1, len(ref))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--answers", required=True, help="train.py stage 1's answers.json")
    ap.add_argument("--gguf", default=default_gguf())
    ap.add_argument("--hamrun", default=os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))),
                                                     ".build/release/hamrun"))
    ap.add_argument("--work", default=None, help="where hamrun batch's files go (default: --model)")
    ap.add_argument("--write-confidence", action="store_true")
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--max-new", type=int, default=MAX_NEW, help="new tokens per answer (the base answers' limit)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    work = a.work or a.model
    held = json.load(open(a.answers))["held_out"]
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    base = load_base(a.gguf, cfg["hamburger"]).eval()
    tok = load_tokenizer(a.gguf)
    log = lambda *x: print(*x, flush=True)  # noqa: E731

    max_new = a.max_new
    base_answers = [h["answer"][:max_new] for h in held]
    ref_nll = judge_nll(base, [(h["prompt_ids"], g) for h, g in zip(held, base_answers)])
    res = {"max_new_tokens": max_new, "prompts": len(held), "rule": RULE,
           "base": {"judge_nll": ref_nll, "tokens": sum(map(len, base_answers))}, "sweep": {}}
    log(f"base greedy: judge NLL {ref_nll:.4f}")
    outputs = {}
    for c in CONFIDENCES:
        t = time.time()
        rs = distill.run_batch(a.hamrun, a.model, [{"prompt_ids": h["prompt_ids"], "max_tokens": max_new,
                                                    "mode": "hamburger", "confidence": c} for h in held],
                               os.path.join(work, f"eval-{c}.jsonl"), a.parallel, log)
        gens = [r["tokens"] for r in rs]
        tokens = sum(len(g) for g in gens)
        steps = sum(r["stats"]["macro_steps"] for r in rs)
        nll = judge_nll(base, [(h["prompt_ids"], g) for h, g in zip(held, gens)])
        agree = sum(agreement(g, b) for g, b in zip(gens, base_answers)) / len(held)
        same = sum(g == b for g, b in zip(gens, base_answers)) / len(held)
        res["sweep"][str(c)] = {"tokens": tokens, "steps": steps, "tokens_per_step": tokens / steps,
                                "kv_slots_per_token": steps / tokens, "judge_nll": nll,
                                "judge_nll_ratio": nll / ref_nll, "agreement": agree, "identical": same}
        outputs[c] = gens
        log(f"confidence {c}: {tokens / steps:.3f} tokens/step, {steps / tokens:.3f} KV slots/token, judge NLL "
            f"{nll:.4f} ({nll / ref_nll:.3f}x), agreement {agree:.3f}, identical {same:.3f} ({time.time() - t:.0f} s)")
    ok = [c for c in CONFIDENCES if res["sweep"][str(c)]["judge_nll_ratio"] <= 1 + NLL_MARGIN]
    rec = max(ok, key=lambda c: res["sweep"][str(c)]["tokens_per_step"]) if ok else max(CONFIDENCES)
    res["recommended_confidence"] = rec
    res["samples"] = [{"prompt": h["prompt"], "base": tok.decode(b, skip_special_tokens=True),
                       "hamburger": tok.decode(outputs[rec][i], skip_special_tokens=True)}
                      for i, (h, b) in enumerate(zip(held[:6], base_answers))]
    log(f"recommended confidence: {rec}")
    with open(os.path.join(a.model, "eval.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    if a.write_confidence:
        set_config(a.model, cfg["base_gguf"], {**cfg["hamburger"], "confidence": rec})


if __name__ == "__main__":
    main()
