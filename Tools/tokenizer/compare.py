#!/usr/bin/env python3
"""Compare `hamrun tokenize/detokenize` with Hugging Face tokenizers on many texts.

    python3 Tools/tokenizer/compare.py [--hamrun .build/release/hamrun] [--random 20000]

Encodes random Unicode (see textgen.py), slices of Shakespeare, of Python sources, of the
tokenizer.json files themselves, and long single-piece texts with both, with
add_special_tokens=True, and decodes reference ids and random id sequences (which split
UTF-8 characters) with both. Prints every mismatch (up to a limit) and exits 1 if any.
"""

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

from tokenizers import Tokenizer

import corpus
import textgen

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures"


def run_hamrun(hamrun: str, command: str, tokenizer: Path, lines: list[str]) -> list[str]:
    proc = subprocess.run([hamrun, command, "--tokenizer", str(tokenizer), "--jsonl"],
                          input="".join(line + "\n" for line in lines).encode(),
                          capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"hamrun {command} failed: {proc.stderr.decode(errors='replace').strip()}")
    out = proc.stdout.decode().split("\n")
    if out and out[-1] == "":
        out.pop()
    if len(out) != len(lines):
        raise SystemExit(f"hamrun {command}: {len(lines)} lines in, {len(out)} out")
    return out


def every_scalar() -> list[str]:
    """Each code point in contexts that reveal its class (letter, number, whitespace, other)."""
    out = []
    for v in range(0x110000):
        if 0xD800 <= v < 0xE000:
            continue
        c = chr(v)
        out.append(f"a{c}b {c}1{c}{c}!{c}  {c}\n{c}'{c}{c}x")
    return out


def texts_for(rng: random.Random, random_count: int, tokenizer_path: Path) -> dict[str, list[str]]:
    shakespeare = corpus.shakespeare_text()
    code = textgen.source_code_text()
    json_text = tokenizer_path.read_text(encoding="utf-8")
    lines = shakespeare.split("\n")
    return {
        "random unicode": [textgen.random_text(rng) for _ in range(random_count)],
        "random unicode, long": [textgen.random_text(rng, 400) for _ in range(random_count // 20)],
        "shakespeare slices": textgen.slices(shakespeare, rng, 3000, 3000),
        "shakespeare lines": rng.sample(lines, min(5000, len(lines))),
        "python source slices": textgen.slices(code, rng, 3000, 4000),
        "tokenizer.json slices": textgen.slices(json_text, rng, 1000, 2000),
        "long single pieces": textgen.long_texts(rng),
    }


def show_ids(tok: Tokenizer, ids: list[int]) -> str:
    return " ".join(f"{i}:{tok.id_to_token(i)!r}" for i in ids)


def compare_encode(hamrun, tok_path, tok, name, texts, limit) -> int:
    want = [e.ids for e in tok.encode_batch(texts, add_special_tokens=True)]
    got = [json.loads(line) for line in run_hamrun(hamrun, "tokenize", tok_path, [json.dumps(t) for t in texts])]
    bad = 0
    for text, w, g in zip(texts, want, got):
        if w == g:
            continue
        bad += 1
        if bad <= limit:
            k = next((i for i, (a, b) in enumerate(zip(w, g)) if a != b), min(len(w), len(g)))
            print(f"  MISMATCH ({name}) text={text[:200]!r}")
            print(f"    at id {k}: hf   {show_ids(tok, w[max(0, k - 2):k + 4])}")
            print(f"    at id {k}: ours {show_ids(tok, g[max(0, k - 2):k + 4])}")
    return bad


def compare_decode(hamrun, tok_path, tok, name, id_lists, limit) -> int:
    want = [tok.decode(ids, skip_special_tokens=False) for ids in id_lists]
    got = [json.loads(line) for line in run_hamrun(hamrun, "detokenize", tok_path, [json.dumps(ids) for ids in id_lists])]
    bad = 0
    for ids, w, g in zip(id_lists, want, got):
        if w != g:
            bad += 1
            if bad <= limit:
                print(f"  MISMATCH ({name}) ids={ids[:30]} hf={w[:100]!r} ours={g[:100]!r}")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hamrun", default=str(ROOT / ".build" / "release" / "hamrun"))
    ap.add_argument("--tokenizer", action="append", type=Path,
                    help="tokenizer.json to test (default: both fixtures)")
    ap.add_argument("--random", type=int, default=20000, help="random Unicode texts per tokenizer")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--all-scalars", action="store_true",
                    help="also encode every Unicode scalar in several contexts (slow: 1.1M texts)")
    ap.add_argument("--show", type=int, default=10, help="mismatches to print per text set")
    args = ap.parse_args()
    paths = args.tokenizer or [FIXTURES / "llama3-tokenizer" / "tokenizer.json",
                               FIXTURES / "tiny-tokenizer" / "tokenizer.json"]
    total_bad = total = 0
    for path in paths:
        tok = Tokenizer.from_file(str(path))
        rng = random.Random(args.seed)
        print(f"{path}:")
        sets = texts_for(rng, args.random, path)
        if args.all_scalars:
            sets["every scalar"] = every_scalar()
        for name, texts in sets.items():
            bad = compare_encode(args.hamrun, path, tok, name, texts, args.show)
            print(f"  encode {name}: {len(texts) - bad}/{len(texts)} identical")
            total += len(texts)
            total_bad += bad
        vocab = tok.get_vocab_size(with_added_tokens=True)
        sample = [e.ids for e in tok.encode_batch(textgen.slices(corpus.shakespeare_text(), rng, 500, 500))]
        random_ids = [[rng.randrange(vocab) for _ in range(rng.randrange(0, 40))] for _ in range(5000)]
        for name, lists in [("reference ids", sample), ("random ids", random_ids)]:
            bad = compare_decode(args.hamrun, path, tok, name, lists, args.show)
            print(f"  decode {name}: {len(lists) - bad}/{len(lists)} identical")
            total += len(lists)
            total_bad += bad
    print(f"{total - total_bad} passed, {total_bad} failed")
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main())
