"""What the golden fixtures (expected.json) share: the near-tie test that
keeps out cases float32 reordering could flip, and writing the file."""

from __future__ import annotations

import json
import os

MIN_LOGIT_MARGIN = 2e-3
MIN_STOP_MARGIN = 5e-4


def margins(case, conf):
    """(smallest top-1 minus top-2 logit, smallest |1 - p_stop - confidence|) of a case."""
    lm = min(t["top2_logits"][0] - t["top2_logits"][1] for t in case["micro_trace"])
    sm = min(abs(1 - p - conf) for p in case["stop_probs"])
    return lm, sm


def near_tie(lm: float, sm: float) -> bool:
    return lm < MIN_LOGIT_MARGIN or sm < MIN_STOP_MARGIN


def write(path: str, out: dict, used: list, worst: tuple):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f)
    print(f"wrote {path}: {len(out['cases'])} cases from {len(used)} prompts; smallest margins "
          f"logit {worst[0]:.1e}, stop {worst[1]:.1e}")
