"""The authors' segmentation of text into macro steps by the base model's entropy."""

from __future__ import annotations

from typing import List


def segment(values: List[float], max_steps=4, min_threshold=0.05, ratio=0.3) -> List[int]:
    """The authors' "decreasing_v2" heuristic: a step starts at a token and
    the following tokens join it while their entropy is below `min_threshold`
    or below `ratio` times the largest entropy in the step, up to max_steps."""
    steps, cnt, top = [], 0, -1.0
    for e in values:
        if cnt and cnt < max_steps and (e < min_threshold or e < top * ratio):
            cnt += 1
            top = max(top, e)
        else:
            if cnt:
                steps.append(cnt)
            cnt, top = 1, e
    if cnt:
        steps.append(cnt)
    assert sum(steps) == len(values)
    return steps
