#!/usr/bin/env python3
"""One llama.cpp measurement through llama-cpp-python's low-level API (one process per run, so
its peak RSS is the run's own).

    python llama_run.py --model FILE.gguf [--threads 2] [--prompt-tokens 64] [--gen-tokens 128]

Prompt: the same fixed pseudo-random token ids `hamrun bench` uses (its LCG, no BOS). Greedy
(argmax of the last logits), EOS ignored, so it always generates --gen-tokens tokens: the prompt
is decoded as one batch (prefill), then the generated tokens one at a time (decode); the last
generated token is not fed back, as in `hamrun bench`. A warm-up pass (prompt + 8 tokens) pages
the weights in first; the KV cache is cleared and llama.cpp's perf counters reset before the
timed pass.

Prints one JSON object: prefill / decode tok/s from llama.cpp's own context timings
(llama_perf_context: t_p_eval_ms over n_p_eval tokens, t_eval_ms over n_eval tokens), the same
from wall-clock around the calls (Python's argmax included), peak RSS (VmHWM) and the RSS of the
interpreter before the model was loaded.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import sys
import time

import numpy as np


def status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def bench_prompt(n: int, vocab: int, sequence: int = 0) -> list[int]:
    """hamrun bench's prompt for sequence `sequence` of a batch: state = state * 6364136223846793005
    + 1442695040888963407 (mod 2^64), id = (state >> 33) % vocab, from state
    0x2545F4914F6CDD1D + sequence * 0x9E3779B97F4A7C15."""
    state, out = (0x2545F4914F6CDD1D + sequence * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF, []
    for _ in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        out.append((state >> 33) % vocab)
    return out


_log_callback = None


def silence_llama_cpp(L) -> None:
    """Sends llama.cpp's log (its load log would drown the output) nowhere, for the process."""
    global _log_callback

    @L.llama_log_callback
    def quiet(level, text, user_data):
        pass

    _log_callback = quiet  # llama.cpp keeps calling it: the ctypes callback must stay alive
    L.llama_log_set(quiet, ctypes.c_void_p())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--warmup-tokens", type=int, default=8)
    ap.add_argument("--print-tokens", action="store_true")
    args = ap.parse_args()

    baseline_rss_kb = status_kb("VmRSS")
    import llama_cpp as L  # noqa: E402  (after the baseline: the import maps libllama)

    silence_llama_cpp(L)
    L.llama_backend_init()
    after_import_rss_kb = status_kb("VmRSS")

    t_load = time.perf_counter()
    mparams = L.llama_model_default_params()
    model = L.llama_model_load_from_file(args.model.encode(), mparams)
    if not model:
        print(json.dumps({"error": f"cannot load {args.model}"}))
        return 1
    vocab = L.llama_model_get_vocab(model)
    n_vocab = L.llama_vocab_n_tokens(vocab)
    cparams = L.llama_context_default_params()
    n_ctx = args.prompt_tokens + args.gen_tokens + 16
    cparams.n_ctx = n_ctx
    cparams.n_batch = max(args.prompt_tokens, 32)
    cparams.n_ubatch = max(args.prompt_tokens, 32)
    cparams.n_threads = args.threads
    cparams.n_threads_batch = args.threads
    cparams.no_perf = False
    ctx = L.llama_init_from_model(model, cparams)
    if not ctx:
        print(json.dumps({"error": "cannot create a context"}))
        return 1
    load_seconds = time.perf_counter() - t_load
    mem = L.llama_get_memory(ctx)

    prompt = bench_prompt(args.prompt_tokens, n_vocab)

    def decode(ids: list[int]) -> None:
        arr = (L.llama_token * len(ids))(*ids)
        rc = L.llama_decode(ctx, L.llama_batch_get_one(arr, len(ids)))
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")

    def argmax_last() -> int:
        logits = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, -1), shape=(n_vocab,))
        return int(np.argmax(logits))

    def generate(n_gen: int) -> tuple[list[int], float, float]:
        t0 = time.perf_counter()
        decode(prompt)
        out = [argmax_last()]
        t1 = time.perf_counter()
        while len(out) < n_gen:
            decode([out[-1]])
            out.append(argmax_last())
        t2 = time.perf_counter()
        return out, t1 - t0, t2 - t1

    generate(args.warmup_tokens)  # page in the weights
    L.llama_memory_clear(mem, True)
    L.llama_perf_context_reset(ctx)

    tokens, prefill_wall, decode_wall = generate(args.gen_tokens)
    perf = L.llama_perf_context(ctx)
    n_decoded = args.gen_tokens - 1  # single-token llama_decode calls
    result = {
        "model": args.model,
        "llama_cpp_python": L.__version__,
        "system_info": L.llama_print_system_info().decode(errors="replace").strip(),
        "threads": args.threads,
        "n_ctx": n_ctx,
        "prompt_tokens": args.prompt_tokens,
        "generated_tokens": len(tokens),
        "prefill_tokens_per_second": perf.n_p_eval / (perf.t_p_eval_ms / 1e3) if perf.t_p_eval_ms > 0 else 0.0,
        "decode_tokens_per_second": perf.n_eval / (perf.t_eval_ms / 1e3) if perf.t_eval_ms > 0 else 0.0,
        "perf": {"t_p_eval_ms": perf.t_p_eval_ms, "n_p_eval": perf.n_p_eval,
                 "t_eval_ms": perf.t_eval_ms, "n_eval": perf.n_eval},
        "wall_prefill_tokens_per_second": args.prompt_tokens / prefill_wall,
        "wall_decode_tokens_per_second": n_decoded / decode_wall if decode_wall > 0 else 0.0,
        "load_seconds": load_seconds,
        "peak_rss_mb": status_kb("VmHWM") / 1024,
        "interpreter_rss_mb": baseline_rss_kb / 1024,
        "after_import_rss_mb": after_import_rss_kb / 1024,
    }
    if args.print_tokens:
        result["tokens"] = tokens
    L.llama_free(ctx)
    L.llama_model_free(model)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
