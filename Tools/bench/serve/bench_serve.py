#!/usr/bin/env python3
"""`hamrun serve` against llama.cpp's `llama-server` under load, in one run, with one command:

    python3 Tools/bench/serve/bench_serve.py --out out/serve-bench      # writes .md and .json
    python3 Tools/bench/serve/bench_serve.py --quick                    # smoke: embedded model, hamrun only

The load tool is GuideLLM (PyPI `guidellm`, pinned below, in its own venv
~/.cache/hamrun/venv-guidellm): it drives any OpenAI-compatible server with closed-loop
concurrency and Poisson-rate profiles, makes synthetic prompts of an exact token count with the
model's tokenizer, streams, and reports TTFT and ITL distributions per benchmark in JSON.

What runs (docs/PERFORMANCE.md, "Serving under load"):
  1. builds hamrun (release) and llama-server (Tools/bench/serve/build-llama-server: the llama.cpp
     vendored in the llama-cpp-python 0.3.36 sdist, cached in ~/.cache/hamrun/llama-server);
  2. the same GGUF F16 weights of the 1B bench shapes (Tools/bench/make_bench_model.py) in both
     servers, same slot count (--slots), same threads, f16 KV cache, continuous batching;
     hamrun serve also with the HAMburger model of the same base weights (bf16 directory);
  3. closed-loop concurrency 1, 4, 8, 16 and one Poisson run, every request --prompt-tokens in and
     exactly --output-tokens out (ignore_eos); every server is up for the whole run and each level
     runs on each server in turn, --rounds times (the order rotating), so the machine's drift
     falls on all of them alike;
  4. `hamrun bench` single-sequence decode once per round, for the concurrency-1 goal;
  5. the table, medians over the rounds: output tok/s, requests/s, TTFT p50/p99, ITL p50/p99,
     failures (summed); and the goals.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CACHE = Path(os.environ.get("HAMRUN_CACHE", Path.home() / ".cache" / "hamrun"))
GUIDELLM = "guidellm==0.8.1"


def run(cmd, **kw):
    print("+", " ".join(map(str, cmd)), file=sys.stderr)
    return subprocess.run(list(map(str, cmd)), check=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_guidellm(venv):
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import guidellm"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return venv / "bin" / "guidellm"
    # With the system's site packages: torch and transformers (which GuideLLM needs) come from there
    # rather than as a second, CUDA-sized copy.
    run([sys.executable, "-m", "venv", "--system-site-packages", venv])
    run([python, "-m", "pip", "install", "-q", GUIDELLM])
    return venv / "bin" / "guidellm"


def wait_health(url, proc, seconds=600):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url}/health never became 200")


class Served:
    """One server process for the benchmark runs."""

    def __init__(self, name, cmd, port, log, body=None):
        self.name, self.port, self.body = name, port, body
        self.url = f"http://127.0.0.1:{port}"
        print(f"starting {name}: {' '.join(map(str, cmd))}", file=sys.stderr)
        self.proc = subprocess.Popen(list(map(str, cmd)), stdout=log, stderr=subprocess.STDOUT)
        wait_health(self.url, self.proc)

    def model(self):
        with urllib.request.urlopen(self.url + "/v1/models") as r:
            return json.load(r)["data"][0]["id"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def summarize(report_path):
    """Rows from a GuideLLM JSON report, one per benchmark (load level). Throughput is over the
    whole benchmark: successful requests and their output tokens divided by its duration."""
    report = json.loads(Path(report_path).read_text())
    rows = []
    for bench in report["benchmarks"]:
        m = bench["metrics"]
        totals = m["request_totals"]
        ttft = m["time_to_first_token_ms"]["successful"]["percentiles"]
        itl = m["inter_token_latency_ms"]["successful"]["percentiles"]
        duration = bench["duration"]
        rows.append({
            "ok": totals["successful"], "failed": totals["errored"] + totals["incomplete"],
            "seconds": duration,
            "req_s": totals["successful"] / duration,
            "out_tok_s": m["output_token_count"]["successful"]["total_sum"] / duration,
            "ttft_p50": ttft["p50"], "ttft_p99": ttft["p99"], "itl_p50": itl["p50"], "itl_p99": itl["p99"],
            # The mean gap is decode time over decoded tokens (HAMburger's tokens of one macro step
            # arrive together, so the median gap says little about the rate).
            "itl_mean": m["inter_token_latency_ms"]["successful"]["mean"],
        })
    return rows


def guidellm_run(guidellm, server, tokenizer_dir, args, profile, out_json, requests):
    """One GuideLLM benchmark, described as a scenario file (GuideLLM 0.8's configuration)."""
    backend = {"kind": "openai_http", "target": server.url, "model": server.model(),
               "request_format": "/v1/completions", "timeout": 1800}
    if server.body:
        backend["extras"] = {"body": server.body}
    scenario = {"spec": {
        "backend": backend,
        "profile": profile,
        # Synthetic prompts of exactly prompt_tokens; output_tokens makes GuideLLM send max_tokens
        # with ignore_eos, so every request generates exactly that many.
        "data": [{"kind": "synthetic_text", "prompt_tokens": args.prompt_tokens, "output_tokens": args.output_tokens}],
        "constraints": [{"kind": "max_requests", "count": requests}],
        "tokenizer": {"kind": "huggingface_auto", "model": str(tokenizer_dir)},
        "seed": {"kind": "static", "value": 42},
        "outputs": [{"kind": "json", "path": str(out_json)}],
    }}
    config = out_json.with_suffix(".scenario.json")
    config.write_text(json.dumps(scenario, indent=1))
    run([guidellm, "run", "-c", config, "--disable-console-interactive"], stdout=subprocess.DEVNULL)
    return summarize(out_json)


def loads(args):
    """The load levels, in the order they run: (name, GuideLLM profile, requests)."""
    levels = [(f"concurrency {c}", {"kind": "concurrent", "streams": [c]}, max(args.requests, 2 * c)) for c in args.concurrency]
    levels.append((f"Poisson {args.poisson_rate} req/s", {"kind": "poisson", "rate": [args.poisson_rate]}, args.requests))
    return levels


def median_rows(runs, servers, levels):
    """One row per (server, load), in the order given, from every round's rows: the median of each
    measure, requests summed."""
    out = []
    for server, load in ((s, l) for s in servers for l in levels):
        mine = [r for r in runs if r["server"] == server and r["load"] == load]
        if not mine:
            continue
        row = {"server": server, "load": load, "rounds": len(mine),
               "ok": sum(r["ok"] for r in mine), "failed": sum(r["failed"] for r in mine)}
        for key in ("seconds", "req_s", "out_tok_s", "ttft_p50", "ttft_p99", "itl_p50", "itl_p99", "itl_mean"):
            row[key] = statistics.median(r[key] for r in mine)
        out.append(row)
    return out


def table(rows):
    lines = ["| server | load | ok | failed | req/s | output tok/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['server']} | {r['load']} | {r['ok']} | {r['failed']} | {r['req_s']:.2f} | {r['out_tok_s']:.1f} | "
                     f"{r['ttft_p50']:.0f} | {r['ttft_p99']:.0f} | {r['itl_p50']:.1f} | {r['itl_p99']:.1f} |")
    return "\n".join(lines)


def goals(rows, solo_decode):
    def row(server, load):
        return next((r for r in rows if r["server"] == server and r["load"] == load), None)

    out = []
    ours, theirs = row("hamrun", "concurrency 8"), row("llama-server", "concurrency 8")
    if ours and theirs:
        ratio = ours["out_tok_s"] / theirs["out_tok_s"]
        out.append(f"- concurrency 8: output tok/s {ratio:.2f}x llama-server's (goal >= 1.3x), TTFT p99 "
                   f"{ours['ttft_p99']:.0f} ms vs {theirs['ttft_p99']:.0f} ms (goal: no worse): "
                   f"{'met' if ratio >= 1.3 and ours['ttft_p99'] <= theirs['ttft_p99'] else 'not met'}")
    k4 = row("hamrun-hamburger-k4", "concurrency 8")
    if k4 and theirs:
        ratio = k4["out_tok_s"] / theirs["out_tok_s"]
        out.append(f"- concurrency 8, HAMburger at 4 tokens per macro step (random modules, confidence 0): output tok/s "
                   f"{ratio:.2f}x llama-server's, TTFT p99 {k4['ttft_p99']:.0f} ms vs {theirs['ttft_p99']:.0f} ms")
    solo = row("hamrun", "concurrency 1")
    if solo and solo_decode:
        # Per stream, decoding runs at 1000 / mean ITL tokens per second; `hamrun bench` decodes alone.
        per_stream = 1000 / solo["itl_mean"] if solo["itl_mean"] > 0 else 0
        gap = per_stream / solo_decode - 1
        out.append(f"- concurrency 1: {per_stream:.1f} decode tok/s (1000 / mean ITL) vs hamrun bench's "
                   f"{solo_decode:.1f} decode tok/s: {gap * 100:+.1f} % (goal: within 5 %): "
                   f"{'met' if abs(gap) <= 0.05 else 'not met'}")
    failed = sum(r["failed"] for r in rows)
    out.append(f"- failed requests at every load level: {failed} (goal: 0): {'met' if failed == 0 else 'not met'}")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "out" / "serve-bench", help="writes OUT.md and OUT.json")
    p.add_argument("--bench-dir", type=Path, default=CACHE / "bench-1b", help="make_bench_model.py's output")
    p.add_argument("--slots", type=int, default=8, help="sequences decoding together, both servers")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prompt-tokens", type=int, default=128)
    p.add_argument("--output-tokens", type=int, default=128)
    p.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8, 16])
    p.add_argument("--poisson-rate", type=float, default=0.5, help="requests per second of the Poisson run")
    p.add_argument("--requests", type=int, default=32, help="requests per load level (at least 2x the concurrency)")
    p.add_argument("--rounds", type=int, default=1, help="alternating rounds over every level and server; the table has medians")
    p.add_argument("--servers", default="hamrun,llama-server,hamrun-hamburger")
    p.add_argument("--prompt-cache", choices=["on", "off"], default="on",
                   help="both servers reuse cached prompt prefixes (llama-server's default; hamrun --prefix-cache) or neither "
                        "(llama-server --no-cache-prompt; hamrun's default). GuideLLM sends the same prompts at every level.")
    p.add_argument("--quick", action="store_true", help="smoke run: the embedded model, hamrun only, small loads")
    p.add_argument("--hamrun", type=Path, help="a hamrun binary to use (default: build the release one)")
    args = p.parse_args()
    if args.rounds < 1:
        p.error(f"--rounds is {args.rounds}; expected 1 or more")

    if args.quick:
        args.concurrency, args.requests, args.output_tokens, args.prompt_tokens = [1, 4], 8, 16, 16
    guidellm = ensure_guidellm(CACHE / "venv-guidellm")
    hamrun = args.hamrun
    if hamrun is None:
        run(["nice", "-n", "10", "swift", "build", "-c", "release", "--product", "hamrun"], cwd=REPO)
        hamrun = REPO / ".build" / "release" / "hamrun"
    work = Path(tempfile.mkdtemp(prefix="hamrun-serve-bench-"))
    log = open(work / "servers.log", "w")
    hamrun_flags = ["--parallel", args.slots, "--max-queue", 1024, "--threads", args.threads, "--kv-type", "f16",
                    "--max-tokens", args.output_tokens, "--timeout", 0] + (["--prefix-cache"] if args.prompt_cache == "on" else [])

    servers = []
    if args.quick:
        model = REPO / "Models" / "shakespeare-hamburger"
        servers.append(("hamrun", [hamrun, "serve", "--model", model, *hamrun_flags], model))
        solo_model = model
    else:
        gguf = args.bench_dir / "llama-1b-f16.gguf"
        hamburger = args.bench_dir / "hamburger-bf16"
        if not (args.bench_dir / "MANIFEST.json").exists():
            run([sys.executable, REPO / "Tools" / "bench" / "make_bench_model.py", "--out", args.bench_dir])
        wanted = args.servers.split(",")
        if "hamrun" in wanted:
            servers.append(("hamrun", [hamrun, "serve", "--model", gguf, *hamrun_flags], hamburger))
        if "llama-server" in wanted:
            llama = subprocess.run([HERE / "build-llama-server"], check=True, capture_output=True, text=True).stdout.strip()
            context = args.slots * (args.prompt_tokens + args.output_tokens + 64)
            servers.append(("llama-server", [llama, "-m", gguf, "--host", "127.0.0.1", "--port", "{port}",
                                             "-np", args.slots, "-c", context, "--kv-unified", "-cb", "-t", args.threads,
                                             "-tb", args.threads, "-ctk", "f16", "-ctv", "f16", "--no-warmup"]
                            + ([] if args.prompt_cache == "on" else ["--no-cache-prompt"]), hamburger))
        if "hamrun-hamburger" in wanted:
            servers.append(("hamrun-hamburger", [hamrun, "serve", "--model", hamburger, *hamrun_flags], hamburger))
        if "hamrun-hamburger-k4" in wanted:
            # Every macro step runs to max_steps (4 tokens): confidence 0 never lets the stop head end
            # one early. The modules are random, so this is HAMburger's machinery at 4 tokens per
            # base forward (what `hamrun bench --force-steps 4` measures), not a trained model's rate.
            servers.append(("hamrun-hamburger-k4", [hamrun, "serve", "--model", hamburger, *hamrun_flags], hamburger,
                            {"confidence": 0}))
        solo_model = gguf

    # Every server is up for the whole run and the load levels alternate between them (the order
    # rotating each round), so drift of the machine falls on all of them alike; idle servers use
    # no CPU. `hamrun bench` runs once per round too, for the concurrency-1 goal.
    started = []
    try:
        for name, cmd, tokenizer_dir, *body in servers:
            port = free_port()
            cmd = [str(c).replace("{port}", str(port)) for c in cmd]
            if name.startswith("hamrun"):
                cmd += ["--port", port]
            started.append((Served(name, cmd, port, log, body[0] if body else None), tokenizer_dir))
        runs, solos = [], []
        for round_ in range(args.rounds):
            for level, (load, profile, requests) in enumerate(loads(args)):
                shift = (round_ + level) % len(started)
                for server, tokenizer_dir in started[shift:] + started[:shift]:
                    out = work / f"{server.name}-r{round_}-l{level}.json"
                    for row in guidellm_run(guidellm, server, tokenizer_dir, args, profile, out, requests):
                        runs.append({"server": server.name, "load": load, "round": round_, **row})
            solo = json.loads(run([hamrun, "bench", "--model", solo_model, "--threads", args.threads, "--prompt-tokens",
                                   args.prompt_tokens, "--gen-tokens", args.output_tokens, "--runs", 3, "--json"]
                                  + ([] if args.quick else ["--mode", "base", "--kv-type", "f16"]),
                                  capture_output=True, text=True).stdout)
            solos.append(solo.get("decode_tokens_per_second") or solo.get("decode", {}).get("tokens_per_second"))
    finally:
        for server, _ in started:
            server.stop()
    rows = median_rows(runs, [server.name for server, _ in started], [load for load, _, _ in loads(args)])
    solo_decode = statistics.median(solos)

    header = (f"{len(servers)} servers, {args.slots} slots, {args.threads} threads, {args.prompt_tokens} prompt tokens, "
              f"exactly {args.output_tokens} output tokens (ignore_eos), {args.requests} requests per level, "
              f"{args.rounds} alternating round(s), medians, "
              f"prompt cache {args.prompt_cache}, "
              f"GuideLLM ({GUIDELLM}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    text = f"{header}\n\n{table(rows)}\n\nGoals:\n{goals(rows, solo_decode)}\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps({"header": header, "rows": rows, "runs": runs,
                                                         "hamrun_bench_decode": solos}, indent=1))
    print(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
