"""Cached training stages: each stage's results live in a directory named by a
hash of its own settings, nested in the directories of the stages before it,
so a stage is reused when its own and all earlier settings are unchanged."""

from __future__ import annotations

import hashlib
import json
import os
from typing import List, Sequence, Tuple


def settings_key(a, keys: Sequence[str]) -> str:
    s = json.dumps({k: getattr(a, k) for k in keys}, sort_keys=True)
    return hashlib.sha256(s.encode()).hexdigest()[:10]


def work_dirs(root: str, a, levels: Sequence[Tuple[str, Sequence[str]]]) -> List[str]:
    """root/NAME1-K1/NAME2-K2/...: one directory per (name, settings keys),
    created, each with the settings it was made with in settings.json."""
    dirs, d = [], root
    for name, keys in levels:
        d = os.path.join(d, f"{name}-{settings_key(a, keys)}")
        dirs.append(d)
    os.makedirs(d, exist_ok=True)
    for dd, (_, keys) in zip(dirs, levels):
        json.dump({k: getattr(a, k) for k in keys}, open(os.path.join(dd, "settings.json"), "w"), indent=1)
    return dirs
