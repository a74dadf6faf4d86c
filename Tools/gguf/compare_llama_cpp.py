#!/usr/bin/env python3
"""llama.cpp (llama-cpp-python 0.3.36, its low-level API) on the real model, against the
transformers float32 reference that hamrun reproduces (Tests/Fixtures/smollm2-ref): for every
prompt, llama.cpp's logits after the prompt and its 32 greedy tokens, compared token by token
with transformers' (= hamrun's) greedy tokens.

    ~/.cache/hamrun/venv/bin/python Tools/gguf/compare_llama_cpp.py [--model PATH] [--threads 2]

Writes Tests/Fixtures/smollm2-ref/llama_cpp.json (what llama.cpp computed: per prompt its
greedy ids, its top two per step, its logits at transformers' top two per step, and its largest
error after the prompt at the fixture's kept logits) and prints the report: per prompt, the
first step where llama.cpp's token differs, the two tokens, transformers' margin between them,
llama.cpp's own margin, and llama.cpp's logit errors. Until they part both run on the same
tokens, so at the parting step transformers' margin plus llama.cpp's is exactly the difference
of llama.cpp's errors on the two logits. llama.cpp's Q4_1 and Q8_0 products quantize the
activations to 8 bits (Q8_1 and Q8_0 blocks), which moves every logit a little; a
parting is put down to that rounding when transformers' margin is within twice llama.cpp's
largest error after the prompt.

Run it in the venv of Tools/bench/compare.py (~/.cache/hamrun/venv), where llama-cpp-python
is installed.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "Tests/Fixtures/smollm2-ref"
DEFAULT_MODEL = Path(os.environ.get("HAMRUN_CACHE", Path.home() / ".cache/hamrun")) / "models/SmolLM2-135M-Instruct.Q4_1.gguf"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REFERENCE / "llama_cpp.json")
    args = ap.parse_args()

    import llama_cpp as L

    @L.llama_log_callback
    def quiet(level, text, user_data):
        pass

    L.llama_log_set(quiet, ctypes.c_void_p())
    L.llama_backend_init()
    model = L.llama_model_load_from_file(str(args.model).encode(), L.llama_model_default_params())
    if not model:
        raise SystemExit(f"cannot load {args.model}")
    n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    cparams = L.llama_context_default_params()
    cparams.n_ctx = 1024
    cparams.n_batch = cparams.n_ubatch = 512
    cparams.n_threads = cparams.n_threads_batch = args.threads
    ctx = L.llama_init_from_model(model, cparams)
    mem = L.llama_get_memory(ctx)

    def decode(ids: list[int]) -> np.ndarray:
        arr = (L.llama_token * len(ids))(*ids)
        if L.llama_decode(ctx, L.llama_batch_get_one(arr, len(ids))) != 0:
            raise RuntimeError("llama_decode failed")
        return np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, -1), shape=(n_vocab,)).copy()

    reference = json.loads((REFERENCE / "cases.json").read_text())
    kept = load_file(REFERENCE / "last_logits.safetensors")
    out_cases = []
    print(f"{'case':>4} {'kind':4} {'parts at':>8}  {'hamrun':>7} {'llama':>7}  {'tf margin':>9} {'llama margin':>12} {'llama err':>9}  verdict")
    for i, case in enumerate(reference["cases"]):
        L.llama_memory_clear(mem, True)
        logits = decode(case["prompt_ids"])
        error = float(np.max(np.abs(logits[kept["ids"][i]] - kept["logits"][i])))
        steps = []
        for k in range(reference["steps"]):
            top = np.argsort(-logits, kind="stable")[:2]
            tf_top2 = case["steps"][k]["top2"]
            steps.append({"top2": [int(t) for t in top], "top2_logits": [float(logits[t]) for t in top],
                          "at_transformers_top2": [float(logits[t]) for t in tf_top2]})
            logits = decode([int(top[0])])
        greedy = [s["top2"][0] for s in steps]
        out_cases.append({"greedy_ids": greedy, "steps": steps, "last_logits_max_abs_diff": error})

        parts = next((k for k, (a, b) in enumerate(zip(case["greedy_ids"], greedy)) if a != b), None)
        if parts is None:
            print(f"{i:4d} {case['kind']:4} {'-':>8}  identical for {len(greedy)} tokens; llama.cpp logit error {error:.3f}")
            continue
        ours, theirs = case["greedy_ids"][parts], greedy[parts]
        tf = case["steps"][parts]
        tf_margin = tf["top2_logits"][0] - tf["top2_logits"][1] if tf["top2"][1] == theirs else float("inf")
        ll = steps[parts]
        ll_margin = ll["top2_logits"][0] - ll["top2_logits"][1] if ll["top2"][1] == ours else float("inf")
        verdict = "within llama.cpp's rounding" if tf_margin <= 2 * error else "NOT explained by rounding"
        print(f"{i:4d} {case['kind']:4} {parts:8d}  {ours:7d} {theirs:7d}  {tf_margin:9.4f} {ll_margin:12.4f} {error:9.4f}  {verdict}")

    system = L.llama_print_system_info().decode(errors="replace").strip()
    args.out.write_text(json.dumps({"llama_cpp_python": L.__version__, "threads": args.threads, "system_info": system,
                                    "model": args.model.name, "cases": out_cases}, indent=1) + "\n")
    L.llama_free(ctx)
    L.llama_model_free(model)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
