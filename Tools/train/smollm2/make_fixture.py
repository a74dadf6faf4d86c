"""The golden fixture of the SmolLM2 HAMburger model: what the PyTorch side
(Tools/train/hamburger_model.py, float32 on the GGUF's dequantized base and
the directory's stored bfloat16 modules) generates, in the schema of
shared/fixtures/tiny-hamburger-ref/expected.json, for the runtime to
reproduce token for token and step for step (SmolLM2HAMburgerTests).

    python3 Tools/train/smollm2/make_fixture.py --model Models/smollm2-hamburger \
        --answers ~/.cache/hamrun/train-smollm2/data-*/answers.json \
        --out Tests/Fixtures/smollm2-hamburger-ref/expected.json

HAMburger cases only (the base alone is Tests/Fixtures/smollm2-ref): held-out
chat prompts in their order, MAX_NEW new tokens, confidences 0.5, 0.7, 0.9 and
the recommended one; a prompt is skipped when any of its cases has a near-tie
that float32 reordering could flip (fixture_cases.py: top-1/top-2 logit margin
below MIN_LOGIT_MARGIN, |1 - p_stop - confidence| below MIN_STOP_MARGIN) or
emits EOS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from base_gguf import default_gguf, load_model_dir  # noqa: E402
from fixture_cases import margins, near_tie, write  # noqa: E402
from hamburger_model import ham_generate  # noqa: E402

MAX_NEW = 32
N_PROMPTS = 6


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--answers", required=True)
    ap.add_argument("--gguf", default=default_gguf())
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    m = load_model_dir(a.model, a.gguf)
    eos = m.cfg.eos_token_id if isinstance(m.cfg.eos_token_id, list) else [m.cfg.eos_token_id]
    rec = json.load(open(os.path.join(a.model, "config.json")))["hamburger"].get("confidence", 0.9)
    confs = sorted({0.5, 0.7, 0.9, rec})
    held = json.load(open(a.answers))["held_out"]
    cases, used, worst = [], [], (float("inf"), float("inf"))
    for h in held:
        mine, ok = [], True
        for c in confs:
            r = ham_generate(m, h["prompt_ids"], c, MAX_NEW, eos)
            lm, sm = margins(r, c)
            if near_tie(lm, sm) or any(t in eos for s in r["steps"] for t in s):
                print(f"skip {h['prompt']!r}: confidence {c} logit margin {lm:.1e} stop margin {sm:.1e}")
                ok = False
                break
            mine.append({"prompt": h["prompt"], "prompt_ids": h["prompt_ids"], "confidence": c,
                         "max_new_tokens": MAX_NEW, **r})
            worst = (min(worst[0], lm), min(worst[1], sm))
        if not ok:
            continue
        cases.extend(mine)
        used.append(h["prompt"])
        print(f"{h['prompt']!r}: tokens/step " + " ".join(
            f"{c['confidence']}:{sum(map(len, c['steps'])) / len(c['steps']):.2f}" for c in mine))
        if len(used) == N_PROMPTS:
            break
    if len(used) < N_PROMPTS:
        sys.exit(f"error: only {len(used)} of {len(held)} held-out prompts have no near-tie and no EOS; "
                 f"the fixture needs {N_PROMPTS}")
    out = {
        "generator": "Tools/train/hamburger_model.py, float32 on the GGUF's dequantized base "
                     "(transformers gguf_file=) and the stored bf16 modules",
        "model": "Models/smollm2-hamburger (base SmolLM2-135M-Instruct.Q4_1.gguf)",
        "merged_position": "rope position of the last token of the step; kv slot = macro index",
        "stop_rule": "stop after a token when (1 - sigmoid(stop_head)) < confidence",
        "micro_attention": "causal",
        "eos": "no case emits EOS",
        "recommended_confidence": rec,
        "smallest_margins": {"top1_minus_top2_logit": worst[0], "abs_one_minus_pstop_minus_confidence": worst[1]},
        "prompts_from": "held-out chat prompts (Tools/train/smollm2/prompts.py), through the file's chat template",
        "cases": cases,
    }
    write(a.out, out, used, worst)


if __name__ == "__main__":
    main()
