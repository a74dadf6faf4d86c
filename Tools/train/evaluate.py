"""Evaluate an exported HAMburger model directory on the held-out text.

    python3 Tools/train/evaluate.py --model Models/shakespeare-hamburger \
        --work ~/.cache/hamrun/train-work/<hash>   [--write-confidence]

All computation is float32 on the stored (bfloat16) weights. --work is the
train_all.py work directory (it holds the validation token ids, the
segmentation made with the pretrained base model, and that base model).

1. Teacher-forced perplexities on the validation text (definition):
   The validation stream (the held-out tail of every work, documents joined
   by <|end_of_text|>) is segmented into steps of 1..4 tokens with the
   pretrained base model's entropies (train_all.py stage 3). It is cut into
   windows: window w has a prefix = <|begin_of_text|> + the tokens from a_w up
   to the first step boundary at least PREFIX (31) tokens later, followed by
   up to STEPS (96) steps; the next window starts PREFIX tokens before the end
   of the previous one's steps, so the scored tokens (the steps) of all
   windows tile the stream after the first prefix exactly once.
   * ppl_plain: exp(mean next-token cross entropy) of the plain base model
     (all tokens unmerged, positions 0..) over the scored tokens, each
     predicted from BOS + everything from a_w before it.
   * ppl_hamburger: the same tokens teacher-forced through the HAMburger
     model: prefix unmerged, every earlier step as one merged input at the
     position of its last token, each token predicted by its micro step
     (micro step 0 = lm_head(final norm), i >= 1 = micro decoder).
   Reported for the pretrained base ("before": ppl_plain only, it has no
   HAMburger modules yet) and for the HAMburger-trained model ("after").
2. Generation on held-out prompts: the first lines (>= 60 characters, whole
   lines) of each of the 42 held-out chunks; greedy, 64 new tokens (the step
   that reaches 64 is the last), confidences 0.3..0.95 (steps of 0.05 around the recommendation) and plain greedy.
   tokens/step = generated tokens / macro steps (summed over prompts);
   KV slots per generated token = macro steps / generated tokens (each step
   occupies one slot when it is fed back). Quality proxy: the pretrained base
   model's mean negative log-likelihood of the first 64 generated tokens
   (judge NLL, lower = more like the base model's own text) and the fraction
   of repeated 4-grams.
3. The recommended confidence: among the swept confidences at which the
   held-out prompts get at least TARGET_TOKENS_PER_STEP (1.2) tokens per macro
   step (HAMburger must pay for itself), the one whose judge NLL is lowest
   (the text most like the base's own); if none reaches it, the smallest
   confidence whose judge NLL is at most (1 + NLL_MARGIN) times plain greedy's.
   Each sweep point also reports its judge NLL relative to plain greedy's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

# OpenMP threads that spin while waiting make a shared (oversubscribed) CPU
# up to 10x slower; passive waiting does not change any result.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from hamburger_model import HamburgerLM, ModelConfig, base_generate, build_ham_batch, ham_generate  # noqa: E402
from model_io import find_up, load_model_dir, write_config  # noqa: E402

PREFIX = 31
STEPS = 96
NEW_TOKENS = 64
CONFIDENCES = [0.3, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9, 0.95]
NLL_MARGIN = 0.10   # relative
TARGET_TOKENS_PER_STEP = 1.2


def val_windows(ids: torch.Tensor, step_lens: torch.Tensor, bos: int):
    """[(context ids from a_w (no BOS), prefix length (no BOS), [steps])]"""
    ids = ids.tolist()
    lens = step_lens.long().tolist()
    starts = [0]
    for s in lens[:-1]:
        starts.append(starts[-1] + s)
    out = []
    a = 0
    k = 0
    while True:
        while k < len(starts) and starts[k] < a + PREFIX:
            k += 1
        if k >= len(starts):
            break
        b = starts[k]
        steps = []
        p = b
        for s in lens[k:k + STEPS]:
            steps.append(ids[p:p + s])
            p += s
        out.append((ids[a:b], steps))
        k += len(steps)
        a = p - PREFIX
    return out


@torch.no_grad()
def perplexities(m: HamburgerLM, windows, bos: int, hamburger: bool):
    tot_plain = tot_ham = 0.0
    tot_first = tot_later = 0.0
    n = n_first = 0
    for prefix, steps in windows:
        flat = [t for st in steps for t in st]
        ctx = torch.tensor([[bos] + prefix + flat])
        lg = m.logits(m.base_hidden(ctx))[0]
        P = 1 + len(prefix)
        tot_plain += float(F.cross_entropy(lg[P - 1:-1], ctx[0, P:], reduction="sum"))
        n += len(flat)
        if hamburger:
            batch = build_ham_batch([([bos] + prefix, steps)])
            logits, _, tgt, _ = m.ham_forward(batch)
            ce = F.cross_entropy(logits, tgt, reduction="none")
            nf = len(steps)          # the first len(steps) outputs are micro step 0
            tot_ham += float(ce.sum())
            tot_first += float(ce[:nf].sum())
            tot_later += float(ce[nf:].sum())
            n_first += nf
    r = {"tokens": n, "ppl_plain": math.exp(tot_plain / n)}
    if hamburger:
        r["ppl_hamburger"] = math.exp(tot_ham / n)
        r["ppl_hamburger_first_token_of_step"] = math.exp(tot_first / n_first)
        r["ppl_hamburger_later_tokens_of_step"] = math.exp(tot_later / max(1, n - n_first))
        r["steps"] = n_first
    return r


def held_out_prompts(d) -> list:
    prompts = []
    for name, text in zip(d["val_names"], d["val_texts"]):
        lines = text.split("\n")
        p = ""
        for ln in lines:
            p += ln + "\n"
            if len(p.strip()) >= 60 and ln.strip():
                break
        prompts.append((name, p))
    return prompts


@torch.no_grad()
def judge_nll(judge: HamburgerLM, prompt_ids, gen):
    gen = gen[:NEW_TOKENS]
    x = torch.tensor([prompt_ids + gen])
    lg = judge.logits(judge.base_hidden(x))[0]
    P = len(prompt_ids)
    return float(F.cross_entropy(lg[P - 1:-1], x[0, P:], reduction="sum")), len(gen)


def repeated_4grams(gen):
    grams = [tuple(gen[i:i + 4]) for i in range(len(gen) - 3)]
    return 0.0 if not grams else 1 - len(set(grams)) / len(grams)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--write-confidence", action="store_true",
                    help="write the recommended confidence into the model's config.json")
    ap.add_argument("--out", help="eval JSON (default: <model>/eval.json)")
    ap.add_argument("--quick", action="store_true", help="smoke test: few windows, prompts, confidences")
    a = ap.parse_args()
    global CONFIDENCES
    if a.quick:
        CONFIDENCES = [0.5, 0.9]
    torch.manual_seed(0)
    torch.set_num_threads(2)
    t0 = time.time()
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    d = torch.load(find_up(a.work, "data.pt"))
    seg = torch.load(find_up(a.work, "segments.pt"))
    m = load_model_dir(a.model)
    cfg = m.cfg
    eos = cfg.eos_token_id if isinstance(cfg.eos_token_id, list) else [cfg.eos_token_id]
    judge = HamburgerLM(cfg, with_hamburger=False)
    judge.load_state_dict({k: v.to(torch.bfloat16).float()
                           for k, v in torch.load(find_up(a.work, "base.pt")).items()})
    judge.eval()

    res = {"model": a.model, "definitions": __doc__}
    windows = val_windows(d["val_ids"], seg["val_steps"], d["bos"])
    if a.quick:
        windows = windows[:8]
    res["segmentation_val_tokens_per_step"] = len(d["val_ids"]) / len(seg["val_steps"])
    res["segmentation_train_tokens_per_step"] = len(d["train_ids"]) / len(seg["train_steps"])
    res["before"] = perplexities(judge, windows, d["bos"], hamburger=False)
    res["after"] = perplexities(m, windows, d["bos"], hamburger=True)
    print(json.dumps({k: res[k] for k in ("before", "after")}, indent=1), flush=True)

    prompts = held_out_prompts(d)
    if a.quick:
        prompts = prompts[:28:9]
    sweep = {}
    gens = {}
    for c in ["greedy"] + CONFIDENCES:
        toks = steps = 0
        nll = cnt = 0.0
        rep = 0.0
        gens[str(c)] = []
        for name, p in prompts:
            ids = tok.encode(p).ids
            if c == "greedy":
                _, g = base_generate(m, ids, NEW_TOKENS, eos)
                st = [[t] for t in g]
            else:
                r = ham_generate(m, ids, c, NEW_TOKENS, eos, trace=False)
                st = r["steps"]
                g = [t for s in st for t in s]
            toks += len(g)
            steps += len(st)
            x, k = judge_nll(judge, ids, g)
            nll += x
            cnt += k
            rep += repeated_4grams(g[:NEW_TOKENS])
            gens[str(c)].append({"name": name, "prompt": p, "steps": st})
        sweep[str(c)] = {"tokens_per_step": toks / steps, "kv_slots_per_token": steps / toks,
                         "judge_nll": nll / cnt, "repeated_4grams": rep / len(prompts),
                         "tokens": toks, "steps": steps}
        print(f"{c!s:>7}: tokens/step {toks / steps:.3f}  KV slots/token {steps / toks:.3f}  "
              f"judge NLL {nll / cnt:.3f}  repeated 4-grams {rep / len(prompts):.3f}", flush=True)
    res["sweep"] = sweep
    greedy_nll = sweep["greedy"]["judge_nll"]
    for c in CONFIDENCES:
        sweep[str(c)]["judge_nll_vs_greedy"] = sweep[str(c)]["judge_nll"] / greedy_nll
    paying = [c for c in CONFIDENCES if sweep[str(c)]["tokens_per_step"] >= TARGET_TOKENS_PER_STEP]
    if paying:
        rec = min(paying, key=lambda c: sweep[str(c)]["judge_nll"])
        res["recommendation_rule"] = (f"lowest judge NLL among confidences with >= {TARGET_TOKENS_PER_STEP} "
                                      "tokens per macro step on the held-out prompts")
    else:
        ok = [c for c in CONFIDENCES if sweep[str(c)]["judge_nll"] <= greedy_nll * (1 + NLL_MARGIN)]
        rec = min(ok) if ok else max(CONFIDENCES)
        res["recommendation_rule"] = (f"smallest confidence with judge NLL <= (1 + {NLL_MARGIN}) x greedy judge NLL "
                                      f"(no confidence reached {TARGET_TOKENS_PER_STEP} tokens per macro step)")
    res["recommended_confidence"] = rec
    print(f"recommended confidence: {rec}")

    samples = []
    for i in ((0, 1, 2) if a.quick else (0, 13, 27)):
        g = gens[str(rec)][i]
        text = " | ".join(tok.decode(s) for s in g["steps"])
        samples.append({"name": g["name"], "prompt": g["prompt"],
                        "continuation": tok.decode([t for s in g["steps"] for t in s]),
                        "steps_marked": text})
    res["samples"] = samples
    json.dump(gens, open(os.path.join(a.work, "generations.json"), "w"), indent=1)
    res["eval_wall_s"] = time.time() - t0
    out = a.out or os.path.join(a.model, "eval.json")
    json.dump(res, open(out, "w"), indent=1)
    if a.write_confidence:
        write_config(cfg, a.model, rec)
    print(f"wrote {out} in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
