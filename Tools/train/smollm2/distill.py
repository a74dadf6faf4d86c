"""Self-distillation data for HAMburger on SmolLM2-135M-Instruct: the base
model's own greedy answers (made by `hamrun batch` on the GGUF) and the base
model's entropy at every answer token (llama-cpp-python on the same file),
segmented into macro steps with the authors' decreasing_v2 rule.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from typing import List

import numpy as np

SYSTEM_DEFAULT = None   # the file's chat template adds its default system message


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


def answer_entropies(gguf: str, samples: List[tuple], threads: int, log) -> List[np.ndarray]:
    """For (prompt ids, answer ids): the entropy (nats) of the base model's
    next-token distribution at each answer token, given everything before it."""
    from llama_cpp import Llama
    llm = Llama(model_path=gguf, n_ctx=512, n_batch=512, logits_all=True, n_threads=threads,
                n_threads_batch=threads, verbose=False)
    out = []
    t = time.time()
    for i, (p, a) in enumerate(samples):
        ids = p + a
        llm.reset()
        llm.eval(ids)
        lg = np.asarray(llm.scores[len(p) - 1:len(ids) - 1], dtype=np.float64)   # predicts a[0..]
        m = lg.max(axis=1, keepdims=True)
        e = np.exp(lg - m)
        z = e.sum(axis=1, keepdims=True)
        pr = e / z
        out.append((np.log(z[:, 0]) + m[:, 0] - (pr * lg).sum(axis=1)).astype(np.float32))
        if (i + 1) % 500 == 0:
            log(f"  entropies {i + 1}/{len(samples)} ({time.time() - t:.0f} s)")
    return out
