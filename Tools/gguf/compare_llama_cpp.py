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
    ap.add_argument("--kv-type", choices=["f32", "f16"], default="f32",
                    help="llama.cpp's KV cache (its own default is f16; f32 leaves the 8-bit activations as the "
                         "one rounding that hamrun does not have)")
    ap.add_argument("--flash-attn", action="store_true", help="let llama.cpp use flash attention (off by default: "
                                                               "it rounds Q to f16 on the CPU)")
    ap.add_argument("--out", type=Path, default=REFERENCE / "llama_cpp.json")
    ap.add_argument("--cases", type=int, help="only the first N prompts (e.g. for a slow F32 file)")
    ap.add_argument("--report-only", action="store_true", help="run nothing: print the report of an earlier --out")
    args = ap.parse_args()

    reference = json.loads((REFERENCE / "cases.json").read_text())
    if args.cases:
        reference["cases"] = reference["cases"][:args.cases]
    if not args.report_only:
        args.out.write_text(json.dumps(run_llama_cpp(args, reference), separators=(",", ":")) + "\n")
        print(f"-> {args.out}")
    report(reference, json.loads(args.out.read_text()))


def run_llama_cpp(args, reference: dict) -> dict:
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
    cparams.type_k = cparams.type_v = L.GGML_TYPE_F32 if args.kv_type == "f32" else L.GGML_TYPE_F16
    cparams.flash_attn_type = L.LLAMA_FLASH_ATTN_TYPE_AUTO if args.flash_attn else L.LLAMA_FLASH_ATTN_TYPE_DISABLED
    ctx = L.llama_init_from_model(model, cparams)
    mem = L.llama_get_memory(ctx)

    def decode(ids: list[int]) -> np.ndarray:
        arr = (L.llama_token * len(ids))(*ids)
        if L.llama_decode(ctx, L.llama_batch_get_one(arr, len(ids))) != 0:
            raise RuntimeError("llama_decode failed")
        return np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, -1), shape=(n_vocab,)).copy()

    kept = load_file(REFERENCE / "last_logits.safetensors")
    out_cases = []
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
        out_cases.append({"greedy_ids": [s["top2"][0] for s in steps], "steps": steps,
                          "last_logits_max_abs_diff": error})
        print(f"case {i}: {len(case['prompt_ids'])} prompt tokens", flush=True)
    system = L.llama_print_system_info().decode(errors="replace").strip()
    L.llama_free(ctx)
    L.llama_model_free(model)
    return {"llama_cpp_python": L.__version__, "threads": args.threads, "kv_type": args.kv_type,
            "flash_attn": args.flash_attn, "system_info": system, "model": args.model.name, "cases": out_cases}


def report(reference: dict, llama: dict) -> None:
    """Per prompt: where llama.cpp's greedy tokens part from transformers' (= hamrun's), and why."""
    print(f"llama.cpp (llama-cpp-python {llama['llama_cpp_python']}) on {llama['model']}, KV cache "
          f"{llama.get('kv_type', 'f16')}, {llama['threads']} threads")
    print(f"{'case':>4} {'kind':4} {'parts at':>8}  {'hamrun':>7} {'llama':>7}  {'tf margin':>9} {'llama margin':>12} "
          f"{'llama err':>9}  verdict")
    identical = explained = 0
    for i, (case, ll_case) in enumerate(zip(reference["cases"], llama["cases"])):
        greedy, error = ll_case["greedy_ids"], ll_case["last_logits_max_abs_diff"]
        parts = next((k for k, (a, b) in enumerate(zip(case["greedy_ids"], greedy)) if a != b), None)
        if parts is None:
            identical += 1
            print(f"{i:4d} {case['kind']:4} {'-':>8}  identical for {len(greedy)} tokens; llama.cpp logit error {error:.3f}")
            continue
        ours, theirs = case["greedy_ids"][parts], greedy[parts]
        tf, ll = case["steps"][parts], ll_case["steps"][parts]
        # Both ran on the same tokens so far: llama.cpp's logits for transformers' top two are known.
        ll_margin = ll["top2_logits"][0] - ll["at_transformers_top2"][0]
        if tf["top2"][1] == theirs:
            tf_margin = tf["top2_logits"][0] - tf["top2_logits"][1]
            shown = f"{tf_margin:9.4f}"
        else:
            # llama.cpp's token is not transformers' second: the margin is at least the top two's.
            tf_margin = tf["top2_logits"][0] - tf["top2_logits"][1]
            shown = f"≥{tf_margin:8.4f}"
        ok = tf_margin <= 2 * error
        if tf["top2"][1] == theirs:
            explained += ok
            verdict = "within llama.cpp's rounding" if ok else "NOT explained by rounding"
        else:
            verdict = ("NOT explained by rounding" if not ok else
                       "its token is transformers' third or lower (SmolLM2Tests checks hamrun's margin to it)")
        print(f"{i:4d} {case['kind']:4} {parts:8d}  {ours:7d} {theirs:7d}  {shown} {ll_margin:12.4f} {error:9.4f}  {verdict}")
    errors = sorted(c["last_logits_max_abs_diff"] for c in llama["cases"][:len(reference["cases"])])
    print(f"{identical} of {len(errors)} prompts identical for all {reference['steps']} tokens; "
          f"{explained} of the {len(errors) - identical} partings within twice llama.cpp's logit error; "
          f"its largest logit error after the prompt: median {errors[len(errors) // 2]:.3f}, max {errors[-1]:.3f}")


if __name__ == "__main__":
    main()
