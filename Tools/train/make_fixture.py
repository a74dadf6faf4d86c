"""Write the runtime's golden fixture for a trained model directory.

    python3 Tools/train/make_fixture.py --model Models/shakespeare-hamburger \
        --work ~/.cache/hamrun/train-work/<hash> \
        --out Tests/Fixtures/shakespeare-ref/expected.json

Same schema as shared/fixtures/tiny-hamburger-ref/expected.json: HAMburger
cases (prompt, prompt_ids with BOS, confidence, max_new_tokens = 48, steps,
micro_trace = top-2 ids / logits / logsumexp per micro step, stop_probs) at
confidences 0.5, 0.7, 0.9 and the model's recommended confidence, and base
cases (last_logits, greedy_ids = 24 tokens). Computed in float32 on exactly
the stored bfloat16 weights (the safetensors file is loaded back and cast).

Prompts: the first lines of held-out chunks (evaluate.held_out_prompts), in a
fixed order, skipping a prompt when any of its cases has a top-1/top-2 logit
margin below MIN_LOGIT_MARGIN or a |1 - p_stop - confidence| below
MIN_STOP_MARGIN (near-ties that float32 reorderings could flip), or emits EOS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# OpenMP threads that spin while waiting make a shared (oversubscribed) CPU
# up to 10x slower; passive waiting does not change any result.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from evaluate import NEW_TOKENS, held_out_prompts  # noqa: E402
from fixture_cases import MIN_LOGIT_MARGIN, margins, near_tie, write  # noqa: E402
from hamburger_model import base_generate, ham_generate  # noqa: E402
from model_io import find_up, load_model_dir, recommended_confidence  # noqa: E402

MAX_NEW = 48
BASE_NEW = 24
N_PROMPTS = 8
ORDER = ["hamlet_gut", "macbeth_gut", "romeo_and_juliet_gut", "tempest_gut", "sonnets_gut",
         "lear_gut", "midsummer_nights_dream_gut", "othello_gut", "julius_caesar_gut",
         "twelfth_night_gut", "merchant_of_venice_gut", "richard_iii_gut"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    d = torch.load(find_up(a.work, "data.pt"))
    m = load_model_dir(a.model)
    eos = m.cfg.eos_token_id if isinstance(m.cfg.eos_token_id, list) else [m.cfg.eos_token_id]
    rec = recommended_confidence(a.model)
    confs = sorted({0.5, 0.7, 0.9, rec})
    prompts = dict(held_out_prompts(d))
    names = ORDER + sorted(n for n in prompts if n not in ORDER)

    cases, used, worst = [], [], (float("inf"), float("inf"))
    for name in names:
        p = prompts[name]
        ids = tok.encode(p).ids
        assert ids[0] == m.cfg.bos_token_id
        mine, ok = [], True
        for c in confs:
            r = ham_generate(m, ids, c, MAX_NEW, eos)
            case = {"prompt": p, "prompt_ids": ids, "confidence": c, "max_new_tokens": MAX_NEW, **r}
            lm, sm = margins(case, c)
            flat = [t for s in r["steps"] for t in s]
            if near_tie(lm, sm) or any(t in eos for t in flat):
                print(f"skip {name}: conf {c} logit margin {lm:.1e} stop margin {sm:.1e}")
                ok = False
                break
            mine.append(case)
            worst = (min(worst[0], lm), min(worst[1], sm))
        if not ok:
            continue
        last, greedy = base_generate(m, ids, BASE_NEW, eos)
        top = torch.topk(last, 2).values
        if float(top[0] - top[1]) < MIN_LOGIT_MARGIN:
            print(f"skip {name}: base logit margin")
            continue
        mine.append({"prompt": p, "prompt_ids": ids, "mode": "base",
                     "last_logits": [float(x) for x in last], "greedy_ids": greedy})
        cases.extend(mine)
        used.append(name)
        tps = [sum(len(s) for s in c["steps"]) / len(c["steps"]) for c in mine if "steps" in c]
        print(f"{name}: tokens/step " + " ".join(f"{c}:{t:.2f}" for c, t in zip(confs, tps)))
        if len(used) == N_PROMPTS:
            break

    out = {
        "generator": "Tools/train/hamburger_model.py (checked against the authors' modules with "
                     "Tools/train/check_reference.py), float32 on the stored bf16 weights",
        "model": "Models/shakespeare-hamburger",
        "merged_position": "rope position of the last token of the step; kv slot = macro index",
        "stop_rule": "stop after a token when (1 - sigmoid(stop_head)) < confidence",
        "micro_attention": "causal (the micro-step decoder's rows, features and first token "
                           "included; later calls: one new token against the micro KV cache)",
        "eos": "no case emits EOS",
        "recommended_confidence": rec,
        "smallest_margins": {"top1_minus_top2_logit": worst[0], "abs_one_minus_pstop_minus_confidence": worst[1]},
        "prompts_from": "held-out (validation) text: " + ", ".join(used),
        "cases": cases,
    }
    write(a.out, out, used, worst)

    # The held-out prompts of the model card's sweep, so the runtime's own
    # tokens-per-step test needs no corpus.
    sweep = {}
    eval_path = os.path.join(a.model, "eval.json")
    if os.path.exists(eval_path):
        sweep = {k: {"tokens": v["tokens"], "steps": v["steps"]}
                 for k, v in json.load(open(eval_path))["sweep"].items()}
    heldout = {
        "source": "first lines of the held-out chunks (Tools/train/evaluate.py held_out_prompts)",
        "max_new_tokens": NEW_TOKENS,
        "count_rule": "greedy; a prompt ends after the macro step that reaches max_new_tokens "
                      "or emits EOS; tokens/step = all tokens / all macro steps",
        "recommended_confidence": rec,
        "pytorch_sweep": sweep,
        "prompts": [{"name": n, "prompt": p, "prompt_ids": tok.encode(p).ids}
                    for n, p in held_out_prompts(d)],
    }
    path = os.path.join(os.path.dirname(os.path.abspath(a.out)), "heldout.json")
    with open(path, "w") as f:
        json.dump(heldout, f, indent=1)
    print(f"wrote {path}: {len(heldout['prompts'])} prompts")


if __name__ == "__main__":
    main()
