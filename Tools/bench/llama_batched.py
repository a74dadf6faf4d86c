#!/usr/bin/env python3
"""llama.cpp decoding B sequences at once, as `llama-batched-bench` does: one `llama_decode` per
step over a batch of B tokens, each in its own sequence (seq_id), through llama-cpp-python's
low-level API. One process per run.

    python llama_batched.py --model FILE.gguf --batch 8 [--threads 2] [--prompt-tokens 64] [--gen-tokens 128]

Prompts: the ones `hamrun bench --batch B` uses (sequence i's LCG starts at
0x2545F4914F6CDD1D + i * 0x9E3779B97F4A7C15; sequence 0's is `llama_run.py`'s). All prompts are
prefilled in one llama_decode, then each step decodes one greedy token per sequence (EOS ignored);
the last token is not fed back, as in hamrun. A warm-up pass first, the KV cache cleared after.

Prints one JSON object: aggregate decode tok/s (B · (gen - 1) tokens over the decode wall time)
and per-sequence tok/s, prefill tok/s, peak RSS.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


from llama_run import bench_prompt, silence_llama_cpp, status_kb  # noqa: E402  (this folder)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--warmup-tokens", type=int, default=4)
    args = ap.parse_args()

    import llama_cpp as L  # noqa: E402

    silence_llama_cpp(L)
    L.llama_backend_init()
    model = L.llama_model_load_from_file(args.model.encode(), L.llama_model_default_params())
    if not model:
        print(json.dumps({"error": f"cannot load {args.model}"}))
        return 1
    vocab = L.llama_model_get_vocab(model)
    n_vocab = L.llama_vocab_n_tokens(vocab)
    b, p = args.batch, args.prompt_tokens
    cparams = L.llama_context_default_params()
    cparams.n_ctx = b * (p + args.gen_tokens + 16)
    cparams.n_batch = max(b * p, 32)
    cparams.n_ubatch = max(b * p, 32)
    cparams.n_seq_max = b
    cparams.n_threads = args.threads
    cparams.n_threads_batch = args.threads
    cparams.no_perf = False
    ctx = L.llama_init_from_model(model, cparams)
    if not ctx:
        print(json.dumps({"error": "cannot create a context"}))
        return 1
    mem = L.llama_get_memory(ctx)
    prompts = [bench_prompt(p, n_vocab, i) for i in range(b)]
    batch = L.llama_batch_init(b * p, 0, b)

    def fill(entries: list[tuple[int, int, int, bool]]) -> None:
        """(token, position, sequence, wants logits) per batch entry."""
        batch.n_tokens = len(entries)
        for k, (token, pos, seq, logits) in enumerate(entries):
            batch.token[k] = token
            batch.pos[k] = pos
            batch.n_seq_id[k] = 1
            batch.seq_id[k][0] = seq
            batch.logits[k] = logits
        rc = L.llama_decode(ctx, batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")

    def argmax(k: int) -> int:
        return int(np.argmax(np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, k), shape=(n_vocab,))))

    def generate(n_gen: int) -> tuple[list[list[int]], float, float]:
        t0 = time.perf_counter()
        fill([(t, i, s, i == p - 1) for s in range(b) for i, t in enumerate(prompts[s])])
        out = [[argmax(s * p + p - 1)] for s in range(b)]
        t1 = time.perf_counter()
        while len(out[0]) < n_gen:
            pos = p + len(out[0]) - 1
            fill([(out[s][-1], pos, s, True) for s in range(b)])
            for s in range(b):
                out[s].append(argmax(s))
        t2 = time.perf_counter()
        return out, t1 - t0, t2 - t1

    generate(args.warmup_tokens)
    L.llama_memory_clear(mem, True)
    tokens, prefill_wall, decode_wall = generate(args.gen_tokens)
    decoded = b * (args.gen_tokens - 1)
    print(json.dumps({
        "model": args.model,
        "llama_cpp_python": L.__version__,
        "batch": b,
        "threads": args.threads,
        "prompt_tokens": p,
        "generated_tokens": args.gen_tokens,
        "prefill_tokens_per_second": b * p / prefill_wall,
        "decode_tokens_per_second": decoded / decode_wall if decode_wall > 0 else 0.0,
        "decode_tokens_per_second_per_sequence": (args.gen_tokens - 1) / decode_wall if decode_wall > 0 else 0.0,
        "peak_rss_mb": status_kb("VmHWM") / 1024,
        "first_tokens": [t[:8] for t in tokens],
    }))
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    L.llama_model_free(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
