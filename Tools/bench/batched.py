#!/usr/bin/env python3
"""Batched decode, side by side in one run: `hamrun bench --batch B` (base, HAMburger at forced
K = 2 and 4, bf16 and Q8_0) against llama.cpp decoding B sequences in one `llama_decode` per step
(`llama_batched.py`, as llama-batched-bench does), on the 1B bench shapes, for B = 1, 2, 4, 8, 16.
Configurations alternate within every round; the table gives medians over the rounds.

    python3 Tools/bench/batched.py [--batches 1,2,4,8,16] [--rounds 3] [--gen-tokens 64]
                                   [--markdown-out out/batched.md] [--json-out out/batched.json]

Uses compare.py's setup: the release build, the bench model in ~/.cache/hamrun/bench-1b (made if
missing), llama-cpp-python 0.3.36 in ~/.cache/hamrun/venv.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import compare  # noqa: E402


def configs(args, hamrun: Path, python: Path) -> list[dict]:
    d: Path = args.model_dir
    out = []
    common = ["--threads", args.threads, "--prompt-tokens", args.prompt_tokens, "--gen-tokens", args.gen_tokens]
    for b in args.batches:
        for label, fname in [("llama.cpp F16", "llama-1b-f16.gguf"), ("llama.cpp Q8_0", "llama-1b-q8_0.gguf")]:
            out.append({"batch": b, "label": label, "weights": fname.split("-")[-1].split(".")[0],
                        "cmd": [python, HERE / "llama_batched.py", "--model", d / fname, "--batch", b] + common})
        for weights, directory in [("bf16", "hamburger-bf16"), ("q8_0", "hamburger-q8_0")]:
            ham = [hamrun, "bench", "--model", d / directory, "--batch", b, "--runs", "1", "--json"] + common
            out.append({"batch": b, "label": f"hamrun base ({weights})", "weights": weights, "cmd": ham + ["--mode", "base"]})
            for k in args.ks:
                out.append({"batch": b, "label": f"hamrun K={k} ({weights})", "weights": weights, "k": k,
                            "cmd": ham + ["--mode", "hamburger", "--force-steps", k]})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, default=compare.CACHE / "bench-1b")
    ap.add_argument("--batches", default="1,2,4,8,16")
    ap.add_argument("--ks", default="2,4")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--max-busy", type=float, default=0.15, help="other work allowed on the CPUs before a run")
    ap.add_argument("--markdown-out", type=Path)
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    args.batches = [int(x) for x in args.batches.split(",")]
    args.ks = [int(x) for x in args.ks.split(",")]

    hamrun = compare.build_hamrun()
    python = compare.ensure_llama_cpp(compare.CACHE / "venv")
    compare.ensure_model(args.model_dir, python, verify=False, hamrun=hamrun)
    cfgs = configs(args, hamrun, python)
    runs: dict[int, list[dict]] = {i: [] for i in range(len(cfgs))}
    for round_index in range(args.rounds):
        for i, c in enumerate(cfgs):
            busy = compare.wait_quiet(args.max_busy, 120)
            result, conditions = compare.timed_child(c["cmd"], 1800, busy)
            runs[i].append({"result": result, "conditions": conditions})
            compare.log(f"round {round_index + 1} B={c['batch']} {c['label']}: "
                        f"{result['decode_tokens_per_second']:.1f} tok/s (others {conditions['other_cpu_busy_during']:.0%})")

    rows = []
    for i, c in enumerate(cfgs):
        rs = [r["result"] for r in runs[i]]
        rows.append({
            "batch": c["batch"], "label": c["label"], "weights": c["weights"], "k": c.get("k"),
            "decode_tokens_per_second": compare.median([r["decode_tokens_per_second"] for r in rs]),
            "per_sequence": compare.median([r.get("decode_tokens_per_second_per_sequence") for r in rs]),
            "prefill_tokens_per_second": compare.median([r.get("prefill_tokens_per_second") for r in rs]),
            "kv_bytes_per_sequence": rs[-1].get("kv_bytes_per_sequence"),
            "tokens_per_macro_step": rs[-1].get("tokens_per_macro_step"),
            "peak_rss_mb": compare.median([r.get("peak_rss_mb") for r in rs]),
            "runs": [r["decode_tokens_per_second"] for r in rs],
        })
    report = {"machine": compare.machine(), "hamrun_commit": compare.hamrun_commit(),
              "date": time.strftime("%Y-%m-%d %H:%M %Z"), "args": {k: str(v) for k, v in vars(args).items()},
              "rows": rows}
    text = markdown(report)
    print(text)
    if args.markdown_out:
        args.markdown_out.parent.mkdir(parents=True, exist_ok=True)
        args.markdown_out.write_text(text)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=1))
    return 0


def markdown(report: dict) -> str:
    rows = report["rows"]
    lines = [f"Machine: {report['machine'].get('cpu', '?')}, {report['args']['threads']} threads; hamrun {report['hamrun_commit']}; "
             f"{report['date']}; prompt {report['args']['prompt_tokens']} tokens, {report['args']['gen_tokens']} generated per sequence; "
             f"medians of {report['args']['rounds']} alternating rounds.", "",
             "| B | configuration | decode tok/s (all) | per sequence | × llama.cpp same weights | KV MB per sequence |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        peer = next((p for p in rows if p["batch"] == r["batch"] and p["label"].startswith("llama.cpp")
                     and p["weights"] == ("f16" if r["weights"] == "bf16" else r["weights"])), None)
        ratio = "" if peer is None or r is peer or not peer["decode_tokens_per_second"] else \
            f"{r['decode_tokens_per_second'] / peer['decode_tokens_per_second']:.2f}"
        kv = "" if r["kv_bytes_per_sequence"] is None else f"{r['kv_bytes_per_sequence'] / 1e6:.1f}"
        lines.append(f"| {r['batch']} | {r['label']} | {compare.fmt(r['decode_tokens_per_second'])} | "
                     f"{compare.fmt(r['per_sequence'])} | {ratio} | {kv} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
